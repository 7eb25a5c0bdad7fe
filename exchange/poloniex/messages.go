package poloniex

// Parsing of Poloniex v3 public WebSocket frames (see PROTOCOL.md). One
// decode per frame into a struct that covers every channel's fields, then
// per-channel validation into market events. JSON is read with
// valyala/fastjson (no reflection: a trade frame costs about a third of
// what encoding/json took, see docs/BENCHMARKS.md). Nothing passes through
// float64: numbers arrive as strings and become market.Decimal.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from Poloniex carry.
const Name = "poloniex"

// SyntheticName is the exchange name of events from the fake Poloniex, so
// that its synthetic data can never pass for the real market's downstream.
const SyntheticName = "poloniex-synthetic"

// item is one element of a frame's data, with the fields of every channel,
// as raw bytes (valid until the next parse) or integers. Missing fields are
// nil / unset.
type item struct {
	Symbol     []byte
	ID         flexInt
	LastID     flexInt
	Price      []byte
	Quantity   []byte
	Amount     []byte
	TakerSide  []byte
	CreateTime int64
	Ts         int64
	Asks, Bids *fastjson.Value
	// ticker
	StartTime   int64
	Open        []byte
	High        []byte
	Low         []byte
	Close       []byte
	TradeCount  flexInt
	DailyChange []byte
	MarkPrice   []byte
}

// flexInt is an integer that Poloniex sends as a string in some channels
// (trade ids) and as a number in others (book ids). It keeps the text, so
// that a trade id is carried exactly as the venue wrote it.
type flexInt struct {
	text []byte
	n    int64
	set  bool
}

func (f *flexInt) from(v *fastjson.Value) error {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil
	}
	var b []byte
	switch v.Type() {
	case fastjson.TypeString:
		b, _ = v.StringBytes()
	case fastjson.TypeNumber:
		b = v.MarshalTo(nil)
	default:
		return fmt.Errorf("want an integer, got %s", v.Type())
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %.40s", b)
	}
	f.text, f.n, f.set = b, n, true
	return nil
}

// aliases are Poloniex's own asset spellings (STR is its legacy name for
// Stellar, XLM elsewhere).
var aliases = map[string]string{"STR": "XLM"}

// NormalizeSymbol maps a Poloniex symbol (BTC_USDT) to BASE-QUOTE.
func NormalizeSymbol(venue string) string {
	base, quote, ok := strings.Cut(venue, "_")
	if !ok {
		return strings.ToUpper(venue)
	}
	return exchange.Symbol(base, quote, aliases)
}

// parser turns frames into events. It is used by one goroutine at a time.
type parser struct {
	exchange string // the name events carry
	// symbols restricts accepted symbols (to what was subscribed); nil
	// accepts any.
	symbols map[string]bool
	now     func() int64 // receive time, UTC µs
	fj      fastjson.Parser
	names   map[string][2]string // venue symbol → (interned venue string, normalized)
}

var errNoData = errors.New("no data")

func optBytes(o *fastjson.Object, key string) ([]byte, error) {
	v := o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return nil, fmt.Errorf("%s: want a string, got %s", key, v.Type())
	}
	return b, nil
}

func optInt(o *fastjson.Object, key string) (int64, error) {
	v := o.Get(key)
	if v == nil || v.Type() == fastjson.TypeNull {
		return 0, nil
	}
	n, err := v.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer: %v", key, err)
	}
	return n, nil
}

// readItem extracts the fields of one data element.
func readItem(v *fastjson.Value) (item, error) {
	var it item
	o, err := v.Object()
	if err != nil {
		return it, errors.New("data element is not an object")
	}
	var errs [16]error
	it.Symbol, errs[0] = optBytes(o, "symbol")
	errs[1] = it.ID.from(o.Get("id"))
	errs[2] = it.LastID.from(o.Get("lastId"))
	it.Price, errs[3] = optBytes(o, "price")
	it.Quantity, errs[4] = optBytes(o, "quantity")
	it.Amount, errs[5] = optBytes(o, "amount")
	it.TakerSide, errs[6] = optBytes(o, "takerSide")
	it.CreateTime, errs[7] = optInt(o, "createTime")
	it.Ts, errs[8] = optInt(o, "ts")
	it.Asks, it.Bids = o.Get("asks"), o.Get("bids")
	it.StartTime, errs[9] = optInt(o, "startTime")
	it.Open, errs[10] = optBytes(o, "open")
	it.High, errs[11] = optBytes(o, "high")
	it.Low, errs[12] = optBytes(o, "low")
	it.Close, errs[13] = optBytes(o, "close")
	errs[14] = it.TradeCount.from(o.Get("tradeCount"))
	it.DailyChange, errs[15] = optBytes(o, "dailyChange")
	if err := errors.Join(errs[:]...); err != nil {
		return it, err
	}
	it.MarkPrice, err = optBytes(o, "markPrice")
	return it, err
}

