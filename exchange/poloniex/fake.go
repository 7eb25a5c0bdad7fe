package poloniex

// Fake is a Poloniex that speaks the public v3 protocol (WebSocket and the
// REST endpoints this package uses) on loopback, over the shared synthetic
// market and fault knobs of exchangetest. Its data is synthetic; its events
// carry the exchange name SyntheticName.

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

// DefaultFakeSymbols are two markets with Poloniex-like scales.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTC_USDT", Base: "BTC", Quote: "USDT", StartPrice: "97000.00", PriceScale: 2, SizeScale: 6},
	{Venue: "ETH_USDT", Base: "ETH", Quote: "USDT", StartPrice: "3400.00", PriceScale: 2, SizeScale: 4},
}

// Fake is a running fake Poloniex.
type Fake struct {
	*exchangetest.Base
}

var _ exchangetest.Fake = (*Fake)(nil)

// NewFake starts a fake Poloniex on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(cfg, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	f := &Fake{Base: b}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/public", f.serveWS)
	mux.HandleFunc("GET /markets", f.serveMarkets)
	mux.HandleFunc("GET /markets/{symbol}/trades", f.serveTrades)
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// WSURL is the WebSocket endpoint (like wss://ws.poloniex.com/ws/public).
func (f *Fake) WSURL() string { return "ws://" + f.Addr() + "/ws/public" }

// RESTURL is the REST base URL (like https://api.poloniex.com).
func (f *Fake) RESTURL() string { return "http://" + f.Addr() }

// Config returns a Connector Config pointing at the fake; its events carry
// the exchange name SyntheticName.
func (f *Fake) Config() Config {
	return Config{WSURL: f.WSURL(), RESTURL: f.RESTURL(), Exchange: SyntheticName}
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: f.WSURL(), RESTURL: f.RESTURL(), Exchange: SyntheticName}
}

// Pause stops the market until Resume.
func (f *Fake) Pause() { f.Sim().Pause() }

// Resume restarts the market.
func (f *Fake) Resume() { f.Sim().Resume() }

// Trades returns every trade the fake has made in a symbol, in order, as
// the connector normalizes them (the ground truth). ReceivedTimeUs is zero.
func (f *Fake) Trades(symbol string) []market.Trade {
	sy, _ := f.Sim().Symbol(symbol)
	ts := f.Sim().Trades(symbol)
	out := make([]market.Trade, len(ts))
	for i, t := range ts {
		out[i] = market.Trade{Exchange: SyntheticName, Symbol: sy.Normalized(), VenueSymbol: symbol, TradeID: strconv.FormatInt(t.ID, 10),
			Price: t.Price, Quantity: t.Quantity, QuoteQuantity: t.QuoteQty, HasQuoteQty: true, Side: t.Side, ExchangeTimeUs: t.TimeMs * 1000}
	}
	return out
}

// DropConnections closes every WebSocket connection at once.
func (f *Fake) DropConnections() { f.Hub().DropAll() }

// AnnounceRollOver implements exchangetest.Fake: Poloniex never announces
// the end of a connection.
func (f *Fake) AnnounceRollOver() bool { return false }

