package okx

// Fake is an OKX v5 that speaks the public protocol this package uses on
// loopback, over the shared synthetic market and fault knobs of
// exchangetest: trades-all only on /ws/v5/business, tickers and books only
// on /ws/v5/public (as OKX refuses channels on the wrong endpoint), books
// chained by prevSeqId/seqId (the sim's sequence) with a keep-alive update
// (seqId equal to prevSeqId) now and then, the checksum 0 as OKX sends
// since 2026-06-23 (or, with Checksums, the real CRC32), text ping/pong,
// and the REST instruments, trades and history-trades endpoints. Its
// events carry the exchange name SyntheticName.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// FakeConfig configures a Fake; zero values take defaults (Symbols:
// DefaultFakeSymbols).
type FakeConfig struct {
	exchangetest.FakeConfig
	// Checksums makes book messages carry the real checksum, as OKX did
	// before 2026-06-23, and honours Faults.CorruptBook; by default the
	// checksum is 0.
	Checksums bool
	// KeepAliveEvery sends, every that many ticks, an empty book update
	// with seqId equal to prevSeqId before the tick's change (OKX sends one
	// after a minute without change). Default 25; negative: never.
	KeepAliveEvery int
}

// DefaultFakeSymbols are two markets with OKX's tick and lot sizes.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTC-USDT", Base: "BTC", Quote: "USDT", StartPrice: "97010.1", PriceScale: 1, SizeScale: 8},
	{Venue: "ETH-USDT", Base: "ETH", Quote: "USDT", StartPrice: "3399.01", PriceScale: 2, SizeScale: 6},
}

// Fake is a running fake OKX.
type Fake struct {
	*exchangetest.Base
	cfg   FakeConfig
	ticks int64 // guarded by the sim lock
	conns atomic.Int64
}

var _ exchangetest.Fake = (*Fake)(nil)

type connState struct {
	business bool
	id       string
}

// NewFake starts a fake OKX on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(cfg.FakeConfig, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	if cfg.KeepAliveEvery == 0 {
		cfg.KeepAliveEvery = 25
	}
	f := &Fake{Base: b, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PublicPath, func(w http.ResponseWriter, r *http.Request) { f.serveWS(w, r, false) })
	mux.HandleFunc("GET "+BusinessPath, func(w http.ResponseWriter, r *http.Request) { f.serveWS(w, r, true) })
	mux.HandleFunc("GET /api/v5/public/instruments", f.rest(f.serveInstruments))
	mux.HandleFunc("GET /api/v5/market/trades", f.rest(f.serveTrades))
	mux.HandleFunc("GET /api/v5/market/history-trades", f.rest(f.serveHistory))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr(), RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

// AnnounceRollOver implements exchangetest.Fake: OKX's notice 64008 ("the
// connection will soon be closed for a service upgrade") on every
// connection.
func (f *Fake) AnnounceRollOver() bool {
	f.Hub().Each(func(c *exchangetest.Conn) {
		c.Send([]byte(`{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}`))
	})
	return true
}

func push(channel, inst string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"arg": map[string]string{"channel": channel, "instId": inst}, "data": data})
	return b
}

func bookJSON(inst, action string, bids, asks []exchangetest.SimLevel, prev, seq, ms int64, sum int32) []byte {
	lv := func(ls []exchangetest.SimLevel) [][]string {
		out := make([][]string, len(ls))
		for i, l := range ls {
			out[i] = []string{l.Price.String(), l.Quantity.String(), "0", "1"}
		}
		return out
	}
	b, _ := json.Marshal(map[string]any{"arg": map[string]string{"channel": "books", "instId": inst}, "action": action,
		"data": []map[string]any{{"asks": lv(asks), "bids": lv(bids), "ts": strconv.FormatInt(ms, 10), "checksum": sum, "prevSeqId": prev, "seqId": seq}}})
	return b
}

