package binance

// Fake is a Binance spot that speaks the public protocol this package uses
// (the combined stream and the REST endpoints) on loopback, over the shared
// synthetic market and fault knobs of exchangetest. Prices and quantities
// are written with 8 decimals, as Binance does. Its events carry the
// exchange name SyntheticName.

import (
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// FakeConfig configures a Fake; zero values take defaults (Symbols:
// DefaultFakeSymbols).
type FakeConfig = exchangetest.FakeConfig

// DefaultFakeSymbols are two markets with Binance-like scales.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTCUSDT", Base: "BTC", Quote: "USDT", StartPrice: "96990.00", PriceScale: 2, SizeScale: 5},
	{Venue: "ETHUSDT", Base: "ETH", Quote: "USDT", StartPrice: "3401.00", PriceScale: 2, SizeScale: 4},
}

// Fake is a running fake Binance.
type Fake struct {
	*exchangetest.Base
	wmu    sync.Mutex
	weight int64
	wmin   int64
}

var _ exchangetest.Fake = (*Fake)(nil)

// NewFake starts a fake Binance on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(cfg, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	f := &Fake{Base: b}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", f.serveWS)
	mux.HandleFunc("GET /api/v3/exchangeInfo", f.rest(1, f.serveExchangeInfo))
	mux.HandleFunc("GET /api/v3/depth", f.rest(50, f.serveDepth))
	mux.HandleFunc("GET /api/v3/trades", f.rest(25, f.serveTrades))
	mux.HandleFunc("GET /api/v3/historicalTrades", f.rest(25, f.serveTrades))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr(), RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

// f8 writes a decimal with 8 fractional digits, as Binance does.
func f8(d market.Decimal) string {
	s := d.String()
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return s + ".00000000"
	}
	return s + strings.Repeat("0", max(0, 8-(len(s)-i-1)))
}

func wrap(stream string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"stream": stream, "data": data})
	return b
}

func tradeData(t exchangetest.SimTrade) map[string]any {
	return map[string]any{"e": "trade", "E": t.TimeMs + 1, "s": t.Symbol, "t": t.ID, "p": f8(t.Price), "q": f8(t.Quantity),
		"T": t.TimeMs, "m": t.Side == market.SideSell, "M": true}
}

func fakeLevels(ls []exchangetest.SimLevel) [][2]string {
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{f8(l.Price), f8(l.Quantity)}
	}
	return out
}

func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	for _, st := range steps {
		l := strings.ToLower(st.Symbol)
		for _, t := range st.Trades {
			f.broadcast("trade", st.Symbol, wrap(l+"@trade", tradeData(t)))
		}
		if !skip {
			f.broadcast("depth", st.Symbol, wrap(l+"@depth@100ms", map[string]any{"e": "depthUpdate", "E": st.TimeMs, "s": st.Symbol,
				"U": st.Seq, "u": st.Seq, "b": fakeLevels(st.Bids), "a": fakeLevels(st.Asks)}))
		}
		tk := f.Sim().TickerLocked(st.Symbol)
		f.broadcast("bookTicker", st.Symbol, wrap(l+"@bookTicker", map[string]any{"u": st.Seq, "s": st.Symbol,
			"b": f8(tk.BestBid), "B": f8(tk.BestBidSize), "a": f8(tk.BestAsk), "A": f8(tk.BestAskSize)}))
		if st.Ticker {
			pct, _ := market.DecimalFromRat(new(big.Rat).Mul(tk.Change.Rat(), big.NewRat(100, 1)))
			f.broadcast("ticker", st.Symbol, wrap(l+"@ticker", map[string]any{"e": "24hrTicker", "E": st.TimeMs, "s": st.Symbol,
				"p": "0", "P": pct.String(), "w": f8(tk.Last), "x": f8(tk.Open), "c": f8(tk.Last), "Q": "0", "b": f8(tk.BestBid), "B": f8(tk.BestBidSize),
				"a": f8(tk.BestAsk), "A": f8(tk.BestAskSize), "o": f8(tk.Open), "h": f8(tk.High), "l": f8(tk.Low), "v": f8(tk.Volume),
				"q": f8(tk.QuoteVolume), "O": tk.StartMs, "C": st.TimeMs, "F": 0, "L": tk.LastTradeID, "n": tk.Count}))
		}
	}
}