// emit broadcasts one tick (the sim's lock is held, so frames keep the
// market's order).
func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	for _, st := range steps {
		if len(st.Trades) > 0 {
			f.broadcast("trades", st.Symbol, tradeFrame(st.Trades))
		}
		if !skip {
			f.broadcast("book_lv2", st.Symbol, bookFrame(st.Symbol, "update", st.Bids, st.Asks, st.Seq-1, st.Seq, st.TimeMs))
		}
		if st.Ticker {
			f.broadcast("ticker", st.Symbol, f.tickerFrame(st.Symbol, st.TimeMs))
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

func levelsJSON(ls []exchangetest.SimLevel) [][2]string {
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{l.Price.String(), l.Quantity.String()}
	}
	return out
}

func bookFrame(sym, action string, bids, asks []exchangetest.SimLevel, lastID, id, nowMs int64) []byte {
	b, _ := json.Marshal(map[string]any{"channel": "book_lv2", "action": action, "data": []map[string]any{{
		"symbol": sym, "createTime": nowMs, "asks": levelsJSON(asks), "bids": levelsJSON(bids),
		"lastId": lastID, "id": id, "ts": nowMs + 3}}})
	return b
}

func (f *Fake) tickerFrame(sym string, nowMs int64) []byte {
	t := f.Sim().TickerLocked(sym)
	b, _ := json.Marshal(map[string]any{"channel": "ticker", "data": []map[string]any{{
		"symbol": sym, "startTime": t.StartMs, "open": t.Open.String(), "high": t.High.String(), "low": t.Low.String(),
		"close": t.Last.String(), "quantity": t.Volume.String(), "amount": t.QuoteVolume.String(), "tradeCount": t.Count,
		"dailyChange": t.Change.String(), "markPrice": t.Last.String(), "closeTime": nowMs, "ts": nowMs + 5}}})
	return b
}

func tradeJSON(t exchangetest.SimTrade, upper bool) map[string]any {
	side := strings.ToLower(t.Side.String())
	if upper {
		side = t.Side.String()
	}
	return map[string]any{"symbol": t.Symbol, "amount": t.QuoteQty.String(), "quantity": t.Quantity.String(),
		"takerSide": side, "createTime": t.TimeMs, "price": t.Price.String(), "id": strconv.FormatInt(t.ID, 10), "ts": t.TimeMs + 5}
}

func tradeFrame(ts []exchangetest.SimTrade) []byte {
	data := make([]map[string]any, len(ts))
	for i, t := range ts {
		data[i] = tradeJSON(t, false)
	}
	b, _ := json.Marshal(map[string]any{"channel": "trades", "data": data})
	return b
}

// SendBadFrames implements exchangetest.Fake: every connection gets frames
// a client must survive. It returns how many must be counted as unusable
// (the repeated trade is a duplicate and the repeated book message a stale
// one, both dropped without being errors).
func (f *Fake) SendBadFrames() int {
	var bad []string
	var dupes []string
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		other := f.Sim().Symbols()[len(f.Sim().Symbols())-1].Venue
		bad = []string{
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1"`,
			`not json at all`,
			`{"channel":"mystery","data":[{"symbol":"` + sym + `"}]}`,
			`{"event":"surprise"}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"buy","createTime":1700000000000,"price":"12,5","id":"1","ts":1700000000001}]}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"buy","createTime":1700000000000,"price":"10","ts":1700000000001}]}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"sideways","createTime":1700000000000,"price":"10","id":"2","ts":1700000000001}]}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"NaN","takerSide":"buy","createTime":1700000000000,"price":"10","id":"3","ts":1700000000001}]}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"1e5","takerSide":"buy","createTime":1700000000000,"price":"10","id":"4","ts":1700000000001}]}`,
			`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"buy","createTime":1700000000000,"price":"123456789012345678901234567890123456789","id":"5","ts":1700000000001}]}`,
			`{"channel":"trades","data":[]}`,
			`{"channel":"book_lv2","action":"update","data":[{"symbol":"` + sym + `","createTime":1700000000000,"asks":[["x","1"]],"bids":[],"lastId":1,"id":2,"ts":1700000000001}]}`,
			`{"channel":"ticker","data":[{"symbol":"` + sym + `","close":"-5","ts":1700000000001}]}`,
			`{"event":"error","message":"Subscription failed (symbol ` + other + `X is delisted)"}`,
		}
		if ts := f.Sim().TradesLocked(sym); len(ts) > 0 {
			dupes = append(dupes, string(tradeFrame(ts[len(ts)-1:])))
		}
		b := f.Sim().BookLocked(sym)
		// An old book message again (its id is behind the book): dropped as stale.
		dupes = append(dupes, string(bookFrame(sym, "update", nil, nil, b.Seq-2, b.Seq-1, time.Now().UnixMilli())))
		f.Hub().Each(func(c *exchangetest.Conn) {
			for _, s := range append(bad, dupes...) {
				c.Send([]byte(s))
			}
		})
	})
	return len(bad)
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
			Event   string   `json:"event"`
			Channel []string `json:"channel"`
			Symbols []string `json:"symbols"`
		}
		if json.Unmarshal(raw, &req) != nil {
			c.Send([]byte(`{"event":"error","message":"Invalid request"}`))
			continue
		}
		switch req.Event {
		case "ping":
			c.Send([]byte(`{"event":"pong"}`))
		case "subscribe", "unsubscribe":
			f.subscribe(c, req.Event, req.Channel, req.Symbols)
		default:
			c.Send([]byte(`{"event":"error","message":"Unsupported event"}`))
		}
	}
}

