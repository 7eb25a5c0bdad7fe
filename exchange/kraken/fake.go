package kraken

// Fake is a Kraken WebSocket v2 and REST that speaks the public protocol
// this package uses on loopback, over the shared synthetic market and
// fault knobs of exchangetest: prices and quantities as JSON numbers
// (trailing zeros dropped, as Kraken's are), the instrument channel with
// the pairs' precisions, book messages carrying the CRC32 checksum of the
// top 10 levels and, as Kraken does, no removal for levels that fall out of
// the subscribed depth (the client truncates), heartbeats every second,
// AssetPairs and Trades with since. Its events carry the exchange name
// SyntheticName.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// FakeConfig configures a Fake; zero values take defaults.
type FakeConfig struct {
	Seed    uint64
	Symbols []exchangetest.SimSymbol // default BTC/USD and ETH/USD
	Tick    time.Duration            // default 50ms
	// MaxTradesPerTick per symbol (0..n at random). Default 3.
	MaxTradesPerTick int
	// FirstTradeID is one less than each symbol's first trade id; default
	// the clock in milliseconds, so a restarted fake repeats no id.
	FirstTradeID int64
	// Heartbeat is the period of heartbeat frames, sent whether or not the
	// market moves (Kraken: about one a second). Default 1s.
	Heartbeat time.Duration
	// OnTrade, if set, is called for every trade made, with the exact time
	// (see exchangetest.SimConfig.OnTrade).
	OnTrade func(venueSymbol string, id int64, made time.Time)
}

// DefaultFakeSymbols are two markets with Kraken's precisions.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTC/USD", Base: "BTC", Quote: "USD", StartPrice: "97010.0", PriceScale: 1, SizeScale: 8},
	{Venue: "ETH/USD", Base: "ETH", Quote: "USD", StartPrice: "3399.00", PriceScale: 2, SizeScale: 8},
}

// Fake is a running fake Kraken.
type Fake struct {
	*exchangetest.Base
	stop  chan struct{} // ends the heartbeats
	beats chan struct{} // closed when they ended
}

var _ exchangetest.Fake = (*Fake)(nil)

// NewFake starts a fake Kraken on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(exchangetest.FakeConfig{Seed: cfg.Seed, Symbols: cfg.Symbols, Tick: cfg.Tick, MaxTradesPerTick: cfg.MaxTradesPerTick,
		FirstTradeID: cfg.FirstTradeID, BookDepth: 10, OnTrade: cfg.OnTrade}, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = time.Second
	}
	f := &Fake{Base: b, stop: make(chan struct{}), beats: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", f.serveWS)
	mux.HandleFunc("GET /0/public/AssetPairs", f.rest(f.serveAssetPairs))
	mux.HandleFunc("GET /0/public/Trades", f.rest(f.serveTrades))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	go f.heartbeats(cfg.Heartbeat)
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr() + "/v2", RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

// Close stops the heartbeats, the market and the server.
func (f *Fake) Close() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	<-f.beats
	f.Base.Close()
}

// AnnounceRollOver implements exchangetest.Fake: Kraken announces no end
// of a connection.
func (f *Fake) AnnounceRollOver() bool { return false }

// num is a decimal as a JSON number with trailing zeros dropped, as
// Kraken writes them.
func num(d market.Decimal) json.Number { return json.Number(exchangetest.Canon(d)) }

func rfcMicro(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000000Z") }

func frameJSON(channel, typ string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"channel": channel, "type": typ, "data": data})
	return b
}

func tradeJSON(t exchangetest.SimTrade) map[string]any {
	side := "buy"
	if t.Side == market.SideSell {
		side = "sell"
	}
	return map[string]any{"symbol": t.Symbol, "side": side, "price": num(t.Price), "qty": num(t.Quantity), "ord_type": "market",
		"trade_id": t.ID, "timestamp": rfcMicro(t.TimeMs)}
}

func levelsJSON(ls []exchangetest.SimLevel) []map[string]any {
	out := make([]map[string]any, len(ls))
	for i, l := range ls {
		out[i] = map[string]any{"price": num(l.Price), "qty": num(l.Quantity)}
	}
	return out
}

func toLevels(ls []exchangetest.SimLevel) []market.Level {
	out := make([]market.Level, len(ls))
	for i, l := range ls {
		out[i] = market.Level{Price: l.Price, Quantity: l.Quantity}
	}
	return out
}

