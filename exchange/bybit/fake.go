package bybit

// Fake is a Bybit v5 spot that speaks the public protocol this package
// uses (the spot WebSocket and the REST endpoints) on loopback, over the
// shared synthetic market and fault knobs of exchangetest. Prices and sizes
// are strings at the market's scale, as Bybit writes them. Its events carry
// the exchange name SyntheticName.

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// FakeConfig configures a Fake; zero values take defaults (Symbols:
// DefaultFakeSymbols; BookDepth 50, the depth the fake serves).
type FakeConfig = exchangetest.FakeConfig

// DefaultFakeSymbols are two markets with Bybit-like scales.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTCUSDT", Base: "BTC", Quote: "USDT", StartPrice: "96990.1", PriceScale: 1, SizeScale: 6},
	{Venue: "ETHUSDT", Base: "ETH", Quote: "USDT", StartPrice: "3401.05", PriceScale: 2, SizeScale: 5},
}

// fakeDepth is the only book depth the fake serves.
const fakeDepth = 50

// Fake is a running fake Bybit.
type Fake struct {
	*exchangetest.Base
	mu    sync.Mutex
	uBase map[string]int64 // u = sim sequence - uBase (Restart sets it so that u starts at 1)
}

var _ exchangetest.Fake = (*Fake)(nil)

