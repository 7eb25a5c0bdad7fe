package coinbase

// Fake is a Coinbase Advanced Trade that speaks the public protocol this
// package uses on loopback, over the shared synthetic market and fault
// knobs of exchangetest: one sequence_num counter per connection across all
// channels (a skipped book message is a jump in it), heartbeats every
// second, and the public REST products and ticker endpoints. Its events
// carry the exchange name SyntheticName.

import (
	"encoding/json"
	"math/big"
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

// DefaultFakeSymbols are two markets with Coinbase-like scales.
var DefaultFakeSymbols = []exchangetest.SimSymbol{
	{Venue: "BTC-USD", Base: "BTC", Quote: "USD", StartPrice: "97010.00", PriceScale: 2, SizeScale: 8},
	{Venue: "ETH-USD", Base: "ETH", Quote: "USD", StartPrice: "3399.00", PriceScale: 2, SizeScale: 8},
}

// Fake is a running fake Coinbase.
type Fake struct {
	*exchangetest.Base
	lastBeat time.Time // guarded by the sim lock
	beats    int64
}

var _ exchangetest.Fake = (*Fake)(nil)

type connState struct{ seq int64 }

// NewFake starts a fake Coinbase on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	b, err := exchangetest.NewBase(cfg, DefaultFakeSymbols)
	if err != nil {
		return nil, err
	}
	f := &Fake{Base: b}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", f.serveWS)
	mux.HandleFunc("GET /api/v3/brokerage/market/products", f.rest(f.serveProducts))
	mux.HandleFunc("GET /api/v3/brokerage/market/products/{id}/ticker", f.rest(f.serveTicker))
	if err := f.Start(mux, f.emit); err != nil {
		return nil, err
	}
	return f, nil
}

// Options implements exchange.FakeServer.
func (f *Fake) Options() exchange.Options {
	return exchange.Options{WSURL: "ws://" + f.Addr() + "/", RESTURL: "http://" + f.Addr(), Exchange: SyntheticName}
}

// AnnounceRollOver implements exchangetest.Fake: Coinbase announces no end
// of a connection.
func (f *Fake) AnnounceRollOver() bool { return false }

