package bitstamp

// Parsing of Bitstamp WebSocket v2 frames and REST v2 answers (see
// PROTOCOL.md). Every frame is {"event":…, "channel":…, "data":…}. Trades
// carry each number twice, as a JSON float (amount, price) and as exact
// text (amount_str, price_str): only the text is read, the floats are never
// looked at. Book levels are [price, amount] pairs of decimal strings.

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

// Name is the exchange name events from Bitstamp carry.
const Name = "bitstamp"

// SyntheticName is the exchange name of events from the fake Bitstamp.
const SyntheticName = "bitstamp-synthetic"

// Channel prefixes; the pair (btcusd) follows.
const (
	chanTrades = "live_trades_"
	chanDiff   = "diff_order_book_"
	chanTop    = "order_book_"
)

// symbolInfo is one pair as the session knows it.
type symbolInfo struct {
	venue, norm string
	last        market.Decimal // last trade price seen, for tickers
	hasLast     bool
	bid, ask    market.Level // best bid and ask of the last ticker sent
}

// parser turns frames into events. One goroutine at a time.
type parser struct {
	exchange string
	symbols  map[string]*symbolInfo // url symbol (btcusd) → info
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
	ack       string // a subscribed channel (bts:subscription_succeeded)
	reconnect bool   // bts:request_reconnect: reconnect now
	heartbeat bool   // the answer to our bts:heartbeat
	diff      string // a diff_order_book update's venue symbol
	top       *topBook
}

// topBook is an order_book (top 100) snapshot: the session compares it
// with the book it keeps from diffs.
type topBook struct {
	sym        string
	timeUs     int64
	bids, asks []market.Level
}

// parse decodes one frame: its events, what the session must know, and a
// *exchange.FrameError when something was unusable.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, fr, err
	}
	ev, err := jsonf.Str(o, "event")
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	ch, _ := jsonf.Str(o, "channel")
	switch string(ev) {
	case "bts:subscription_succeeded":
		fr.ack = string(ch)
		return nil, fr, nil
	case "bts:unsubscription_succeeded":
		return nil, fr, nil
	case "bts:heartbeat":
		fr.heartbeat = true
		return nil, fr, nil
	case "bts:request_reconnect":
		fr.reconnect = true
		return nil, fr, nil
	case "bts:error":
		msg := "no message"
		if d := o.Get("data"); d != nil {
			if m := d.GetStringBytes("message"); m != nil {
				msg = string(m)
			}
		}
		return nil, fr, exchange.NewFrameError("venue_error", fmt.Errorf("bts:error: %s", msg), raw)
	case "trade", "data":
	default:
		return nil, fr, exchange.NewFrameError("unknown_event", fmt.Errorf("event %q", ev), raw)
	}
	data := o.Get("data")
	if data == nil || data.Type() != fastjson.TypeObject {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("data: want an object"), raw)
	}
	d, _ := data.Object()
	recv := p.now()
	c := string(ch)
	switch {
	case string(ev) == "trade" && strings.HasPrefix(c, chanTrades):
		si, err := p.symbol(c[len(chanTrades):])
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_trade", err, raw)
		}
		t, err := p.trade(d, si, recv)
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_trade", err, raw)
		}
		si.last, si.hasLast = t.Price, true
		return []exchange.Event{{Trade: t}}, fr, nil
	case string(ev) == "data" && strings.HasPrefix(c, chanDiff):
		si, err := p.symbol(c[len(chanDiff):])
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_book", err, raw)
		}
		u, err := p.book(d, si, recv)
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_book", err, raw)
		}
		fr.diff = si.venue
		return []exchange.Event{{Book: u}}, fr, nil
	case string(ev) == "data" && strings.HasPrefix(c, chanTop):
		si, err := p.symbol(c[len(chanTop):])
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_ticker", err, raw)
		}
		u, err := p.book(d, si, recv)
		if err == nil {
			err = uncrossed(u.Bids, u.Asks)
		}
		if err != nil {
			return nil, fr, exchange.NewFrameError("bad_ticker", err, raw)
		}
		fr.top = &topBook{sym: si.venue, timeUs: u.ExchangeTimeUs, bids: u.Bids, asks: u.Asks}
		if t := p.ticker(si, u); t != nil {
			return []exchange.Event{{Ticker: t}}, fr, nil
		}
		return nil, fr, nil
	}
	return nil, fr, exchange.NewFrameError("unknown_channel", fmt.Errorf("event %q on channel %q", ev, ch), raw)
}

// symbol returns a pair the session subscribed to.
func (p *parser) symbol(s string) (*symbolInfo, error) {
	si := p.symbols[s]
	if si == nil {
		return nil, fmt.Errorf("pair %q: not subscribed", s)
	}
	return si, nil
}