// NewFake starts a fake Bybit on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	if cfg.BookDepth == 0 {
		cfg.BookDepth = fakeDepth
	}
	b, err := exchangetest.NewBase(cfg, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	f := &Fake{Base: b, uBase: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v5/public/spot", f.serveWS)
	mux.HandleFunc("GET /v5/market/instruments-info", f.rest(f.serveInstruments))
	mux.HandleFunc("GET /v5/market/recent-trade", f.rest(f.serveTrades))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr() + "/v5/public/spot", RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

func marshal(v any) []byte { b, _ := json.Marshal(v); return b }

func tradeJSON(t exchangetest.SimTrade, seq int64) map[string]any {
	side := "Buy"
	if t.Side == market.SideSell {
		side = "Sell"
	}
	return map[string]any{"T": t.TimeMs, "s": t.Symbol, "S": side, "v": t.Quantity.String(), "p": t.Price.String(),
		"i": strconv.FormatInt(t.ID, 10), "BT": false, "RPI": false, "seq": seq}
}

func levelsJSON(ls []exchangetest.SimLevel) [][2]string {
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{l.Price.String(), l.Quantity.String()}
	}
	return out
}

func bookJSON(topic, typ, sym string, u, seq, ms int64, bids, asks []exchangetest.SimLevel) []byte {
	return marshal(map[string]any{"topic": topic, "ts": ms + 2, "type": typ, "data": map[string]any{"s": sym, "b": levelsJSON(bids),
		"a": levelsJSON(asks), "u": u, "seq": seq}, "cts": ms})
}

// top is a side's best level, as a level-1 book side.
func top(ls []exchangetest.SimLevel) []exchangetest.SimLevel { return ls[:min(len(ls), 1)] }

// u is the book's update id of a sim sequence.
func (f *Fake) u(sym string, seq int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return seq - f.uBase[sym]
}

// emit sends each step: its trades (at most 1024 a message), the depth
// delta and the level-1 snapshot, both with the step's cross sequence.
//
// SkipBook loses depth deltas on every open connection, the way Bybit's
// depth topics can lose one: no id shows it. What shows it is the level-1
// snapshot of the same seq (the session's cross-check) when the best
// levels differ, or a crossed book. So that the loss is one the protocol
// can reveal (a lost delta that changed sizes deep in the book would stay
// invisible on Bybit too, and the fake does not pretend otherwise), the
// connection keeps losing its deltas until a tick in which the next delta
// leaves the best levels of every symbol it subscribed wrong; that delta
// is sent, and the loss is visible at once for all of them.
func (f *Fake) emit(steps []exchangetest.SimStep) {
	if f.Faults().TakeBookSkip() {
		f.Hub().Each(func(c *exchangetest.Conn) { connState(c).losing = true })
	}
	type frames struct {
		trades     [][]byte
		delta, bbo []byte
		topic      string
	}
	out := make([]frames, len(steps))
	for i, st := range steps {
		seq := st.Seq * 10 // the cross sequence: increasing, not consecutive
		for ch := range slices.Chunk(st.Trades, MaxTradesPerMessage) {
			ts := make([]map[string]any, len(ch))
			for j, t := range ch {
				ts[j] = tradeJSON(t, seq)
			}
			out[i].trades = append(out[i].trades, marshal(map[string]any{"topic": "publicTrade." + st.Symbol, "type": "snapshot", "ts": st.TimeMs + 1, "data": ts}))
		}
		out[i].topic = "orderbook." + strconv.Itoa(fakeDepth) + "." + st.Symbol
		out[i].delta = bookJSON(out[i].topic, "delta", st.Symbol, f.u(st.Symbol, st.Seq), seq, st.TimeMs, st.Bids, st.Asks)
		b := f.Sim().BookLocked(st.Symbol)
		out[i].bbo = bookJSON("orderbook.1."+st.Symbol, "snapshot", st.Symbol, f.u(st.Symbol, st.Seq), seq, st.TimeMs, top(b.Bids), top(b.Asks))
	}
	f.Hub().Each(func(c *exchangetest.Conn) {
		cs := connState(c)
		send := true
		if cs.losing {
			for i, st := range steps {
				if m := cs.books[st.Symbol]; c.Subs[out[i].topic] && m != nil && !m.exposedBy(st, f.Sim().BookLocked(st.Symbol)) {
					send = false
				}
			}
			cs.losing = !send
		}
		for i, st := range steps {
			for _, tr := range out[i].trades {
				if c.Subs["publicTrade."+st.Symbol] {
					c.Send(tr)
				}
			}
			if c.Subs[out[i].topic] && send {
				if m := cs.books[st.Symbol]; m != nil {
					m.apply(st.Bids, st.Asks)
				}
				c.Send(out[i].delta)
			}
			if c.Subs["orderbook.1."+st.Symbol] {
				c.Send(out[i].bbo)
			}
		}
	})
}

// fakeConn is what the fake keeps of a connection (guarded by the sim's
// lock): the depth book each symbol's subscriber holds, as sent, and
// whether a SkipBook is losing its deltas.
type fakeConn struct {
	books  map[string]*sentBook
	losing bool
}

func connState(c *exchangetest.Conn) *fakeConn {
	if cs, ok := c.State.(*fakeConn); ok {
		return cs
	}
	cs := &fakeConn{books: map[string]*sentBook{}}
	c.State = cs
	return cs
}

// sentBook is a book as the messages sent make it, by canonical price.
type sentBook struct {
	bids, asks map[string]exchangetest.SimLevel
}

func newSentBook(b exchangetest.SimBook) *sentBook {
	m := &sentBook{bids: map[string]exchangetest.SimLevel{}, asks: map[string]exchangetest.SimLevel{}}
	m.apply(b.Bids, b.Asks)
	return m
}

func (m *sentBook) apply(bids, asks []exchangetest.SimLevel) {
	for _, side := range []struct {
		m  map[string]exchangetest.SimLevel
		ls []exchangetest.SimLevel
	}{{m.bids, bids}, {m.asks, asks}} {
		for _, l := range side.ls {
			if l.Quantity.IsZero() {
				delete(side.m, exchangetest.Canon(l.Price))
			} else {
				side.m[exchangetest.Canon(l.Price)] = l
			}
		}
	}
}

func best(m map[string]exchangetest.SimLevel, bids bool) (exchangetest.SimLevel, bool) {
	var b exchangetest.SimLevel
	found := false
	for _, l := range m {
		if !found || (bids && l.Price.Cmp(b.Price) > 0) || (!bids && l.Price.Cmp(b.Price) < 0) {
			b, found = l, true
		}
	}
	return b, found
}

// exposedBy reports whether sending st's delta leaves this book's best
// levels different from the truth's (or crossed).
func (m *sentBook) exposedBy(st exchangetest.SimStep, truth exchangetest.SimBook) bool {
	next := &sentBook{bids: maps.Clone(m.bids), asks: maps.Clone(m.asks)}
	next.apply(st.Bids, st.Asks)
	bb, okb := best(next.bids, true)
	ba, oka := best(next.asks, false)
	if okb && oka && bb.Price.Cmp(ba.Price) >= 0 {
		return true
	}
	same := func(l exchangetest.SimLevel, ok bool, side []exchangetest.SimLevel) bool {
		if len(side) == 0 || !ok {
			return len(side) == 0 && !ok
		}
		return l.Price.Equal(side[0].Price) && l.Quantity.Equal(side[0].Quantity)
	}
	return !same(bb, okb, truth.Bids) || !same(ba, oka, truth.Asks)
}

func (f *Fake) broadcast(topic string, frame []byte) {
	f.Hub().Each(func(c *exchangetest.Conn) {
		if c.Subs[topic] {
			c.Send(frame)
		}
	})
}

func answer(op, reqID string, ok bool, msg string) []byte {
	return marshal(map[string]any{"success": ok, "ret_msg": msg, "conn_id": "fake-conn", "req_id": reqID, "op": op})
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request) {
	c, ok := f.Hub().Accept(w, r)
	if !ok {
		return
	}
	defer f.Hub().Release(c)
	for {
		raw, err := c.Read()
		if err != nil {
			return
		}
		var req struct {
			ReqID string   `json:"req_id"`
			Op    string   `json:"op"`
			Args  []string `json:"args"`
		}
		f.Sim().Locked(func() {
			if json.Unmarshal(raw, &req) != nil {
				c.Send(answer("", "", false, "error:request not json"))
				return
			}
			switch req.Op {
			case "ping":
				c.Send(answer("ping", req.ReqID, true, "pong"))
			case "subscribe", "unsubscribe":
				f.subscribe(c, req.Op, req.ReqID, req.Args)
			default:
				c.Send(answer(req.Op, req.ReqID, false, "error:handler not found"))
			}
		})
	}
}

// subscribe handles one (un)subscribe; the sim lock is held. A request is
// answered once for all its args; subscribing a book sends its snapshot.
func (f *Fake) subscribe(c *exchangetest.Conn, op, reqID string, args []string) {
	if len(args) > 10 { // Bybit spot's limit, written out: the connector's MaxArgsPerRequest is what is tested
		c.Send(answer(op, reqID, false, "error:args size >10"))
		return
	}
	for _, a := range args {
		if _, ok := f.topicSymbol(a); !ok {
			c.Send(answer(op, reqID, false, "Invalid symbol :["+a+"]"))
			return
		}
	}
	on := op == "subscribe"
	c.Send(answer(op, reqID, true, op))
	for _, a := range args {
		c.Subs[a] = on
		sym, _ := f.topicSymbol(a)
		if !on || !strings.HasPrefix(a, "orderbook.") {
			continue
		}
		b := f.Sim().BookLocked(sym)
		ms := f.Sim().Config().Tick.Milliseconds() // a harmless time before any step's
		if ts := f.Sim().TradesLocked(sym); len(ts) > 0 {
			ms = ts[len(ts)-1].TimeMs
		}
		bids, asks := b.Bids, b.Asks
		if strings.HasPrefix(a, "orderbook.1.") {
			bids, asks = top(bids), top(asks)
		}
		if !strings.HasPrefix(a, "orderbook.1.") {
			connState(c).books[sym] = newSentBook(b)
		}
		c.Send(bookJSON(a, "snapshot", sym, f.u(sym, b.Seq), b.Seq*10, ms, bids, asks))
	}
}

// topicSymbol returns the symbol of a topic the fake serves.
func (f *Fake) topicSymbol(topic string) (string, bool) {
	var sym string
	switch {
	case strings.HasPrefix(topic, "publicTrade."):
		sym = strings.TrimPrefix(topic, "publicTrade.")
	case strings.HasPrefix(topic, "orderbook.1."):
		sym = strings.TrimPrefix(topic, "orderbook.1.")
	case strings.HasPrefix(topic, "orderbook."+strconv.Itoa(fakeDepth)+"."):
		sym = strings.TrimPrefix(topic, "orderbook."+strconv.Itoa(fakeDepth)+".")
	default:
		return "", false
	}
	_, ok := f.Sim().Symbol(sym)
	return sym, ok
}

// Restart models Bybit restarting its book service: every subscribed book
// gets a snapshot with u=1, and update ids count on from there.
func (f *Fake) Restart() {
	f.Sim().Locked(func() {
		for _, s := range f.Sim().Symbols() {
			b := f.Sim().BookLocked(s.Venue)
			f.mu.Lock()
			f.uBase[s.Venue] = b.Seq - 1
			f.mu.Unlock()
			topic := "orderbook." + strconv.Itoa(fakeDepth) + "." + s.Venue
			ms := int64(0)
			if ts := f.Sim().TradesLocked(s.Venue); len(ts) > 0 {
				ms = ts[len(ts)-1].TimeMs
			}
			// type delta on purpose: u=1 alone must make it a snapshot.
			f.broadcast(topic, bookJSON(topic, "delta", s.Venue, 1, b.Seq*10, max(ms, 1), b.Bids, b.Asks))
			f.Hub().Each(func(c *exchangetest.Conn) {
				if c.Subs[topic] {
					connState(c).books[s.Venue] = newSentBook(b)
				}
			})
		}
	})
}

// AnnounceRollOver implements exchangetest.Fake: Bybit announces nothing.
func (f *Fake) AnnounceRollOver() bool { return false }

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	n := 0
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		tr := func(fields string) string {
			return `{"topic":"publicTrade.` + sym + `","type":"snapshot","ts":1700000000001,"data":[{` + fields + `}]}`
		}
		ok := `"T":1700000000000,"s":"` + sym + `","v":"0.001","i":"7","BT":false`
		bad := []string{
			`{"topic":"publicTrade.` + sym + `","type":"snapshot","data":[`,
			`[1,2,3]`,
			`{"topic":"kline.1.` + sym + `","type":"snapshot","ts":1,"data":[]}`,
			`{"topic":"publicTrade.NOPEUSDT","type":"snapshot","ts":1,"data":[]}`,
			tr(ok + `,"S":"Buy","p":"1e5"`),
			tr(ok + `,"S":"Buy","p":"123456789012345678901234567890123456789"`),
			tr(ok + `,"S":"Buy","p":-1`),
			tr(ok + `,"S":"Sideways","p":"10"`),
			tr(`"T":1700000000000,"s":"` + sym + `","v":"0.001","S":"Buy","p":"10"`), // no id
			`{"topic":"orderbook.50.` + sym + `","type":"delta","ts":1,"data":{"s":"` + sym + `","b":[["x","1"]],"a":[],"u":5,"seq":1},"cts":1}`,
			`{"topic":"orderbook.50.` + sym + `","type":"partial","ts":1,"data":{"s":"` + sym + `","b":[],"a":[],"u":5,"seq":1},"cts":1}`,
			`{"topic":"orderbook.1.` + sym + `","type":"snapshot","ts":1,"data":{"s":"` + sym + `","b":[["101.0","1"]],"a":[["100.0","1"]],"u":5,"seq":1},"cts":1}`,
		}
		harmless := []string{string(answer("subscribe", "99", true, "subscribe"))}
		if ts := f.Sim().TradesLocked(sym); len(ts) > 0 { // a repeated trade: a duplicate
			t := ts[len(ts)-1]
			harmless = append(harmless, string(marshal(map[string]any{"topic": "publicTrade." + sym, "type": "snapshot", "ts": t.TimeMs, "data": []any{tradeJSON(t, 0)}})))
		}
		b := f.Sim().BookLocked(sym)
		topic := "orderbook." + strconv.Itoa(fakeDepth) + "." + sym
		harmless = append(harmless, string(bookJSON(topic, "delta", sym, f.u(sym, b.Seq), b.Seq*10, 1<<50, nil, nil))) // a repeated id
		f.Hub().Each(func(c *exchangetest.Conn) {
			for _, s := range append(bad, harmless...) {
				c.Send([]byte(s))
			}
		})
		n = len(bad)
	})
	return n
}