func tradeJSON(t exchangetest.SimTrade) map[string]any {
	return map[string]any{"instId": t.Symbol, "tradeId": strconv.FormatInt(t.ID, 10), "px": t.Price.String(), "sz": t.Quantity.String(),
		"side": map[market.Side]string{market.SideBuy: "buy", market.SideSell: "sell"}[t.Side], "source": "0", "ts": strconv.FormatInt(t.TimeMs, 10)}
}

func toLevels(ls []exchangetest.SimLevel) []market.Level {
	out := make([]market.Level, len(ls))
	for i, l := range ls {
		out[i] = market.Level{Price: l.Price, Quantity: l.Quantity}
	}
	return out
}

// sum is the checksum a book message carries; the sim lock is held.
func (f *Fake) sum(sym string) int32 {
	if !f.cfg.Checksums {
		return 0
	}
	b := f.Sim().BookLocked(sym)
	return int32(Checksum(toLevels(b.Bids), toLevels(b.Asks)))
}

func (f *Fake) tickerJSON(sym string) map[string]any {
	t := f.Sim().TickerLocked(sym)
	return map[string]any{"instType": "SPOT", "instId": sym, "last": t.Last.String(), "lastSz": "1", "askPx": t.BestAsk.String(), "askSz": t.BestAskSize.String(),
		"bidPx": t.BestBid.String(), "bidSz": t.BestBidSize.String(), "open24h": t.Open.String(), "high24h": t.High.String(), "low24h": t.Low.String(),
		"volCcy24h": t.QuoteVolume.String(), "vol24h": t.Volume.String(), "sodUtc0": t.Open.String(), "sodUtc8": t.Open.String(),
		"ts": strconv.FormatInt(time.Now().UnixMilli(), 10)}
}

func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	corrupt := f.cfg.Checksums && f.Faults().TakeBookCorruption()
	f.ticks++
	keepAlive := f.cfg.KeepAliveEvery > 0 && f.ticks%int64(f.cfg.KeepAliveEvery) == 0
	f.Hub().Each(func(c *exchangetest.Conn) {
		st, _ := c.State.(*connState)
		if st == nil {
			return
		}
		for _, s := range steps {
			if st.business {
				if c.Subs["trades-all/"+s.Symbol] {
					for _, t := range s.Trades {
						c.Send(push("trades-all", s.Symbol, []any{tradeJSON(t)}))
					}
				}
				continue
			}
			if c.Subs["books/"+s.Symbol] {
				if keepAlive {
					c.Send(bookJSON(s.Symbol, "update", nil, nil, s.Seq-1, s.Seq-1, s.TimeMs, f.sumAt(s.Symbol, s.Seq-1)))
				}
				if !skip {
					bids, sum := s.Bids, f.sum(s.Symbol)
					if corrupt {
						bids = spoil(bids)
					}
					c.Send(bookJSON(s.Symbol, "update", bids, s.Asks, s.Seq-1, s.Seq, s.TimeMs, sum))
				}
			}
			if (len(s.Trades) > 0 || s.Ticker) && c.Subs["tickers/"+s.Symbol] {
				c.Send(push("tickers", s.Symbol, []any{f.tickerJSON(s.Symbol)}))
			}
		}
	})
}

// sumAt is the checksum of a keep-alive (the book before this tick's
// change): with Checksums on, it must be the previous book's, which the
// sim no longer holds, so a keep-alive carries 0 ("none") then too.
func (f *Fake) sumAt(string, int64) int32 { return 0 }