// bookSum is the checksum of the sim's current book; the lock is held.
func (f *Fake) bookSum(sym string) uint32 {
	b := f.Sim().BookLocked(sym)
	return Checksum(toLevels(b.Bids), toLevels(b.Asks))
}

// inScope drops the removals of levels worse than the side's worst level
// now (Kraken sends none for levels falling out of the subscribed depth;
// the sim's book is exactly that deep).
func inScope(changes []exchangetest.SimLevel, side []exchangetest.SimLevel, bids bool) []exchangetest.SimLevel {
	if len(side) == 0 {
		return changes
	}
	worst := side[len(side)-1].Price
	var out []exchangetest.SimLevel
	for _, c := range changes {
		c := c
		if c.Quantity.IsZero() && ((bids && c.Price.Cmp(worst) < 0) || (!bids && c.Price.Cmp(worst) > 0)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (f *Fake) tickerJSON(sym string) map[string]any {
	t := f.Sim().TickerLocked(sym)
	ss, _ := f.Sim().Symbol(sym)
	change, _ := market.DecimalFromRat(new(big.Rat).Sub(t.Last.Rat(), t.Open.Rat()))
	pct, _ := market.RoundRat(new(big.Rat).Mul(new(big.Rat).Quo(change.Rat(), t.Open.Rat()), big.NewRat(100, 1)), 2)
	vwap := t.Last
	if !t.Volume.IsZero() {
		vwap, _ = market.RoundRat(new(big.Rat).Quo(t.QuoteVolume.Rat(), t.Volume.Rat()), uint8(ss.PriceScale))
	}
	return map[string]any{"symbol": sym, "bid": num(t.BestBid), "bid_qty": num(t.BestBidSize), "ask": num(t.BestAsk), "ask_qty": num(t.BestAskSize),
		"last": num(t.Last), "volume": num(t.Volume), "vwap": num(vwap), "low": num(t.Low), "high": num(t.High), "change": num(change), "change_pct": num(pct)}
}

func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	corrupt := f.Faults().TakeBookCorruption()
	f.Hub().Each(func(c *exchangetest.Conn) {
		for _, st := range steps {
			if len(st.Trades) > 0 && c.Subs["trade/"+st.Symbol] {
				ts := make([]map[string]any, len(st.Trades))
				for i, t := range st.Trades {
					ts[i] = tradeJSON(t)
				}
				c.Send(frameJSON("trade", "update", ts))
			}
			if c.Subs["book/"+st.Symbol] && !skip {
				b := f.Sim().BookLocked(st.Symbol)
				bids, asks := inScope(st.Bids, b.Bids, true), inScope(st.Asks, b.Asks, false)
				sum := f.bookSum(st.Symbol)
				if corrupt {
					bids, sum = spoil(bids, sum)
				}
				c.Send(frameJSON("book", "update", []map[string]any{{"symbol": st.Symbol, "bids": levelsJSON(bids), "asks": levelsJSON(asks),
					"checksum": sum, "timestamp": rfcMicro(st.TimeMs)}}))
			}
			if (len(st.Trades) > 0 || st.Ticker) && c.Subs["ticker/"+st.Symbol] {
				c.Send(frameJSON("ticker", "update", []any{f.tickerJSON(st.Symbol)}))
			}
		}
	})
}

// heartbeats sends a heartbeat to every subscribed connection each period,
// also while the market is paused (Kraken's are sent when idle).
func (f *Fake) heartbeats(every time.Duration) {
	defer close(f.beats)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.Hub().Each(func(c *exchangetest.Conn) {
			subscribed := false
			f.Sim().Locked(func() { subscribed = len(c.Subs) > 0 })
			if subscribed {
				c.Send([]byte(`{"channel":"heartbeat"}`))
			}
		})
	}
}

// spoil makes one level's quantity wrong (one step more), or the checksum
// wrong when no level has a quantity.
func spoil(ls []exchangetest.SimLevel, sum uint32) ([]exchangetest.SimLevel, uint32) {
	out := append([]exchangetest.SimLevel(nil), ls...)
	for i, l := range out {
		if !l.Quantity.IsZero() {
			q, _ := market.DecimalFromRat(new(big.Rat).Add(l.Quantity.Rat(), market.NewDecimal(1, l.Quantity.Scale).Rat()))
			out[i].Quantity, _ = Rescale(q, int(l.Quantity.Scale))
			return out, sum
		}
	}
	return out, ^sum
}

func ack(method string, reqID int64, result map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"method": method, "req_id": reqID, "result": result, "success": true,
		"time_in": time.Now().UTC().Format(time.RFC3339Nano), "time_out": time.Now().UTC().Format(time.RFC3339Nano)})
	return b
}

