package bitstamp

// Fake is a Bitstamp that speaks the public protocol this package uses
// (WebSocket v2 channels live_trades, diff_order_book and order_book, and
// the REST endpoints trading-pairs-info, order_book and transactions) on
// loopback, over the shared synthetic market and fault knobs of
// exchangetest. Like Bitstamp it sends each trade's amount and price twice:
// as exact text and as a JSON float written with 17 significant digits
// (0.014140160000000001), which a parser must not use. Its events carry
// the exchange name SyntheticName.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// FakeConfig configures a Fake; zero values take defaults (Symbols:
// DefaultFakeSymbols).
type FakeConfig = exchangetest.FakeConfig

// DefaultFakeSymbols are two pairs with Bitstamp's decimals (btcusd:
// counter 0, base 8; ethusd: counter 1, base 8).
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "btcusd", Base: "BTC", Quote: "USD", StartPrice: "97005", PriceScale: 0, SizeScale: 8},
	{Venue: "ethusd", Base: "ETH", Quote: "USD", StartPrice: "3400.5", PriceScale: 1, SizeScale: 8},
}

// Fake is a running fake Bitstamp.
type Fake struct {
	*exchangetest.Base
	// bookUs is each pair's book microtimestamp: strictly increasing, the
	// time of the last diff (guarded by the Sim's lock).
	bookUs map[string]int64
}

var _ exchangetest.Fake = (*Fake)(nil)

// NewFake starts a fake Bitstamp on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(cfg, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	f := &Fake{Base: b, bookUs: map[string]int64{}}
	now := time.Now().UnixMicro()
	for _, s := range f.Sim().Symbols() {
		f.bookUs[s.Venue] = now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.serveWS)
	mux.HandleFunc("GET /api/v2/trading-pairs-info/", f.rest(f.servePairs))
	mux.HandleFunc("GET /api/v2/order_book/{pair}/", f.rest(f.serveOrderBook))
	mux.HandleFunc("GET /api/v2/transactions/{pair}/", f.rest(f.serveTransactions))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr(), RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

// AnnounceRollOver implements exchangetest.Fake: every connection gets
// bts:request_reconnect and is closed a second later.
func (f *Fake) AnnounceRollOver() bool {
	var conns []*exchangetest.Conn
	f.Hub().Each(func(c *exchangetest.Conn) {
		c.Send([]byte(`{"event":"bts:request_reconnect","channel":"","data":""}`))
		conns = append(conns, c)
	})
	time.AfterFunc(time.Second, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return true
}

// float writes a decimal as Bitstamp's float fields look: the float64
// nearest to it with 17 significant digits.
func float(d market.Decimal) json.Number {
	v, _ := d.Rat().Float64()
	return json.Number(strconv.FormatFloat(v, 'g', 17, 64))
}

func wsFrame(event, channel string, data any) []byte {
	b, _ := json.Marshal(map[string]any{"event": event, "channel": channel, "data": data})
	return b
}

func tradeData(t exchangetest.SimTrade) map[string]any {
	typ := 0
	if t.Side == market.SideSell {
		typ = 1
	}
	us := t.TimeMs * 1000
	return map[string]any{"id": t.ID, "timestamp": strconv.FormatInt(t.TimeMs/1000, 10), "amount": float(t.Quantity), "amount_str": t.Quantity.String(),
		"price": float(t.Price), "price_str": t.Price.String(), "type": typ, "microtimestamp": strconv.FormatInt(us, 10),
		"buy_order_id": 1600000000000000 + t.ID*2, "sell_order_id": 1600000000000001 + t.ID*2}
}

func fakeLevels(ls []exchangetest.SimLevel) [][2]string {
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{l.Price.String(), l.Quantity.String()}
	}
	return out
}

func bookData(us int64, bids, asks []exchangetest.SimLevel) map[string]any {
	return map[string]any{"timestamp": strconv.FormatInt(us/1_000_000, 10), "microtimestamp": strconv.FormatInt(us, 10),
		"bids": fakeLevels(bids), "asks": fakeLevels(asks)}
}