func rfc(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

// envelope stamps the connection's next sequence_num; the sim lock is held.
func envelope(c *exchangetest.Conn, channel string, events any) []byte {
	st := c.State.(*connState)
	b, _ := json.Marshal(map[string]any{"channel": channel, "client_id": "", "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
		"sequence_num": st.seq, "events": events})
	st.seq++
	return b
}

func tradeJSON(t exchangetest.SimTrade) map[string]any {
	return map[string]any{"trade_id": strconv.FormatInt(t.ID, 10), "product_id": t.Symbol, "price": t.Price.String(),
		"size": t.Quantity.String(), "side": t.Side.String(), "time": rfc(t.TimeMs)}
}

func levelsJSON(bids, asks []exchangetest.SimLevel, ms int64) []map[string]any {
	out := make([]map[string]any, 0, len(bids)+len(asks))
	for _, side := range []struct {
		name string
		ls   []exchangetest.SimLevel
	}{{"bid", bids}, {"offer", asks}} {
		for _, l := range side.ls {
			out = append(out, map[string]any{"side": side.name, "event_time": rfc(ms), "price_level": l.Price.String(), "new_quantity": l.Quantity.String()})
		}
	}
	return out
}

func (f *Fake) tickerJSON(sym string) map[string]any {
	t := f.Sim().TickerLocked(sym)
	pct, _ := market.DecimalFromRat(new(big.Rat).Mul(t.Change.Rat(), big.NewRat(100, 1)))
	return map[string]any{"type": "ticker", "product_id": sym, "price": t.Last.String(), "volume_24_h": t.Volume.String(),
		"low_24_h": t.Low.String(), "high_24_h": t.High.String(), "low_52_w": t.Low.String(), "high_52_w": t.High.String(),
		"price_percent_chg_24_h": pct.String(), "best_bid": t.BestBid.String(), "best_bid_quantity": t.BestBidSize.String(),
		"best_ask": t.BestAsk.String(), "best_ask_quantity": t.BestAskSize.String()}
}

func (f *Fake) emit(steps []exchangetest.SimStep) {
	skip := f.Faults().TakeBookSkip()
	beat := time.Since(f.lastBeat) >= time.Second
	if beat {
		f.lastBeat = time.Now()
		f.beats++
	}
	f.Hub().Each(func(c *exchangetest.Conn) {
		if c.State == nil {
			return
		}
		if beat && c.Subs["heartbeats"] {
			c.Send(envelope(c, "heartbeats", []map[string]any{{"current_time": time.Now().UTC().String(), "heartbeat_counter": strconv.FormatInt(f.beats, 10)}}))
		}
		for _, st := range steps {
			if len(st.Trades) > 0 && c.Subs["market_trades/"+st.Symbol] {
				ts := make([]map[string]any, len(st.Trades))
				for i, t := range st.Trades {
					ts[len(ts)-1-i] = tradeJSON(t) // newest first within a batch
				}
				c.Send(envelope(c, "market_trades", []map[string]any{{"type": "update", "trades": ts}}))
			}
			if c.Subs["level2/"+st.Symbol] {
				b := envelope(c, "l2_data", []map[string]any{{"type": "update", "product_id": st.Symbol, "updates": levelsJSON(st.Bids, st.Asks, st.TimeMs)}})
				if !skip {
					c.Send(b) // skipped: its sequence_num is used but never sent
				}
			}
			if (len(st.Trades) > 0 || st.Ticker) && c.Subs["ticker/"+st.Symbol] {
				c.Send(envelope(c, "ticker", []map[string]any{{"type": "update", "tickers": []any{f.tickerJSON(st.Symbol)}}}))
			}
		}
	})
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request) {
	c, ok := f.Hub().Accept(w, r)
	if !ok {
		return
	}
	defer f.Hub().Release(c)
	f.Sim().Locked(func() { c.State = &connState{} })
	for {
		raw, err := c.Read()
		if err != nil {
			return
		}
		var req struct {
			Type       string   `json:"type"`
			Channel    string   `json:"channel"`
			ProductIDs []string `json:"product_ids"`
		}
		f.Sim().Locked(func() {
			if json.Unmarshal(raw, &req) != nil || (req.Type != "subscribe" && req.Type != "unsubscribe") {
				c.Send([]byte(`{"type":"error","message":"Failed to parse the request"}`))
				return
			}
			f.subscribe(c, req.Type == "subscribe", req.Channel, req.ProductIDs)
		})
	}
}

// subscribe handles one (un)subscribe; the sim lock is held.
func (f *Fake) subscribe(c *exchangetest.Conn, on bool, channel string, products []string) {
	switch channel {
	case "heartbeats":
		c.Subs["heartbeats"] = on
	case "market_trades", "ticker", "level2":
		for _, p := range products {
			if _, ok := f.Sim().Symbol(p); !ok {
				c.Send([]byte(`{"type":"error","message":"failure to subscribe: unknown product ` + p + `"}`))
				return
			}
		}
		for _, p := range products {
			c.Subs[channel+"/"+p] = on
		}
	default:
		c.Send([]byte(`{"type":"error","message":"failure to subscribe: unknown channel ` + channel + `"}`))
		return
	}
	subs := map[string][]string{}
	for k, v := range c.Subs {
		if !v {
			continue
		}
		ch, p, _ := strings.Cut(k, "/")
		if p == "" {
			subs[ch] = []string{}
		} else {
			subs[ch] = append(subs[ch], p)
		}
	}
	c.Send(envelope(c, "subscriptions", []map[string]any{{"subscriptions": subs}}))
	if !on {
		return
	}
	for _, p := range products {
		switch channel {
		case "market_trades":
			ts := f.Sim().TradesLocked(p)
			var snap []map[string]any
			for i := len(ts) - 1; i >= 0 && len(snap) < 50; i-- {
				snap = append(snap, tradeJSON(ts[i]))
			}
			if snap == nil {
				snap = []map[string]any{}
			}
			c.Send(envelope(c, "market_trades", []map[string]any{{"type": "snapshot", "trades": snap}}))
		case "level2":
			b := f.Sim().BookLocked(p)
			c.Send(envelope(c, "l2_data", []map[string]any{{"type": "snapshot", "product_id": p, "updates": levelsJSON(b.Bids, b.Asks, 0)}}))
		case "ticker":
			c.Send(envelope(c, "ticker", []map[string]any{{"type": "snapshot", "tickers": []any{f.tickerJSON(p)}}}))
		}
	}
}

// SendBadFrames implements exchangetest.Fake.
func (f *Fake) SendBadFrames() int {
	n := 0
	f.Sim().Locked(func() {
		sym := f.Sim().Symbols()[0].Venue
		f.Hub().Each(func(c *exchangetest.Conn) {
			if c.State == nil {
				return
			}
			tr := func(price, size, side string) []byte {
				return envelope(c, "market_trades", []map[string]any{{"type": "update", "trades": []map[string]any{{"trade_id": "1", "product_id": sym,
					"price": price, "size": size, "side": side, "time": "2026-01-01T00:00:00Z"}}}})
			}
			bad := [][]byte{
				[]byte(`{"channel":"market_trades","sequence_num":`),
				envelope(c, "mystery", []any{}),
				tr("1e5", "1", "BUY"),
				tr("123456789012345678901234567890123456789", "1", "BUY"),
				tr("10", "1", "SIDEWAYS"),
				tr("10", "-1", "BUY"),
				envelope(c, "l2_data", []map[string]any{{"type": "update", "product_id": sym, "updates": []map[string]any{{"side": "bid", "price_level": "x", "new_quantity": "1"}}}}),
				envelope(c, "ticker", []map[string]any{{"type": "update", "tickers": []any{map[string]any{"product_id": sym, "price": "10", "best_bid": "11",
					"best_bid_quantity": "1", "best_ask": "10", "best_ask_quantity": "1"}}}}),
				[]byte(`{"type":"error","message":"failure to subscribe: product DOGE-XYZ delisted"}`),
			}
			// A repeated frame (sequence_num already seen): stale.
			st := c.State.(*connState)
			st.seq--
			bad = append(bad, envelope(c, "heartbeats", []map[string]any{{"heartbeat_counter": "0"}}))
			if ts := f.Sim().TradesLocked(sym); len(ts) > 0 { // a repeated trade: a duplicate
				c.Send(envelope(c, "market_trades", []map[string]any{{"type": "update", "trades": []map[string]any{tradeJSON(ts[len(ts)-1])}}}))
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
		return `{"error":"RATE_LIMIT_EXCEEDED","message":"Too many requests"}`
	}
	return `{"error":"INTERNAL","message":"internal error"}`
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

func (f *Fake) serveProducts(w http.ResponseWriter, r *http.Request) {
	var ps []map[string]any
	for _, s := range f.Sim().Symbols() {
		ps = append(ps, map[string]any{"product_id": s.Venue, "base_currency_id": s.Base, "quote_currency_id": s.Quote, "status": "online",
			"quote_increment": market.NewDecimal(1, uint8(s.PriceScale)).String(), "base_increment": market.NewDecimal(1, uint8(s.SizeScale)).String()})
	}
	json.NewEncoder(w).Encode(map[string]any{"products": ps, "num_products": len(ps)})
}

// serveTicker answers a product's recent trades, newest first, within
// [start, end) in UNIX seconds when given.
func (f *Fake) serveTicker(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := f.Sim().Symbol(id); !ok {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"NOT_FOUND","message":"product not found"}`))
		return
	}
	q := r.URL.Query()
	limit := 100
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = min(l, MaxTradesLimit)
	}
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, err := strconv.ParseInt(q.Get("end"), 10, 64)
	if err != nil {
		end = 1 << 40
	}
	out := []map[string]any{}
	var bid, ask string
	f.Sim().Locked(func() {
		ts := f.Sim().TradesLocked(id)
		for i := len(ts) - 1; i >= 0 && len(out) < limit; i-- {
			sec := ts[i].TimeMs / 1000
			if sec >= end {
				continue
			}
			if sec < start {
				break
			}
			m := tradeJSON(ts[i])
			m["bid"], m["ask"] = "", ""
			out = append(out, m)
		}
		tk := f.Sim().TickerLocked(id)
		bid, ask = tk.BestBid.String(), tk.BestAsk.String()
	})
	json.NewEncoder(w).Encode(map[string]any{"trades": out, "best_bid": bid, "best_ask": ask})
}