func refusal(method string, reqID int64, msg, sym string) []byte {
	m := map[string]any{"method": method, "req_id": reqID, "success": false, "error": msg}
	if sym != "" {
		m["symbol"] = sym
	}
	b, _ := json.Marshal(m)
	return b
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request) {
	c, ok := f.Hub().Accept(w, r)
	if !ok {
		return
	}
	defer f.Hub().Release(c)
	c.Send([]byte(`{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.10"}]}`))
	for {
		raw, err := c.Read()
		if err != nil {
			return
		}
		var req struct {
			Method string `json:"method"`
			ReqID  int64  `json:"req_id"`
			Params struct {
				Channel  string   `json:"channel"`
				Symbol   []string `json:"symbol"`
				Depth    int      `json:"depth"`
				Snapshot *bool    `json:"snapshot"`
			} `json:"params"`
		}
		f.Sim().Locked(func() {
			if json.Unmarshal(raw, &req) != nil {
				c.Send(refusal("", 0, "EGeneral:Invalid arguments", ""))
				return
			}
			switch req.Method {
			case "ping":
				c.Send(ack("pong", req.ReqID, nil))
			case "subscribe", "unsubscribe":
				p := req.Params
				f.subscribe(c, req.Method, req.ReqID, p.Channel, p.Symbol, p.Depth, p.Snapshot == nil || *p.Snapshot)
			default:
				c.Send(refusal(req.Method, req.ReqID, "EGeneral:Invalid arguments: method", ""))
			}
		})
	}
}