// emit sends each step: its trades, its book diff (unless SkipBook) and
// the order_book top snapshot, the diff and the snapshot at one
// microtimestamp. The Sim's lock is held.
func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	for _, st := range steps {
		for _, t := range st.Trades {
			f.broadcast(chanTrades+st.Symbol, wsFrame("trade", chanTrades+st.Symbol, tradeData(t)))
		}
		us := max(f.bookUs[st.Symbol]+1, st.TimeMs*1000)
		f.bookUs[st.Symbol] = us
		if !skip {
			f.broadcast(chanDiff+st.Symbol, wsFrame("data", chanDiff+st.Symbol, bookData(us, st.Bids, st.Asks)))
		}
		b := f.Sim().BookLocked(st.Symbol)
		f.broadcast(chanTop+st.Symbol, wsFrame("data", chanTop+st.Symbol, bookData(us, b.Bids, b.Asks)))
	}
}

func (f *Fake) broadcast(channel string, msg []byte) {
	f.Hub().Each(func(c *exchangetest.Conn) {
		if c.Subs[channel] {
			c.Send(msg)
		}
	})
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
			Event string `json:"event"`
			Data  struct {
				Channel string `json:"channel"`
			} `json:"data"`
		}
		f.Sim().Locked(func() {
			if json.Unmarshal(raw, &req) != nil {
				c.Send(wsFrame("bts:error", "", map[string]any{"code": nil, "message": "Incorrect JSON format."}))
				return
			}
			switch req.Event {
			case "bts:heartbeat":
				c.Send(wsFrame("bts:heartbeat", "", map[string]any{"status": "success"}))
			case "bts:subscribe", "bts:unsubscribe":
				ch := req.Data.Channel
				if !f.known(ch) {
					c.Send(wsFrame("bts:error", "", map[string]any{"code": nil, "message": "Bad subscription string."}))
					return
				}
				c.Subs[ch] = req.Event == "bts:subscribe"
				c.Send(wsFrame(strings.Replace(req.Event, "subscribe", "subscription_succeeded", 1), ch, map[string]any{}))
			default:
				c.Send(wsFrame("bts:error", "", map[string]any{"code": nil, "message": "Incorrect JSON format."}))
			}
		})
	}
}

// known reports whether a channel names one of the fake's pairs.
func (f *Fake) known(ch string) bool {
	for _, p := range []string{chanTrades, chanDiff, chanTop} {
		if sym, ok := strings.CutPrefix(ch, p); ok {
			_, known := f.Sim().Symbol(sym)
			return known
		}
	}
	return false
}

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	var bad, harmless []string
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		tr := func(amount, price string) string {
			return `{"event":"trade","channel":"live_trades_` + sym + `","data":{"id":5,"timestamp":"1700000000","amount":1,"amount_str":"` + amount +
				`","price":1,"price_str":"` + price + `","type":0,"microtimestamp":"1700000000000000"}}`
		}
		bad = []string{
			`{"event":"trade","channel":"live_trades_` + sym + `","data":{`,
			`[1,2,3]`,
			`{"event":"trade","channel":"live_candles_` + sym + `","data":{}}`,
			`{"event":"trade","channel":"live_trades_` + sym + `","data":{"id":7}}`,
			tr("1e5", "1"),
			tr("1", "123456789012345678901234567890123456789"),
			tr("-1", "1"),
			tr("NaN", "1"),
			`{"event":"trade","channel":"live_trades_` + sym + `","data":{"id":5,"amount_str":"1","price_str":"1","type":2,"microtimestamp":"1700000000000000"}}`,
			`{"event":"trade","channel":"live_trades_nopeusd","data":{"id":5,"amount_str":"1","price_str":"1","type":0,"microtimestamp":"1700000000000000"}}`,
			`{"event":"data","channel":"diff_order_book_` + sym + `","data":{"microtimestamp":"x","bids":[],"asks":[]}}`,
			`{"event":"data","channel":"diff_order_book_` + sym + `","data":{"microtimestamp":"1","bids":[["x","1"]],"asks":[]}}`,
			`{"event":"data","channel":"order_book_` + sym + `","data":{"microtimestamp":"1","bids":[["101","1"]],"asks":[["100","1"]]}}`,
			`{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription string."}}`,
		}
		if ts := f.Sim().TradesLocked(sym); len(ts) > 0 {
			harmless = append(harmless, string(wsFrame("trade", chanTrades+sym, tradeData(ts[len(ts)-1]))))
		}
		b := f.Sim().BookLocked(sym)
		// An old diff (before the book's time): dropped as already applied.
		harmless = append(harmless, string(wsFrame("data", chanDiff+sym, bookData(f.bookUs[sym]-1, b.Bids[:1], nil))))
		f.Hub().Each(func(c *exchangetest.Conn) {
			for _, s := range append(bad, harmless...) {
				c.Send([]byte(s))
			}
		})
	})
	return len(bad)
}