// spoil makes one level's size wrong (one step more), keeping the true
// book's checksum: what a checksum exists to catch.
func spoil(ls []exchangetest.SimLevel) []exchangetest.SimLevel {
	out := append([]exchangetest.SimLevel(nil), ls...)
	for i, l := range out {
		c, ok := l.Quantity.Int64()
		if ok && c > 0 {
			out[i].Quantity = market.NewDecimal(c+1, l.Quantity.Scale)
			return out
		}
	}
	return append(out, exchangetest.SimLevel{Price: market.NewDecimal(1, 0), Quantity: market.NewDecimal(1, 0)})
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request, business bool) {
	c, ok := f.Hub().Accept(w, r)
	if !ok {
		return
	}
	defer f.Hub().Release(c)
	id := fmt.Sprintf("%08x", f.conns.Add(1))
	f.Sim().Locked(func() { c.State = &connState{business: business, id: id} })
	for {
		raw, err := c.Read()
		if err != nil {
			return
		}
		if string(raw) == "ping" {
			c.Send([]byte("pong"))
			continue
		}
		var req struct {
			ID   string `json:"id"`
			Op   string `json:"op"`
			Args []struct {
				Channel string `json:"channel"`
				InstID  string `json:"instId"`
			} `json:"args"`
		}
		f.Sim().Locked(func() {
			if json.Unmarshal(raw, &req) != nil || (req.Op != "subscribe" && req.Op != "unsubscribe") || len(req.Args) == 0 {
				c.Send(errorEvent(req.ID, "60012", "Invalid request: "+string(raw), id))
				return
			}
			for _, a := range req.Args {
				f.subscribe(c, business, req.Op, req.ID, a.Channel, a.InstID)
			}
		})
	}
}

func errorEvent(reqID, code, msg, connID string) []byte {
	m := map[string]any{"event": "error", "code": code, "msg": msg, "connId": connID}
	if reqID != "" {
		m["id"] = reqID
	}
	b, _ := json.Marshal(m)
	return b
}

// subscribe handles one (un)subscribe argument; the sim lock is held.
func (f *Fake) subscribe(c *exchangetest.Conn, business bool, op, reqID, channel, inst string) {
	st := c.State.(*connState)
	_, known := f.Sim().Symbol(inst)
	rightURL := (channel == "trades-all") == business
	if !known || !rightURL || (channel != "trades-all" && channel != "tickers" && channel != "books") {
		c.Send(errorEvent(reqID, "60018", fmt.Sprintf("Wrong URL or channel:%s,instId:%s doesn't exist. Please use the correct URL, channel and parameters referring to API document.", channel, inst), st.id))
		return
	}
	on := op == "subscribe"
	c.Subs[channel+"/"+inst] = on
	m := map[string]any{"event": op, "arg": map[string]string{"channel": channel, "instId": inst}, "connId": st.id}
	if reqID != "" {
		m["id"] = reqID
	}
	b, _ := json.Marshal(m)
	c.Send(b)
	if !on {
		return
	}
	switch channel {
	case "books":
		bk := f.Sim().BookLocked(inst)
		c.Send(bookJSON(inst, "snapshot", bk.Bids, bk.Asks, -1, bk.Seq, time.Now().UnixMilli(), f.sum(inst)))
	case "tickers":
		c.Send(push("tickers", inst, []any{f.tickerJSON(inst)}))
	}
}

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	n := 0
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		tr := func(id, px, sz, side string) []byte {
			return []byte(`{"arg":{"channel":"trades-all","instId":"` + sym + `"},"data":[{"instId":"` + sym + `","tradeId":"` + id + `","px":"` + px +
				`","sz":"` + sz + `","side":"` + side + `","source":"0","ts":"1630048897897"}]}`)
		}
		bad := [][]byte{
			[]byte(`{"arg":{"channel":"trades-all","instId":"` + sym + `"},"data":[`),
			[]byte(`{"arg":{"channel":"mystery","instId":"` + sym + `"},"data":[]}`),
			tr("1", "1e5", "1", "buy"),
			tr("1", "123456789012345678901234567890123456789", "1", "buy"),
			tr("1", "10", "1", "sideways"),
			tr("1", "10", "-1", "buy"),
			tr("x1", "10", "1", "buy"),
			[]byte(`{"arg":{"channel":"tickers","instId":"` + sym + `"},"data":[{"instType":"SPOT","instId":"` + sym + `","last":"10","lastSz":"1","askPx":"10","askSz":"1","bidPx":"11","bidSz":"1","open24h":"9","high24h":"11","low24h":"9","volCcy24h":"1","vol24h":"1","ts":"1597026383085"}]}`),
			[]byte(`{"arg":{"channel":"books","instId":"` + sym + `"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026383085","checksum":99999999999,"prevSeqId":1,"seqId":2}]}`),
			errorEvent("", "60018", "Wrong URL or channel:books,instId:DOGE-XYZ doesn't exist.", "a4d3ae55"),
		}
		f.Hub().Each(func(c *exchangetest.Conn) {
			st, _ := c.State.(*connState)
			if st == nil {
				return
			}
			if st.business {
				if ts := f.Sim().TradesLocked(sym); len(ts) > 0 && c.Subs["trades-all/"+sym] { // a repeated trade: a duplicate
					c.Send(push("trades-all", sym, []any{tradeJSON(ts[len(ts)-1])}))
				}
				return
			}
			for _, b := range bad {
				c.Send(b)
			}
			n = len(bad)
		})
	})
	return n
}

