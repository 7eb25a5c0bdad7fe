package bybit

// Parsing of Bybit v5 spot public WebSocket frames and REST answers (see
// PROTOCOL.md). Data frames are {"topic":"publicTrade.BTCUSDT","type":…,
// "ts":…,"data":…}; answers to requests carry "op" and "success". JSON is
// read with valyala/fastjson; prices and sizes arrive as strings and become
// market.Decimal, never float64.

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from Bybit carry.
const Name = "bybit"

// SyntheticName is the exchange name of events from the fake Bybit.
const SyntheticName = "bybit-synthetic"

// MaxTradesPerMessage is the most trades one publicTrade message carries.
const MaxTradesPerMessage = 1024

// symbolInfo is what the parser knows of a subscribed symbol.
type symbolInfo struct {
	venue, norm string
	last        market.Decimal // last trade price seen, for BBO tickers
	hasLast     bool
}

// parser turns frames into events. One goroutine at a time.
type parser struct {
	exchange string
	symbols  map[string]*symbolInfo // venue symbol → info
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

// reply is an answer to a request (subscribe, unsubscribe, ping).
type reply struct {
	op, reqID, msg string
	success        bool
}

// frame is what parse found besides events.
type frame struct {
	reply *reply
	// An orderbook message's venue symbol and cross sequence (seq, 0 when
	// absent); for orderbook.1 its best bid and ask (zero Levels for an
	// empty side), for the session's cross-check against the depth book.
	bookSym  string
	seq      int64
	level1   bool
	bid, ask market.Level
}

// parse decodes one frame: its events, a request's answer, and a
// *exchange.FrameError when something was unusable.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, fr, err
	}
	if op := o.Get("op"); op != nil {
		r := &reply{op: string(op.GetStringBytes()), reqID: string(o.Get("req_id").GetStringBytes()), msg: string(o.Get("ret_msg").GetStringBytes())}
		if v := o.Get("success"); v != nil {
			r.success = v.Type() == fastjson.TypeTrue
		}
		if r.op == "pong" { // the option/private spelling of a pong
			r.op, r.success = "ping", true
		}
		fr.reply = r
		return nil, fr, nil
	}
	topic, err := jsonf.Str(o, "topic")
	if err != nil {
		return nil, fr, exchange.NewFrameError("unknown_event", errors.New("neither a topic nor an op"), raw)
	}
	recv := p.now()
	kind, rest, _ := bytes.Cut(topic, []byte("."))
	switch string(kind) {
	case "publicTrade":
		evs, err := p.trades(o, rest, recv)
		if err != nil {
			return evs, fr, exchange.NewFrameError("bad_trade", err, raw)
		}
		return evs, fr, nil
	case "orderbook":
		depth, sym, ok := bytes.Cut(rest, []byte("."))
		if !ok {
			return nil, fr, exchange.NewFrameError("unknown_channel", fmt.Errorf("topic %q", topic), raw)
		}
		if string(depth) == "1" {
			t, err := p.bbo(o, sym, recv, &fr)
			if err != nil {
				return nil, fr, exchange.NewFrameError("bad_ticker", err, raw)
			}
			if t == nil {
				return nil, fr, nil
			}
			return []exchange.Event{{Ticker: t}}, fr, nil
		}
		u, err := p.book(o, sym, recv)
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_book", err, raw)
		}
		fr.bookSym, fr.seq = u.VenueSymbol, seqOf(o)
		return []exchange.Event{{Book: u}}, fr, nil
	}
	return nil, fr, exchange.NewFrameError("unknown_channel", fmt.Errorf("topic %q", topic), raw)
}

func (p *parser) symbol(sym []byte) (*symbolInfo, error) {
	si := p.symbols[string(sym)]
	if si == nil {
		return nil, fmt.Errorf("symbol %q not subscribed", sym)
	}
	return si, nil
}

// side reads S, the taker's side: Buy or Sell.
func side(o *fastjson.Object, key string) (market.Side, error) {
	s, err := jsonf.Str(o, key)
	if err != nil {
		return 0, err
	}
	switch string(s) {
	case "Buy":
		return market.SideBuy, nil
	case "Sell":
		return market.SideSell, nil
	}
	return 0, fmt.Errorf("%s: %q is neither Buy nor Sell", key, s)
}

// trades: data is an array of trades, oldest first: T (ms), s, S, v, p, i
// (id string), BT, seq. A bad trade is reported; the good ones of the
// same message are kept.
func (p *parser) trades(o *fastjson.Object, sym []byte, recv int64) ([]exchange.Event, error) {
	si, err := p.symbol(sym)
	if err != nil {
		return nil, err
	}
	arr, err := arrayOf(o.Get("data"))
	if err != nil {
		return nil, errors.New("data: want an array")
	}
	if len(arr) > MaxTradesPerMessage {
		return nil, fmt.Errorf("%d trades in one message, more than Bybit's %d", len(arr), MaxTradesPerMessage)
	}
	evs := make([]exchange.Event, 0, len(arr))
	var errs []error
	for i, v := range arr {
		t, err := p.trade(v, si, recv)
		if err != nil {
			errs = append(errs, fmt.Errorf("trade %d: %w", i, err))
			continue
		}
		evs = append(evs, exchange.Event{Trade: t})
	}
	return evs, errors.Join(errs...)
}