func (f *Fake) broadcast(channel, symbol string, frame []byte) {
	f.Hub().Each(func(c *exchangetest.Conn) {
		if c.Subs[channel+"/"+symbol] {
			c.Send(frame)
		}
	})
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request) {
	streams := strings.Split(r.URL.Query().Get("streams"), "/")
	subs := map[string]bool{}
	for _, s := range streams {
		sym, kind, ok := strings.Cut(s, "@")
		if !ok {
			http.Error(w, `{"code":-1121,"msg":"Invalid symbol."}`, http.StatusBadRequest)
			return
		}
		if _, known := f.Sim().Symbol(strings.ToUpper(sym)); !known {
			http.Error(w, `{"code":-1121,"msg":"Invalid symbol."}`, http.StatusBadRequest)
			return
		}
		subs[strings.TrimSuffix(kind, "@100ms")+"/"+strings.ToUpper(sym)] = true
	}
	c, ok := f.Hub().Accept(w, r)
	if !ok {
		return
	}
	defer f.Hub().Release(c)
	f.Sim().Locked(func() { c.Subs = subs })
	for {
		if _, err := c.Read(); err != nil {
			return
		}
		// Market-data clients send nothing we need to answer (pings are
		// control frames, answered by the library).
	}
}

// AnnounceRollOver implements exchangetest.Fake: every connection gets
// serverShutdown, and is closed a second later (Binance: 10 minutes).
func (f *Fake) AnnounceRollOver() bool {
	msg, _ := json.Marshal(map[string]any{"e": "serverShutdown", "E": time.Now().UnixMilli()})
	var conns []*exchangetest.Conn
	f.Hub().Each(func(c *exchangetest.Conn) { c.Send(msg); conns = append(conns, c) })
	time.AfterFunc(time.Second, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return true
}

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	var bad, harmless []string
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		l := strings.ToLower(sym)
		tr := func(p, q string) string {
			return `{"stream":"` + l + `@trade","data":{"e":"trade","E":1700000000001,"s":"` + sym + `","t":5,"p":"` + p + `","q":"` + q + `","T":1700000000000,"m":true,"M":true}}`
		}
		bad = []string{
			`{"stream":"` + l + `@trade","data":{"e":"trade"`,
			`[1,2,3]`,
			`{"stream":"` + l + `@kline_1m","data":{"e":"kline","s":"` + sym + `"}}`,
			`{"stream":"` + l + `@trade","data":{"s":"` + sym + `"}}`,
			tr("1e5", "1"),
			tr("123456789012345678901234567890123456789", "1"),
			tr("-1", "1"),
			tr("10", "NaN"),
			`{"stream":"` + l + `@trade","data":{"e":"trade","E":1,"s":"` + sym + `","p":"1","q":"1","T":1,"m":true}}`,
			`{"stream":"` + l + `@trade","data":{"e":"trade","E":1,"s":"NOPEUSDT","t":1,"p":"1","q":"1","T":1,"m":true}}`,
			`{"stream":"` + l + `@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"` + sym + `","U":9,"u":5,"b":[],"a":[]}}`,
			`{"stream":"` + l + `@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"` + sym + `","U":1,"u":2,"b":[["x","1"]],"a":[]}}`,
			`{"stream":"` + l + `@bookTicker","data":{"u":1,"s":"` + sym + `","b":"101.0","B":"1","a":"100.0","A":"1"}}`,
			`{"code":-1121,"msg":"Invalid symbol."}`,
		}
		if ts := f.Sim().TradesLocked(sym); len(ts) > 0 {
			harmless = append(harmless, string(wrap(l+"@trade", tradeData(ts[len(ts)-1]))))
		}
		b := f.Sim().BookLocked(sym)
		harmless = append(harmless, string(wrap(l+"@depth@100ms", map[string]any{"e": "depthUpdate", "E": 1, "s": sym, "U": b.Seq - 1, "u": b.Seq - 1, "b": [][2]string{}, "a": [][2]string{}})))
		f.Hub().Each(func(c *exchangetest.Conn) {
			for _, s := range append(bad, harmless...) {
				c.Send([]byte(s))
			}
		})
	})
	return len(bad)
}