func errorBody(status int) string {
	if status == http.StatusTooManyRequests {
		return `{"code":"50011","msg":"Too Many Requests","data":[]}`
	}
	return `{"code":"50001","msg":"Service temporarily unavailable. Please try again later.","data":[]}`
}

func (f *Fake) rest(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !f.Faults().REST(w, errorBody) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		h(w, r)
	}
}

func answer(w http.ResponseWriter, data any) {
	json.NewEncoder(w).Encode(map[string]any{"code": "0", "msg": "", "data": data})
}

func (f *Fake) serveInstruments(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("instType") != "SPOT" {
		w.Write([]byte(`{"code":"51000","msg":"Parameter instType error","data":[]}`))
		return
	}
	var out []map[string]any
	for _, s := range f.Sim().Symbols() {
		out = append(out, map[string]any{"instType": "SPOT", "instId": s.Venue, "baseCcy": s.Base, "quoteCcy": s.Quote, "state": "live",
			"tickSz": market.NewDecimal(1, uint8(s.PriceScale)).String(), "lotSz": market.NewDecimal(1, uint8(s.SizeScale)).String(), "minSz": "0.00001"})
	}
	answer(w, out)
}

// history returns the trades REST can still see (Faults.LimitHistory);
// the sim lock is held.
func (f *Fake) history(inst string) []exchangetest.SimTrade {
	ts := f.Sim().TradesLocked(inst)
	if h := f.Faults().History(); h > 0 && len(ts) > h {
		ts = ts[len(ts)-h:]
	}
	return ts
}

// trades answers up to limit trades with ids below before (0: none),
// newest first.
func (f *Fake) trades(w http.ResponseWriter, inst string, limit int, before int64) {
	if _, ok := f.Sim().Symbol(inst); !ok {
		w.Write([]byte(`{"code":"51001","msg":"Instrument ID doesn't exist.","data":[]}`))
		return
	}
	out := []map[string]any{}
	f.Sim().Locked(func() {
		ts := f.history(inst)
		for i := len(ts) - 1; i >= 0 && len(out) < limit; i-- {
			if before > 0 && ts[i].ID >= before {
				continue
			}
			out = append(out, tradeJSON(ts[i]))
		}
	})
	answer(w, out)
}

func limitOf(r *http.Request, def, most int) int {
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		return min(n, most)
	}
	return def
}

func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	f.trades(w, r.URL.Query().Get("instId"), limitOf(r, 100, MaxRecentTrades), 0)
}

func (f *Fake) serveHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if t := q.Get("type"); t != "" && t != "1" {
		w.Write([]byte(`{"code":"51000","msg":"the fake pages by trade id only (type=1)","data":[]}`))
		return
	}
	var after int64
	if a := q.Get("after"); a != "" {
		var err error
		if after, err = strconv.ParseInt(a, 10, 64); err != nil {
			w.Write([]byte(`{"code":"51000","msg":"Parameter after error","data":[]}`))
			return
		}
	}
	f.trades(w, q.Get("instId"), limitOf(r, 100, MaxHistoryTrades), after)
}