func (p *parser) trade(v *fastjson.Value, si *symbolInfo, recv int64) (*market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("not an object")
	}
	s, err0 := jsonf.Str(o, "s")
	ts, err1 := jsonf.Int(o, "T")
	sd, err2 := side(o, "S")
	qty, err3 := jsonf.Dec(o, "v", true)
	price, err4 := jsonf.Dec(o, "p", true)
	id, err5 := jsonf.Str(o, "i")
	if err := errors.Join(err0, err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	if string(s) != si.venue {
		return nil, fmt.Errorf("s %q in a %s topic", s, si.venue)
	}
	if ts <= 0 || len(id) == 0 || len(id) > 64 {
		return nil, errors.New("T or i out of range")
	}
	si.last, si.hasLast = price, true
	return &market.Trade{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, TradeID: string(id), Price: price, Quantity: qty,
		Side: sd, ExchangeTimeUs: ts * 1000, ReceivedTimeUs: recv}, nil
}

// levels reads [[price, size], ...] of decimal strings; size 0 removes.
func levels(o *fastjson.Object, key string) ([]market.Level, error) {
	return jsonf.Levels(o.Get(key), key, "size", false)
}

// bookData reads what the orderbook topics share: type, the data object
// with s, b, a, u, seq, and the time (cts, the matching engine's, else ts).
func (p *parser) bookData(o *fastjson.Object, sym []byte) (si *symbolInfo, snapshot bool, d *fastjson.Object, u, atMs int64, err error) {
	if si, err = p.symbol(sym); err != nil {
		return
	}
	typ, err := jsonf.Str(o, "type")
	if err != nil {
		return
	}
	switch string(typ) {
	case "snapshot":
		snapshot = true
	case "delta":
	default:
		err = fmt.Errorf("type %q is neither snapshot nor delta", typ)
		return
	}
	if d, err = objectOf(o.Get("data")); err != nil {
		err = errors.New("data: want an object")
		return
	}
	s, err1 := jsonf.Str(d, "s")
	u, err2 := jsonf.Int(d, "u")
	if err = errors.Join(err1, err2); err != nil {
		return
	}
	if string(s) != si.venue {
		err = fmt.Errorf("s %q in a %s topic", s, si.venue)
		return
	}
	if u <= 0 {
		err = fmt.Errorf("u %d out of range", u)
		return
	}
	if atMs, err = jsonf.Int(o, "cts"); err != nil {
		atMs, err = jsonf.Int(o, "ts")
	}
	if err == nil && atMs <= 0 {
		err = errors.New("ts out of range")
	}
	return
}

// book: orderbook.{50,200,1000}. A snapshot resets the book; u=1 is a
// snapshot after Bybit restarted the service, whatever its type says. u is
// the Sequence; it increases but is not promised consecutive (see
// exchange.DepthSync).
func (p *parser) book(o *fastjson.Object, sym []byte, recv int64) (*market.BookUpdate, error) {
	si, snapshot, d, u, at, err := p.bookData(o, sym)
	if err != nil {
		return nil, err
	}
	bids, err1 := levels(d, "b")
	asks, err2 := levels(d, "a")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if u == 1 {
		snapshot = true
	}
	prev := u - 1
	if snapshot {
		prev = u
	}
	return &market.BookUpdate{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, Snapshot: snapshot, Sequence: u, PrevSequence: prev,
		Bids: bids, Asks: asks, ExchangeTimeUs: at * 1000, ReceivedTimeUs: recv}, nil
}

// bbo: orderbook.1, always a snapshot of the best bid and ask. It becomes
// a Ticker whose Last is the session's last trade price; none is made
// before a trade has been seen, or while a side is empty.
func (p *parser) bbo(o *fastjson.Object, sym []byte, recv int64, fr *frame) (*market.Ticker, error) {
	si, _, d, _, at, err := p.bookData(o, sym)
	if err != nil {
		return nil, err
	}
	bids, err1 := levels(d, "b")
	asks, err2 := levels(d, "a")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if len(bids) > 1 || len(asks) > 1 {
		return nil, fmt.Errorf("%d bids and %d asks in a level-1 book", len(bids), len(asks))
	}
	if len(bids) == 1 && len(asks) == 1 && bids[0].Price.Cmp(asks[0].Price) >= 0 {
		return nil, fmt.Errorf("crossed best bid %s ≥ best ask %s", bids[0].Price, asks[0].Price)
	}
	fr.bookSym, fr.seq, fr.level1 = si.venue, seqOf(o), true
	if len(bids) == 1 {
		fr.bid = bids[0]
	}
	if len(asks) == 1 {
		fr.ask = asks[0]
	}
	if len(bids) == 0 || len(asks) == 0 || !si.hasLast {
		return nil, nil
	}
	return &market.Ticker{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, Last: si.last,
		BestBid: bids[0].Price, BestBidSize: bids[0].Quantity, BestAsk: asks[0].Price, BestAskSize: asks[0].Quantity, HasBBO: true,
		ExchangeTimeUs: at * 1000, ReceivedTimeUs: recv}, nil
}

