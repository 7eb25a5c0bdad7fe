package binance

// Parsing of Binance spot WebSocket frames and REST answers (see
// PROTOCOL.md). Frames arrive on a combined stream as
// {"stream":"btcusdt@trade","data":{...}}; the payload's own "e" names its
// kind (bookTicker payloads have none). JSON is read with valyala/fastjson;
// numbers arrive as strings and become market.Decimal, never float64.

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from Binance carry.
const Name = "binance"

// SyntheticName is the exchange name of events from the fake Binance.
const SyntheticName = "binance-synthetic"

// symbolInfo is what the parser knows of a subscribed symbol.
type symbolInfo struct {
	venue, norm string
	last        market.Decimal // last trade price seen, for bookTicker events
	hasLast     bool
}

// parser turns frames into events. One goroutine at a time.
type parser struct {
	exchange string
	symbols  map[string]*symbolInfo // venue symbol (upper case) → info
	now      func() int64
	fj       fastjson.Parser
}

func newParser(exch string, ms []exchange.Market, now func() int64) *parser {
	p := &parser{exchange: exch, symbols: map[string]*symbolInfo{}, now: now}
	for _, m := range ms {
		p.symbols[m.VenueSymbol] = &symbolInfo{venue: m.VenueSymbol, norm: m.Symbol}
	}
	return p
}

// frame is what parse found besides events.
type frame struct {
	shutdown bool   // serverShutdown: the connection ends soon
	depth    string // a depth update's venue symbol (the session buffers these while a snapshot is pending)
}

// parse decodes one frame: its events, what the session must know, and a
// *exchange.FrameError when something was unusable.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, fr, err
	}
	if o.Get("code") != nil || o.Get("error") != nil {
		return nil, fr, exchange.NewFrameError("venue_error", errors.New(string(raw)), raw)
	}
	if o.Get("result") != nil && o.Get("id") != nil {
		return nil, fr, nil // an answer to a request
	}
	if d := o.Get("data"); d != nil {
		if o, err = d.Object(); err != nil {
			return nil, fr, exchange.NewFrameError("malformed", errors.New("data is not an object"), raw)
		}
	}
	e, _ := jsonf.Str(o, "e")
	recv := p.now()
	var ev exchange.Event
	kind := "bad_trade"
	switch string(e) {
	case "serverShutdown":
		fr.shutdown = true
		return nil, fr, nil
	case "trade":
		ev.Trade, err = p.trade(o, recv)
	case "depthUpdate":
		kind = "bad_book"
		var sym string
		ev.Book, sym, err = p.depth(o, recv)
		fr.depth = sym
	case "24hrTicker":
		kind = "bad_ticker"
		ev.Ticker, err = p.ticker24(o, recv)
	case "":
		if o.Get("u") != nil && o.Get("b") != nil && o.Get("a") != nil {
			kind = "bad_ticker"
			ev.Ticker, err = p.bookTicker(o, recv)
			break
		}
		return nil, fr, exchange.NewFrameError("unknown_event", errors.New("no event type"), raw)
	default:
		return nil, fr, exchange.NewFrameError("unknown_event", fmt.Errorf("event %q", e), raw)
	}
	if err != nil {
		return nil, fr, exchange.NewFrameError(kind, err, raw)
	}
	if ev.Trade == nil && ev.Ticker == nil && ev.Book == nil {
		return nil, fr, nil
	}
	return []exchange.Event{ev}, fr, nil
}

func (p *parser) symbol(o *fastjson.Object) (*symbolInfo, error) {
	s, err := jsonf.Str(o, "s")
	if err != nil {
		return nil, err
	}
	si := p.symbols[strings.ToUpper(string(s))]
	if si == nil {
		return nil, fmt.Errorf("symbol %q not subscribed", s)
	}
	return si, nil
}

// trade: t id (per symbol), p, q (base), T trade time, m buyer is maker
// (so the taker sold).
func (p *parser) trade(o *fastjson.Object, recv int64) (*market.Trade, error) {
	si, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	id, err1 := jsonf.Int(o, "t")
	price, err2 := jsonf.Dec(o, "p", true)
	qty, err3 := jsonf.Dec(o, "q", true)
	ts, err4 := jsonf.Int(o, "T")
	m := o.Get("m")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	if m == nil || (m.Type() != fastjson.TypeTrue && m.Type() != fastjson.TypeFalse) || ts <= 0 || id < 0 {
		return nil, errors.New("m, T or t out of range")
	}
	side := market.SideBuy
	if m.Type() == fastjson.TypeTrue {
		side = market.SideSell
	}
	si.last, si.hasLast = price, true
	return &market.Trade{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, TradeID: strconv.FormatInt(id, 10),
		Price: price, Quantity: qty, Side: side, ExchangeTimeUs: ts * 1000, ReceivedTimeUs: recv}, nil
}

func levels(o *fastjson.Object, key string) ([]market.Level, error) {
	return jsonf.Levels(o.Get(key), key, "quantity", false)
}

// depth: U first update id, u last; b/a absolute sizes, 0 removes.
func (p *parser) depth(o *fastjson.Object, recv int64) (*market.BookUpdate, string, error) {
	si, err := p.symbol(o)
	if err != nil {
		return nil, "", err
	}
	first, err1 := jsonf.Int(o, "U")
	last, err2 := jsonf.Int(o, "u")
	ts, err3 := jsonf.Int(o, "E")
	bids, err4 := levels(o, "b")
	asks, err5 := levels(o, "a")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, si.venue, err
	}
	if first > last || first <= 0 {
		return nil, si.venue, fmt.Errorf("U %d after u %d", first, last)
	}
	return &market.BookUpdate{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, Sequence: last, PrevSequence: first - 1,
		Bids: bids, Asks: asks, ExchangeTimeUs: ts * 1000, ReceivedTimeUs: recv}, si.venue, nil
}