func (f *Fake) subscribe(c *exchangetest.Conn, event string, channels, symbols []string) {
	f.Sim().Locked(func() {
		for _, ch := range channels {
			if ch != "trades" && ch != "ticker" && ch != "book_lv2" {
				c.Send([]byte(`{"event":"error","message":"Subscription failed (channel ` + ch + ` not supported)"}`))
				continue
			}
			for _, sym := range symbols {
				if _, ok := f.Sim().Symbol(sym); !ok {
					c.Send([]byte(`{"event":"error","message":"Subscription failed (unknown symbol ` + sym + `)"}`))
					return
				}
			}
			ack, _ := json.Marshal(map[string]any{"event": event, "channel": ch, "symbols": symbols})
			c.Send(ack)
			for _, sym := range symbols {
				c.Subs[ch+"/"+sym] = event == "subscribe"
				if ch == "book_lv2" && event == "subscribe" {
					b := f.Sim().BookLocked(sym)
					c.Send(bookFrame(sym, "snapshot", b.Bids, b.Asks, b.Seq-1, b.Seq, time.Now().UnixMilli()))
				}
			}
		}
	})
}

func errorBody(status int) string {
	if status == http.StatusTooManyRequests {
		return `{"code":429,"message":"Too many requests"}`
	}
	return `{"code":` + strconv.Itoa(status) + `,"message":"Service unavailable"}`
}

// RESTCalls is how many REST requests the fake has been asked.
func (f *Fake) RESTCalls() int { return f.Faults().RESTCalls() }

func (f *Fake) serveMarkets(w http.ResponseWriter, r *http.Request) {
	if !f.Faults().REST(w, errorBody) {
		return
	}
	var out []map[string]any
	for _, s := range f.Sim().Symbols() {
		out = append(out, map[string]any{"symbol": s.Venue, "baseCurrencyName": s.Base, "quoteCurrencyName": s.Quote, "displayName": s.Base + "/" + s.Quote,
			"state": "NORMAL", "visibleStartTime": 1659018816626, "tradableStartTime": 1659018816626,
			"symbolTradeLimit": map[string]any{"symbol": s.Venue, "priceScale": s.PriceScale, "quantityScale": s.SizeScale,
				"amountScale": s.PriceScale, "minQuantity": market.NewDecimal(1, uint8(s.SizeScale)).String(), "minAmount": "1",
				"highestBid": "0", "lowestAsk": "0"}})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	if !f.Faults().REST(w, errorBody) {
		return
	}
	limit := 500
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, MaxTradesLimit)
	}
	if h := f.Faults().History(); h > 0 {
		limit = min(limit, h)
	}
	sym := r.PathValue("symbol")
	if _, ok := f.Sim().Symbol(sym); !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":21100,"message":"Invalid symbol!"}`))
		return
	}
	out := []map[string]any{}
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(sym)
		for i := len(ts) - 1; i >= 0 && len(out) < limit; i-- {
			out = append(out, tradeJSON(ts[i], true))
		}
	})
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