// trade reads live_trades data: id, amount_str, price_str, type (0 buy, 1
// sell: the taker's side), microtimestamp. amount and price (floats) are
// not read.
func (p *parser) trade(d *fastjson.Object, si *symbolInfo, recv int64) (*market.Trade, error) {
	id, err1 := jsonf.Int(d, "id")
	qty, err2 := jsonf.Dec(d, "amount_str", true)
	price, err3 := jsonf.Dec(d, "price_str", true)
	typ, err4 := jsonf.Int(d, "type")
	ts, err5 := micros(d, "microtimestamp")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, fmt.Errorf("id: %d out of range", id)
	}
	side, err := takerSide(typ)
	if err != nil {
		return nil, err
	}
	return &market.Trade{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, TradeID: strconv.FormatInt(id, 10),
		Price: price, Quantity: qty, Side: side, ExchangeTimeUs: ts, ReceivedTimeUs: recv}, nil
}

func takerSide(typ int64) (market.Side, error) {
	switch typ {
	case 0:
		return market.SideBuy, nil
	case 1:
		return market.SideSell, nil
	}
	return market.SideUnknown, fmt.Errorf("type: %d is neither 0 (buy) nor 1 (sell)", typ)
}

// micros reads a microsecond time sent as a string of digits.
func micros(d *fastjson.Object, key string) (int64, error) {
	b, err := jsonf.Str(d, key)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: %q is not a positive integer", key, b)
	}
	return n, nil
}

// book reads diff_order_book or order_book data (and the REST order_book
// answer): microtimestamp, bids and asks as [price, amount] strings; in a
// diff an amount of 0 removes the level.
func (p *parser) book(d *fastjson.Object, si *symbolInfo, recv int64) (*market.BookUpdate, error) {
	ts, err1 := micros(d, "microtimestamp")
	bids, err2 := levels(d, "bids")
	asks, err3 := levels(d, "asks")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	return &market.BookUpdate{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, Bids: bids, Asks: asks,
		ExchangeTimeUs: ts, ReceivedTimeUs: recv}, nil
}

// levels reads [[price, amount], ...]; the REST order_book may add an
// order id (group=2): only the first two are read.
func levels(o *fastjson.Object, key string) ([]market.Level, error) {
	return jsonf.Levels(o.Get(key), key, "amount", true)
}

// uncrossed checks a whole-book snapshot: the best bid below the best ask.
func uncrossed(bids, asks []market.Level) error {
	if len(bids) == 0 || len(asks) == 0 {
		return nil
	}
	bb, ba := bids[0].Price, asks[0].Price
	for _, l := range bids[1:] {
		if l.Price.Cmp(bb) > 0 {
			bb = l.Price
		}
	}
	for _, l := range asks[1:] {
		if l.Price.Cmp(ba) < 0 {
			ba = l.Price
		}
	}
	if bb.Cmp(ba) >= 0 {
		return fmt.Errorf("crossed book: best bid %s ≥ best ask %s", bb, ba)
	}
	return nil
}

// ticker is the best bid and ask of an order_book snapshot, when either
// changed since the last one and a trade price is known (a Ticker carries
// Last); nil otherwise. The levels come best first.
func (p *parser) ticker(si *symbolInfo, u *market.BookUpdate) *market.Ticker {
	if len(u.Bids) == 0 || len(u.Asks) == 0 || !si.hasLast {
		return nil
	}
	b, a := u.Bids[0], u.Asks[0]
	if same(b, si.bid) && same(a, si.ask) {
		return nil
	}
	si.bid, si.ask = b, a
	return &market.Ticker{Exchange: p.exchange, Symbol: si.norm, VenueSymbol: si.venue, Last: si.last,
		BestBid: b.Price, BestBidSize: b.Quantity, BestAsk: a.Price, BestAskSize: a.Quantity, HasBBO: true,
		ExchangeTimeUs: u.ExchangeTimeUs, ReceivedTimeUs: u.ReceivedTimeUs}
}

func same(a, b market.Level) bool { return a.Price.Equal(b.Price) && a.Quantity.Equal(b.Quantity) }

// restBook reads GET /api/v2/order_book/{pair}/: a snapshot at its
// microtimestamp.
func restBook(body []byte, exch string, si *symbolInfo, recv int64) (*market.BookUpdate, error) {
	var fj fastjson.Parser
	o, err := jsonf.Frame(&fj, body)
	if err != nil {
		return nil, err
	}
	p := parser{exchange: exch}
	u, err := p.book(o, si, recv)
	if err != nil {
		return nil, err
	}
	if err := uncrossed(u.Bids, u.Asks); err != nil {
		return nil, err
	}
	for _, side := range [][]market.Level{u.Bids, u.Asks} {
		for _, l := range side {
			if l.Quantity.IsZero() {
				return nil, fmt.Errorf("snapshot level %s with amount 0", l.Price)
			}
		}
	}
	u.Snapshot = true
	return u, nil
}