func bbo(o *fastjson.Object, t *market.Ticker) error {
	var errs [4]error
	t.BestBid, errs[0] = jsonf.Dec(o, "b", false)
	t.BestBidSize, errs[1] = jsonf.Dec(o, "B", false)
	t.BestAsk, errs[2] = jsonf.Dec(o, "a", false)
	t.BestAskSize, errs[3] = jsonf.Dec(o, "A", false)
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	if t.BestBid.Sign() > 0 && t.BestAsk.Sign() > 0 && t.BestBid.Cmp(t.BestAsk) >= 0 {
		return fmt.Errorf("crossed best bid %s ≥ best ask %s", t.BestBid, t.BestAsk)
	}
	t.HasBBO = true
	return nil
}

// bookTicker: best bid/ask. Spot sends no time: exchange_time is the
// receive time, and Last is the session's last trade price (the event is
// held back until a trade has been seen).
func (p *parser) bookTicker(o *fastjson.Object, recv int64) (*market.Ticker, error) {
	si, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	if _, err := jsonf.Int(o, "u"); err != nil {
		return nil, err
	}
	t := &market.Ticker{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, ExchangeTimeUs: recv, ReceivedTimeUs: recv}
	if err := bbo(o, t); err != nil {
		return nil, err
	}
	if !si.hasLast {
		return nil, nil
	}
	t.Last = si.last
	return t, nil
}

var hundred = big.NewRat(100, 1)

// ticker24: the rolling 24 h window: c last, o/h/l, v base and q quote
// volume, P percent change, n trade count, O window start, E event time.
func (p *parser) ticker24(o *fastjson.Object, recv int64) (*market.Ticker, error) {
	si, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	t := &market.Ticker{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, ReceivedTimeUs: recv, HasOHLC: true, HasVolume: true}
	var errs [12]error
	t.Last, errs[0] = jsonf.Dec(o, "c", true)
	t.Open, errs[1] = jsonf.Dec(o, "o", false)
	t.High, errs[2] = jsonf.Dec(o, "h", false)
	t.Low, errs[3] = jsonf.Dec(o, "l", false)
	t.BaseVolume, errs[4] = jsonf.Dec(o, "v", false)
	t.QuoteVolume, errs[5] = jsonf.Dec(o, "q", false)
	t.TradeCount, errs[6] = jsonf.Int(o, "n")
	var start, at int64
	start, errs[7] = jsonf.Int(o, "O")
	at, errs[8] = jsonf.Int(o, "E")
	pct, perr := jsonf.Str(o, "P")
	if perr == nil {
		if d, err := market.ParseDecimalBytes(pct); err != nil {
			errs[9] = fmt.Errorf("P: %w", err)
		} else if t.DailyChange, err = market.DecimalFromRat(new(big.Rat).Quo(d.Rat(), hundred)); err == nil {
			t.HasDailyChange = true
		}
	}
	errs[10] = bbo(o, t)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	t.HasTradeCount = true
	t.WindowStartUs, t.ExchangeTimeUs = start*1000, at*1000
	if at <= 0 {
		return nil, errors.New("E out of range")
	}
	if t.BestBid.IsZero() && t.BestAsk.IsZero() {
		t.HasBBO = false
	}
	return t, nil
}

// restTrade parses one element of GET /api/v3/trades or historicalTrades.
func restTrade(v *fastjson.Value, exch string, si *symbolInfo, recv int64) (market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return market.Trade{}, errors.New("not an object")
	}
	id, err1 := jsonf.Int(o, "id")
	price, err2 := jsonf.Dec(o, "price", true)
	qty, err3 := jsonf.Dec(o, "qty", true)
	quote, err4 := jsonf.Dec(o, "quoteQty", false)
	ts, err5 := jsonf.Int(o, "time")
	m := o.Get("isBuyerMaker")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return market.Trade{}, err
	}
	if m == nil || (m.Type() != fastjson.TypeTrue && m.Type() != fastjson.TypeFalse) {
		return market.Trade{}, errors.New("isBuyerMaker: want a boolean")
	}
	side := market.SideBuy
	if m.Type() == fastjson.TypeTrue {
		side = market.SideSell
	}
	return market.Trade{Exchange: exch, Symbol: si.norm, VenueSymbol: si.venue, TradeID: strconv.FormatInt(id, 10), Price: price, Quantity: qty,
		QuoteQuantity: quote, HasQuoteQty: true, Side: side, ExchangeTimeUs: ts * 1000, ReceivedTimeUs: recv, Backfilled: true}, nil
}

// restDepth parses GET /api/v3/depth into a snapshot.
func restDepth(body []byte, exch string, si *symbolInfo, recv int64) (*market.BookUpdate, error) {
	var fj fastjson.Parser
	v, err := fj.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("not an object")
	}
	id, err1 := jsonf.Int(o, "lastUpdateId")
	bids, err2 := levels(o, "bids")
	asks, err3 := levels(o, "asks")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	return &market.BookUpdate{Exchange: exch, Symbol: si.norm, VenueSymbol: si.venue, Snapshot: true, Sequence: id, PrevSequence: id,
		Bids: bids, Asks: asks, ExchangeTimeUs: recv, ReceivedTimeUs: recv}, nil
}