// subscribe handles one (un)subscribe; the sim lock is held.
func (f *Fake) subscribe(c *exchangetest.Conn, method string, reqID int64, channel string, syms []string, depth int, snapshot bool) {
	on := method == "subscribe"
	switch channel {
	case "instrument":
		c.Subs["instrument"] = on
		c.Send(ack(method, reqID, map[string]any{"channel": "instrument", "snapshot": snapshot}))
		if on && snapshot {
			var pairs []map[string]any
			for _, s := range f.Sim().Symbols() {
				pairs = append(pairs, map[string]any{"symbol": s.Venue, "base": s.Base, "quote": s.Quote, "status": "online",
					"price_precision": s.PriceScale, "qty_precision": s.SizeScale,
					"price_increment": num(market.NewDecimal(1, uint8(s.PriceScale))), "qty_increment": num(market.NewDecimal(1, uint8(s.SizeScale)))})
			}
			c.Send(frameJSON("instrument", "snapshot", map[string]any{"assets": []any{}, "pairs": pairs}))
		}
		return
	case "trade", "ticker", "book":
	default:
		c.Send(refusal(method, reqID, "EGeneral:Invalid arguments: channel "+channel, ""))
		return
	}
	if channel == "book" && on && depth != 10 {
		c.Send(refusal(method, reqID, fmt.Sprintf("EGeneral:Invalid arguments: the fake serves depth 10, not %d", depth), ""))
		return
	}
	for _, s := range syms {
		if _, ok := f.Sim().Symbol(s); !ok {
			c.Send(refusal(method, reqID, "Currency pair not supported "+s, s))
			continue
		}
		c.Subs[channel+"/"+s] = on
		res := map[string]any{"channel": channel, "symbol": s}
		if channel == "book" {
			res["depth"] = 10
		}
		c.Send(ack(method, reqID, res))
		if !on {
			continue
		}
		switch channel {
		case "book":
			b := f.Sim().BookLocked(s)
			c.Send(frameJSON("book", "snapshot", []map[string]any{{"symbol": s, "bids": levelsJSON(b.Bids), "asks": levelsJSON(b.Asks), "checksum": f.bookSum(s)}}))
		case "ticker":
			c.Send(frameJSON("ticker", "snapshot", []any{f.tickerJSON(s)}))
		case "trade":
			if snapshot {
				ts := f.Sim().TradesLocked(s)
				var snap []map[string]any
				for i := max(len(ts)-50, 0); i < len(ts); i++ {
					snap = append(snap, tradeJSON(ts[i]))
				}
				c.Send(frameJSON("trade", "snapshot", snap))
			}
		}
	}
}

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	n := 0
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		tr := func(price, qty, side string) []byte {
			return []byte(`{"channel":"trade","type":"update","data":[{"symbol":"` + sym + `","side":"` + side + `","price":` + price +
				`,"qty":` + qty + `,"ord_type":"limit","trade_id":1,"timestamp":"2026-01-01T00:00:00.000000Z"}]}`)
		}
		bad := [][]byte{
			[]byte(`{"channel":"trade","type":"update","data":[`),
			[]byte(`{"channel":"mystery","type":"update","data":[]}`),
			tr("1e5", "1", "buy"),
			tr("123456789012345678901234567890123456789", "1", "buy"),
			tr("10", "1", "sideways"),
			tr("10", "-1", "buy"),
			tr("10.123456789", "1", "buy"), // beyond the pair's precision
			[]byte(`{"channel":"book","type":"update","data":[{"symbol":"` + sym + `","bids":[{"price":"x","qty":1}],"asks":[],"checksum":1}]}`),
			[]byte(`{"channel":"book","type":"update","data":[{"symbol":"` + sym + `","bids":[],"asks":[],"checksum":-1}]}`),
			[]byte(`{"channel":"ticker","type":"update","data":[{"symbol":"` + sym + `","bid":11,"bid_qty":1,"ask":10,"ask_qty":1,"last":10}]}`),
			refusal("subscribe", 99, "Currency pair not supported DOGE/XYZ", "DOGE/XYZ"),
		}
		f.Hub().Each(func(c *exchangetest.Conn) {
			if ts := f.Sim().TradesLocked(sym); len(ts) > 0 { // a repeated trade: a duplicate
				c.Send(frameJSON("trade", "update", []map[string]any{tradeJSON(ts[len(ts)-1])}))
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
		return `{"error":["EGeneral:Too many requests"]}`
	}
	return `{"error":["EService:Unavailable"]}`
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

// restAsset is Kraken's REST spelling of an asset (BTC is XBT).
func restAsset(a string) string {
	if a == "BTC" {
		return "XBT"
	}
	return a
}

func (f *Fake) serveAssetPairs(w http.ResponseWriter, r *http.Request) {
	res := map[string]any{}
	for _, s := range f.Sim().Symbols() {
		b, q := restAsset(s.Base), restAsset(s.Quote)
		res["X"+b+"Z"+q] = map[string]any{"altname": b + q, "wsname": b + "/" + q, "base": "X" + b, "quote": "Z" + q,
			"pair_decimals": s.PriceScale, "lot_decimals": s.SizeScale, "status": "online"}
	}
	json.NewEncoder(w).Encode(map[string]any{"error": []string{}, "result": res})
}

// serveTrades answers up to count trades after since (nanoseconds),
// oldest first, or the most recent count without since.
func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pairName := q.Get("pair")
	var sym exchangetest.SimSymbol
	found := false
	for _, s := range f.Sim().Symbols() {
		b, qu := restAsset(s.Base), restAsset(s.Quote)
		if pairName == b+qu || pairName == "X"+b+"Z"+qu {
			sym, found = s, true
		}
	}
	if !found {
		w.Write([]byte(`{"error":["EQuery:Unknown asset pair"]}`))
		return
	}
	count := MaxTradesLimit
	if n, err := strconv.Atoi(q.Get("count")); err == nil && n > 0 {
		count = min(n, MaxTradesLimit)
	}
	since, hasSince := int64(0), q.Get("since") != ""
	if hasSince {
		since, _ = strconv.ParseInt(q.Get("since"), 10, 64)
	}
	var rows []any
	last := "0"
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(sym.Venue)
		start := max(len(ts)-count, 0)
		if hasSince {
			start = len(ts)
			for i, t := range ts {
				if t.TimeMs*1e6 > since {
					start = i
					break
				}
			}
		}
		for i := start; i < len(ts) && len(rows) < count; i++ {
			t := ts[i]
			side := "b"
			if t.Side == market.SideSell {
				side = "s"
			}
			rows = append(rows, []any{t.Price.String(), t.Quantity.String(), json.Number(fmt.Sprintf("%d.%06d", t.TimeMs/1000, t.TimeMs%1000*1000)), side, "l", "", t.ID})
			last = strconv.FormatInt(t.TimeMs*1e6, 10)
		}
	})
	if rows == nil {
		rows = []any{}
	}
	b, qu := restAsset(sym.Base), restAsset(sym.Quote)
	json.NewEncoder(w).Encode(map[string]any{"error": []string{}, "result": map[string]any{"X" + b + "Z" + qu: rows, "last": last}})
}

var _ = strings.Cut