// symbolNames returns the venue symbol as an interned string and its
// normalized form, without allocating for symbols seen before.
func (p *parser) symbolNames(b []byte) (venue, norm string) {
	if n, ok := p.names[string(b)]; ok {
		return n[0], n[1]
	}
	if p.names == nil {
		p.names = map[string][2]string{}
	}
	venue = string(b)
	if len(p.names) < 10000 {
		p.names[venue] = [2]string{venue, NormalizeSymbol(venue)}
	}
	return venue, NormalizeSymbol(venue)
}

// parse decodes one frame. It returns the events of every usable item and,
// if anything was unusable, a *exchange.FrameError. Control frames (pong,
// subscription acknowledgements) yield neither.
func (p *parser) parse(raw []byte) ([]exchange.Event, error) {
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, err
	}
	event, err1 := optBytes(o, "event")
	channel, err2 := optBytes(o, "channel")
	action, err3 := optBytes(o, "action")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, exchange.NewFrameError("malformed", err, raw)
	}
	switch string(event) {
	case "":
	case "pong", "subscribe", "unsubscribe", "unsubscribe_all", "list_subscriptions":
		return nil, nil
	case "error":
		msg, _ := optBytes(o, "message")
		return nil, exchange.NewFrameError("venue_error", errors.New(string(msg)), raw)
	default:
		return nil, exchange.NewFrameError("unknown_event", fmt.Errorf("event %q", event), raw)
	}
	switch string(channel) {
	case "trades", "ticker", "book_lv2":
	default:
		return nil, exchange.NewFrameError("unknown_channel", fmt.Errorf("channel %q", channel), raw)
	}
	data := o.Get("data")
	if data == nil || data.Type() != fastjson.TypeArray {
		return nil, exchange.NewFrameError("malformed", errors.New("data is not an array"), raw)
	}
	elems, _ := data.Array()
	if len(elems) == 0 {
		return nil, exchange.NewFrameError("empty", errNoData, raw)
	}
	recv := p.now()
	evs := make([]exchange.Event, 0, len(elems))
	var bad error
	for i, e := range elems {
		it, err := readItem(e)
		if err != nil {
			bad = fmt.Errorf("item %d: %w", i, err)
			continue
		}
		if len(it.Symbol) == 0 || (p.symbols != nil && !p.symbols[string(it.Symbol)]) {
			bad = fmt.Errorf("item %d: symbol %q not subscribed", i, it.Symbol)
			continue
		}
		venue, norm := p.symbolNames(it.Symbol)
		var ev exchange.Event
		switch string(channel) {
		case "trades":
			ev.Trade, err = tradeFrom(&it, p.exchange, venue, norm, recv)
		case "ticker":
			ev.Ticker, err = tickerFrom(&it, p.exchange, venue, norm, recv)
		case "book_lv2":
			ev.Book, err = bookFrom(&it, string(action), p.exchange, venue, norm, recv)
		}
		if err != nil {
			bad = fmt.Errorf("item %d: %w", i, err)
			continue
		}
		evs = append(evs, ev)
	}
	if bad != nil {
		kind := "bad_" + strings.TrimSuffix(string(channel), "s")
		return evs, exchange.NewFrameError(kind, bad, raw)
	}
	return evs, nil
}

func positive(name string, s []byte) (market.Decimal, error) {
	d, err := market.ParseDecimalBytes(s)
	if err != nil {
		return d, fmt.Errorf("%s: %w", name, err)
	}
	if d.Sign() <= 0 {
		return d, fmt.Errorf("%s: %s is not positive", name, s)
	}
	return d, nil
}

func nonNegative(name string, s []byte) (market.Decimal, error) {
	d, err := market.ParseDecimalBytes(s)
	if err != nil {
		return d, fmt.Errorf("%s: %w", name, err)
	}
	if d.Sign() < 0 {
		return d, fmt.Errorf("%s: %s is negative", name, s)
	}
	return d, nil
}

func side(s []byte) (market.Side, error) {
	switch string(s) {
	case "buy", "BUY":
		return market.SideBuy, nil
	case "sell", "SELL":
		return market.SideSell, nil
	}
	return market.SideUnknown, fmt.Errorf("takerSide %q", s)
}