func errorBody(status int) string {
	if status == http.StatusTooManyRequests {
		return `{"status":"error","reason":"Rate limit exceeded","code":"API0001"}`
	}
	return `{"status":"error","reason":"Service unavailable","code":"API0000"}`
}

// rest wraps a handler with the fault knobs.
func (f *Fake) rest(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !f.Faults().REST(w, errorBody) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		h(w, r)
	}
}

func notFound(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"status":"error","reason":"Not Found","code":"API0006"}`))
}

func (f *Fake) servePairs(w http.ResponseWriter, r *http.Request) {
	var out []map[string]any
	for _, s := range f.Sim().Symbols() {
		out = append(out, map[string]any{"name": s.Base + "/" + s.Quote, "url_symbol": s.Venue, "base_decimals": s.SizeScale,
			"counter_decimals": s.PriceScale, "instant_order_counter_decimals": s.PriceScale, "minimum_order": "10 " + s.Quote,
			"trading": "Enabled", "instant_and_market_orders": "Enabled", "description": s.Base + " / " + s.Quote})
	}
	json.NewEncoder(w).Encode(out)
}

func (f *Fake) serveOrderBook(w http.ResponseWriter, r *http.Request) {
	sym := r.PathValue("pair")
	if _, ok := f.Sim().Symbol(sym); !ok {
		notFound(w)
		return
	}
	var data map[string]any
	f.Sim().Locked(func() {
		b := f.Sim().BookLocked(sym)
		data = bookData(f.bookUs[sym], b.Bids, b.Asks)
	})
	json.NewEncoder(w).Encode(data)
}

// serveTransactions answers the trades of the last minute, hour (the
// default) or day, newest first, as Bitstamp does (LimitHistory shortens
// it to the last n).
func (f *Fake) serveTransactions(w http.ResponseWriter, r *http.Request) {
	sym := r.PathValue("pair")
	if _, ok := f.Sim().Symbol(sym); !ok {
		notFound(w)
		return
	}
	window := time.Hour
	switch r.URL.Query().Get("time") {
	case "minute":
		window = time.Minute
	case "day":
		window = 24 * time.Hour
	}
	since := time.Now().Add(-window).UnixMilli()
	out := []map[string]any{}
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(sym)
		start := 0
		if h := f.Faults().History(); h > 0 {
			start = max(0, len(ts)-h)
		}
		for i := len(ts) - 1; i >= start && ts[i].TimeMs >= since; i-- {
			t := ts[i]
			typ := "0"
			if t.Side == market.SideSell {
				typ = "1"
			}
			out = append(out, map[string]any{"date": strconv.FormatInt(t.TimeMs/1000, 10), "tid": strconv.FormatInt(t.ID, 10),
				"amount": t.Quantity.String(), "price": t.Price.String(), "type": typ})
		}
	})
	json.NewEncoder(w).Encode(out)
}