func errorBody(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return `{"code":-1003,"msg":"Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."}`
	case 418:
		return `{"code":-1003,"msg":"Way too many requests; IP(127.0.0.1) banned until 1700000000000."}`
	}
	return `{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}`
}

// rest wraps a handler with the fault knobs and the weight header.
func (f *Fake) rest(weight int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.wmu.Lock()
		if m := time.Now().Unix() / 60; m != f.wmin {
			f.wmin, f.weight = m, 0
		}
		f.weight += weight
		w.Header().Set("X-MBX-USED-WEIGHT-1M", strconv.FormatInt(f.weight, 10))
		f.wmu.Unlock()
		if !f.Faults().REST(w, errorBody) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		h(w, r)
	}
}

func (f *Fake) serveExchangeInfo(w http.ResponseWriter, r *http.Request) {
	var syms []map[string]any
	for _, s := range f.Sim().Symbols() {
		syms = append(syms, map[string]any{"symbol": s.Venue, "status": "TRADING", "baseAsset": s.Base, "quoteAsset": s.Quote,
			"baseAssetPrecision": 8, "quotePrecision": 8, "filters": []map[string]any{
				{"filterType": "PRICE_FILTER", "minPrice": f8(market.NewDecimal(1, uint8(s.PriceScale))), "maxPrice": "1000000.00000000", "tickSize": f8(market.NewDecimal(1, uint8(s.PriceScale)))},
				{"filterType": "LOT_SIZE", "minQty": f8(market.NewDecimal(1, uint8(s.SizeScale))), "maxQty": "9000.00000000", "stepSize": f8(market.NewDecimal(1, uint8(s.SizeScale)))},
			}})
	}
	json.NewEncoder(w).Encode(map[string]any{"timezone": "UTC", "serverTime": time.Now().UnixMilli(), "symbols": syms})
}

func badSymbol(w http.ResponseWriter) {
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(`{"code":-1121,"msg":"Invalid symbol."}`))
}

func (f *Fake) serveDepth(w http.ResponseWriter, r *http.Request) {
	sym := r.URL.Query().Get("symbol")
	if _, ok := f.Sim().Symbol(sym); !ok {
		badSymbol(w)
		return
	}
	var b exchangetest.SimBook
	f.Sim().Locked(func() { b = f.Sim().BookLocked(sym) })
	json.NewEncoder(w).Encode(map[string]any{"lastUpdateId": b.Seq, "bids": fakeLevels(b.Bids), "asks": fakeLevels(b.Asks)})
}

// serveTrades answers /api/v3/trades (the most recent, which LimitHistory
// shortens) and /api/v3/historicalTrades (from fromId, complete).
func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sym := q.Get("symbol")
	if _, ok := f.Sim().Symbol(sym); !ok {
		badSymbol(w)
		return
	}
	limit := 500
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, MaxTradesLimit)
	}
	out := []map[string]any{}
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(sym)
		start := max(0, len(ts)-limit)
		if h := f.Faults().History(); h > 0 && !strings.HasSuffix(r.URL.Path, "historicalTrades") {
			start = max(start, len(ts)-h)
		}
		if from, err := strconv.ParseInt(q.Get("fromId"), 10, 64); err == nil {
			start = len(ts)
			for i, t := range ts {
				if t.ID >= from {
					start = i
					break
				}
			}
		}
		for _, t := range ts[start:min(len(ts), start+limit)] {
			out = append(out, map[string]any{"id": t.ID, "price": f8(t.Price), "qty": f8(t.Quantity), "quoteQty": f8(t.QuoteQty),
				"time": t.TimeMs, "isBuyerMaker": t.Side == market.SideSell, "isBestMatch": true})
		}
	})
	json.NewEncoder(w).Encode(out)
}