func errorBody(status int) string {
	if status == http.StatusTooManyRequests || status == 418 || status == http.StatusForbidden {
		return `{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1700000000000}`
	}
	return `{"retCode":10016,"retMsg":"Server error.","result":{},"retExtInfo":{},"time":1700000000000}`
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

func envelope(w http.ResponseWriter, result any) {
	json.NewEncoder(w).Encode(map[string]any{"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": map[string]any{}, "time": 1700000000000})
}

func (f *Fake) serveInstruments(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("category") != "spot" {
		w.Write([]byte(`{"retCode":10001,"retMsg":"params error: category","result":{},"retExtInfo":{},"time":1700000000000}`))
		return
	}
	var list []map[string]any
	for i, s := range f.Sim().Symbols() {
		list = append(list, map[string]any{"symbolId": i + 1, "symbol": s.Venue, "baseCoin": s.Base, "quoteCoin": s.Quote, "innovation": "0", "status": "Trading",
			"marginTrading": "none", "stTag": "0", "symbolType": "",
			"lotSizeFilter": map[string]any{"basePrecision": market.NewDecimal(1, uint8(s.SizeScale)).String(), "quotePrecision": "0.00000001",
				"minOrderQty": market.NewDecimal(1, uint8(s.SizeScale)).String(), "maxOrderQty": "100", "minOrderAmt": "5", "maxOrderAmt": "8000000"},
			"priceFilter": map[string]any{"tickSize": market.NewDecimal(1, uint8(s.PriceScale)).String()}})
	}
	envelope(w, map[string]any{"category": "spot", "list": list})
}

// serveTrades answers the most recent trades, newest first, at most 60
// (fewer under LimitHistory).
func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sym := q.Get("symbol")
	if _, ok := f.Sim().Symbol(sym); !ok || q.Get("category") != "spot" {
		w.Write([]byte(`{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"retExtInfo":{},"time":1700000000000}`))
		return
	}
	limit := MaxTradesLimit
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, MaxTradesLimit)
	}
	list := []map[string]any{}
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(sym)
		start := max(0, len(ts)-limit)
		if h := f.Faults().History(); h > 0 {
			start = max(start, len(ts)-h)
		}
		for i := len(ts) - 1; i >= start; i-- {
			t := ts[i]
			side := "Buy"
			if t.Side == market.SideSell {
				side = "Sell"
			}
			list = append(list, map[string]any{"execId": strconv.FormatInt(t.ID, 10), "symbol": sym, "price": t.Price.String(), "size": t.Quantity.String(),
				"side": side, "time": strconv.FormatInt(t.TimeMs, 10), "isBlockTrade": false, "isRPITrade": false, "seq": strconv.FormatInt(t.ID, 10)})
		}
	})
	envelope(w, map[string]any{"category": "spot", "list": list})
}