// tradeFrom validates a trade item. Poloniex's quantity is the base amount
// and amount the quote amount (see PROTOCOL.md).
func tradeFrom(it *item, exch, venue, norm string, recv int64) (*market.Trade, error) {
	if !it.ID.set {
		return nil, errors.New("trade without id")
	}
	price, err := positive("price", it.Price)
	if err != nil {
		return nil, err
	}
	qty, err := positive("quantity", it.Quantity)
	if err != nil {
		return nil, err
	}
	t := &market.Trade{
		Exchange: exch, Symbol: norm, VenueSymbol: venue, TradeID: string(it.ID.text),
		Price: price, Quantity: qty, ExchangeTimeUs: it.CreateTime * 1000, ReceivedTimeUs: recv,
	}
	if it.Amount != nil {
		if t.QuoteQuantity, err = nonNegative("amount", it.Amount); err != nil {
			return nil, err
		}
		t.HasQuoteQty = true
	}
	if t.Side, err = side(it.TakerSide); err != nil {
		return nil, err
	}
	if it.CreateTime <= 0 {
		return nil, errors.New("trade without createTime")
	}
	return t, nil
}

func tickerFrom(it *item, exch, venue, norm string, recv int64) (*market.Ticker, error) {
	last, err := positive("close", it.Close)
	if err != nil {
		return nil, err
	}
	t := &market.Ticker{Exchange: exch, Symbol: norm, VenueSymbol: venue, Last: last, ReceivedTimeUs: recv}
	if it.Open != nil || it.High != nil || it.Low != nil {
		if t.Open, err = positive("open", it.Open); err != nil {
			return nil, err
		}
		if t.High, err = positive("high", it.High); err != nil {
			return nil, err
		}
		if t.Low, err = positive("low", it.Low); err != nil {
			return nil, err
		}
		t.HasOHLC = true
	}
	if it.Quantity != nil || it.Amount != nil {
		if t.BaseVolume, err = nonNegative("quantity", it.Quantity); err != nil {
			return nil, err
		}
		if t.QuoteVolume, err = nonNegative("amount", it.Amount); err != nil {
			return nil, err
		}
		t.HasVolume = true
	}
	if it.TradeCount.set {
		t.TradeCount, t.HasTradeCount = it.TradeCount.n, true
	}
	if it.DailyChange != nil {
		if t.DailyChange, err = market.ParseDecimalBytes(it.DailyChange); err != nil {
			return nil, fmt.Errorf("dailyChange: %w", err)
		}
		t.HasDailyChange = true
	}
	if it.MarkPrice != nil {
		if t.MarkPrice, err = nonNegative("markPrice", it.MarkPrice); err != nil {
			return nil, err
		}
		t.HasMarkPrice = true
	}
	t.WindowStartUs = it.StartTime * 1000
	t.ExchangeTimeUs = it.Ts * 1000
	if it.Ts <= 0 {
		return nil, errors.New("ticker without ts")
	}
	return t, nil
}

func levels(name string, v *fastjson.Value) ([]market.Level, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return []market.Level{}, nil
	}
	arr, err := v.Array()
	if err != nil {
		return nil, fmt.Errorf("%ss: want an array", name)
	}
	out := make([]market.Level, len(arr))
	for i, lv := range arr {
		pair, err := lv.Array()
		if err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("%s %d: want [price, quantity]", name, i)
		}
		ps, err1 := pair[0].StringBytes()
		qs, err2 := pair[1].StringBytes()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s %d: want decimal strings", name, i)
		}
		p, err := positive(name+" price", ps)
		if err != nil {
			return nil, err
		}
		q, err := nonNegative(name+" quantity", qs)
		if err != nil {
			return nil, err
		}
		out[i] = market.Level{Price: p, Quantity: q}
	}
	return out, nil
}

func bookFrom(it *item, action, exch, venue, norm string, recv int64) (*market.BookUpdate, error) {
	if action != "snapshot" && action != "update" {
		return nil, fmt.Errorf("book action %q", action)
	}
	if !it.ID.set || !it.LastID.set {
		return nil, errors.New("book message without id or lastId")
	}
	bids, err := levels("bid", it.Bids)
	if err != nil {
		return nil, err
	}
	asks, err := levels("ask", it.Asks)
	if err != nil {
		return nil, err
	}
	ts := it.CreateTime
	if ts == 0 {
		ts = it.Ts
	}
	return &market.BookUpdate{
		Exchange: exch, Symbol: norm, VenueSymbol: venue,
		Snapshot: action == "snapshot", Sequence: it.ID.n, PrevSequence: it.LastID.n,
		Bids: bids, Asks: asks, ExchangeTimeUs: ts * 1000, ReceivedTimeUs: recv,
	}, nil
}