// restTrades reads GET /api/v2/transactions/{pair}/: rows of date (unix
// seconds), tid, price, amount, type ("0" buy, "1" sell), all strings,
// newest first. Times are whole seconds: the REST answer has no
// microtimestamp.
func restTrades(body []byte, exch string, si *symbolInfo, recv int64) ([]market.Trade, error) {
	var fj fastjson.Parser
	v, err := fj.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("not an array")
	}
	out := make([]market.Trade, 0, len(arr))
	for i, r := range arr {
		o, err := r.Object()
		if err != nil {
			return nil, fmt.Errorf("row %d: not an object", i)
		}
		id, err1 := intStr(o, "tid")
		date, err2 := intStr(o, "date")
		price, err3 := jsonf.Dec(o, "price", true)
		qty, err4 := jsonf.Dec(o, "amount", true)
		typ, err5 := intStr(o, "type")
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		side, err := takerSide(typ)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		if id <= 0 || date <= 0 || date > 1<<40 {
			return nil, fmt.Errorf("row %d: tid %d or date %d out of range", i, id, date)
		}
		out = append(out, market.Trade{Exchange: exch, Symbol: si.norm, VenueSymbol: si.venue, TradeID: strconv.FormatInt(id, 10),
			Price: price, Quantity: qty, Side: side, ExchangeTimeUs: date * 1_000_000, ReceivedTimeUs: recv, Backfilled: true})
	}
	return out, nil
}

// intStr reads an integer sent as a string (or, leniently, a number).
func intStr(o *fastjson.Object, key string) (int64, error) {
	v := o.Get(key)
	if v != nil && v.Type() == fastjson.TypeNumber {
		return jsonf.Int(o, key)
	}
	b, err := jsonf.Str(o, key)
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer string", key)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, b)
	}
	return n, nil
}

// restPairs reads GET /api/v2/trading-pairs-info/: name (BTC/USD),
// url_symbol (btcusd), base_decimals, counter_decimals, trading.
func restPairs(body []byte) ([]exchange.Market, error) {
	var fj fastjson.Parser
	v, err := fj.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("not an array")
	}
	out := make([]exchange.Market, 0, len(arr))
	for i, r := range arr {
		o, err := r.Object()
		if err != nil {
			return nil, fmt.Errorf("pair %d: not an object", i)
		}
		name, err1 := jsonf.Str(o, "name")
		url, err2 := jsonf.Str(o, "url_symbol")
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("pair %d: %w", i, err)
		}
		base, quote, ok := strings.Cut(string(name), "/")
		if !ok || base == "" || quote == "" || len(url) == 0 {
			return nil, fmt.Errorf("pair %d: name %q is not BASE/QUOTE", i, name)
		}
		m := exchange.Market{VenueSymbol: string(url), Symbol: exchange.Symbol(base, quote, nil), Base: exchange.NormalizeAsset(base, nil),
			Quote: exchange.NormalizeAsset(quote, nil), PriceScale: -1, SizeScale: -1}
		if n, err := jsonf.Int(o, "counter_decimals"); err == nil && n >= 0 && n <= market.MaxScale {
			m.PriceScale = int(n)
		}
		if n, err := jsonf.Int(o, "base_decimals"); err == nil && n >= 0 && n <= market.MaxScale {
			m.SizeScale = int(n)
		}
		if t, err := jsonf.Str(o, "trading"); err == nil {
			m.Status = string(t)
		}
		out = append(out, m)
	}
	return out, nil
}

// quotes are the quote assets a pair's url symbol may end with, for pairs
// trading-pairs-info could not confirm.
var quotes = []string{"usdt", "usdc", "pyusd", "rlusd", "eur", "usd", "gbp", "btc", "eth"}

// guessMarket splits btcusd by its quote asset.
func guessMarket(sym string) exchange.Market {
	for _, q := range quotes {
		if b, ok := strings.CutSuffix(sym, q); ok && b != "" {
			return exchange.Market{VenueSymbol: sym, Symbol: exchange.Symbol(b, q, nil), Base: exchange.NormalizeAsset(b, nil),
				Quote: exchange.NormalizeAsset(q, nil), PriceScale: -1, SizeScale: -1}
		}
	}
	return exchange.Market{VenueSymbol: sym, Symbol: strings.ToUpper(sym), PriceScale: -1, SizeScale: -1}
}