// seqOf is data.seq, the cross sequence, or 0 when absent or not an
// integer (then no cross-check is made).
func seqOf(o *fastjson.Object) int64 {
	d, err := objectOf(o.Get("data"))
	if err != nil {
		return 0
	}
	n, err := jsonf.Int(d, "seq")
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// arrayOf is v's array; a missing value is an error, not a panic.
func arrayOf(v *fastjson.Value) ([]*fastjson.Value, error) {
	if v == nil {
		return nil, errors.New("missing")
	}
	return v.Array()
}

// objectOf is v's object; a missing value is an error, not a panic.
func objectOf(v *fastjson.Value) (*fastjson.Object, error) {
	if v == nil {
		return nil, errors.New("missing")
	}
	return v.Object()
}

// restEnvelope checks Bybit's REST envelope {"retCode":0,"retMsg":"OK",
// "result":{…}} and returns result.
func restEnvelope(fj *fastjson.Parser, body []byte, path string) (*fastjson.Object, error) {
	v, err := fj.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("bybit: GET %s: unexpected answer: %w", path, err)
	}
	if code := v.GetInt("retCode"); code != 0 || v.Get("retCode") == nil {
		return nil, venueError(path, code, string(v.GetStringBytes("retMsg")))
	}
	res, err := objectOf(v.Get("result"))
	if err != nil {
		return nil, fmt.Errorf("bybit: GET %s: no result object", path)
	}
	return res, nil
}

// venueError is an error Bybit reports in the body's retCode; 10006 ("Too
// many visits!") and 10018 (IP limit) match exchange.ErrRateLimited, so the
// caller backs off.
func venueError(path string, code int, msg string) error {
	if code == 10006 || code == 10018 {
		return fmt.Errorf("bybit: GET %s: retCode %d %s: %w", path, code, msg, exchange.ErrRateLimited)
	}
	return fmt.Errorf("bybit: GET %s: retCode %d %s", path, code, msg)
}

// restTrades parses GET /v5/market/recent-trade: list of {execId, symbol,
// price, size, side, time (ms string), isBlockTrade}, returned oldest
// first whichever order the wire has.
func restTrades(body []byte, path, exch string, si *symbolInfo, recv int64) ([]market.Trade, error) {
	var fj fastjson.Parser
	res, err := restEnvelope(&fj, body, path)
	if err != nil {
		return nil, err
	}
	arr, err := arrayOf(res.Get("list"))
	if err != nil {
		return nil, fmt.Errorf("bybit: GET %s: result.list: want an array", path)
	}
	out := make([]market.Trade, 0, len(arr))
	for i, v := range arr {
		t, err := restTrade(v, exch, si, recv)
		if err != nil {
			return nil, fmt.Errorf("bybit: trade %d of GET %s: %w", i, path, err)
		}
		out = append(out, t)
	}
	if len(out) > 1 && newer(out[0], out[len(out)-1]) {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// newer reports whether a is later than b: by time, then by numeric id.
func newer(a, b market.Trade) bool {
	if a.ExchangeTimeUs != b.ExchangeTimeUs {
		return a.ExchangeTimeUs > b.ExchangeTimeUs
	}
	x, err1 := strconv.ParseInt(a.TradeID, 10, 64)
	y, err2 := strconv.ParseInt(b.TradeID, 10, 64)
	return err1 == nil && err2 == nil && x > y
}

func restTrade(v *fastjson.Value, exch string, si *symbolInfo, recv int64) (market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return market.Trade{}, errors.New("not an object")
	}
	id, err1 := jsonf.Str(o, "execId")
	s, err2 := jsonf.Str(o, "symbol")
	price, err3 := jsonf.Dec(o, "price", true)
	qty, err4 := jsonf.Dec(o, "size", true)
	sd, err5 := side(o, "side")
	tms, err6 := jsonf.Str(o, "time")
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return market.Trade{}, err
	}
	ms, err := strconv.ParseInt(string(tms), 10, 64)
	if err != nil || ms <= 0 {
		return market.Trade{}, fmt.Errorf("time %q: want milliseconds", tms)
	}
	if string(s) != si.venue || len(id) == 0 || len(id) > 64 {
		return market.Trade{}, fmt.Errorf("symbol %q or execId %q out of range", s, id)
	}
	return market.Trade{Exchange: exch, Symbol: si.norm, VenueSymbol: si.venue, TradeID: string(id), Price: price, Quantity: qty,
		Side: sd, ExchangeTimeUs: ms * 1000, ReceivedTimeUs: recv, Backfilled: true}, nil
}
