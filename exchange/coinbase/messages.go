package coinbase

// Parsing of Coinbase Advanced Trade WebSocket frames and REST answers
// (see PROTOCOL.md). Every frame is an envelope {"channel","timestamp",
// "sequence_num","events":[...]}; sequence_num counts per connection across
// all channels, so gaps are checked on it, never per channel. JSON is read
// with valyala/fastjson; numbers are decimal strings, never float64.

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from Coinbase carry.
const Name = "coinbase"

// SyntheticName is the exchange name of events from the fake Coinbase.
const SyntheticName = "coinbase-synthetic"

// parser turns frames into events. One goroutine at a time.
type parser struct {
	exchange string
	// symbols maps a product id as frames carry it to (subscribed product,
	// normalized symbol): subscriptions to X-USDC come back tagged X-USD.
	symbols map[string][2]string
	now     func() int64
	fj      fastjson.Parser
	bbo     map[string][2]market.Decimal // last best bid/ask, for the side evidence
	// Evidence on the meaning of market_trades' side: trades at or beyond
	// the last best ask/bid, and whether side agreed with "taker".
	SideTaker, SideMaker int64
}

func newParser(exch string, products []string, now func() int64) *parser {
	p := &parser{exchange: exch, symbols: map[string][2]string{}, now: now, bbo: map[string][2]market.Decimal{}}
	for _, pr := range products {
		p.symbols[pr] = [2]string{pr, normalize(pr)}
	}
	for _, pr := range products {
		if base, ok := strings.CutSuffix(pr, "-USDC"); ok {
			if _, sub := p.symbols[base+"-USD"]; !sub {
				p.symbols[base+"-USD"] = [2]string{pr, normalize(pr)}
			}
		}
	}
	return p
}

func normalize(product string) string {
	base, quote, ok := strings.Cut(product, "-")
	if !ok {
		return strings.ToUpper(product)
	}
	return exchange.Symbol(base, quote, nil)
}

// frame is what parse found besides events.
type frame struct {
	seq    int64
	hasSeq bool
	acks   []string // channels an acknowledgement lists
}

func micros(b []byte) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", b, err)
	}
	return t.UnixMicro(), nil
}

// parse decodes one frame.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, fr, err
	}
	if sv := o.Get("sequence_num"); sv != nil {
		if fr.seq, err = sv.Int64(); err == nil && fr.seq >= 0 {
			fr.hasSeq = true
		}
	}
	if t, _ := jsonf.Str(o, "type"); string(t) == "error" {
		msg, _ := jsonf.Str(o, "message")
		return nil, fr, exchange.NewFrameError("venue_error", errors.New(string(msg)), raw)
	}
	ch, err := jsonf.Str(o, "channel")
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	if !fr.hasSeq {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("no sequence_num"), raw)
	}
	evsv := o.Get("events")
	if evsv == nil || evsv.Type() != fastjson.TypeArray {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("events is not an array"), raw)
	}
	items, _ := evsv.Array()
	tsb, err := jsonf.Str(o, "timestamp")
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	ts, err := micros(tsb)
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	recv := p.now()
	var evs []exchange.Event
	var bad error
	kind := "bad_" + string(ch)
	switch string(ch) {
	case "heartbeats":
		return nil, fr, nil
	case "subscriptions":
		for _, it := range items {
			if so := it.GetObject("subscriptions"); so != nil {
				so.Visit(func(k []byte, _ *fastjson.Value) { fr.acks = append(fr.acks, string(k)) })
			}
		}
		return nil, fr, nil
	case "market_trades":
		for _, it := range items {
			trades := it.GetArray("trades")
			for i, tv := range trades {
				t, err := p.trade(tv, recv)
				if err != nil {
					bad = fmt.Errorf("trade %d: %w", i, err)
					continue
				}
				evs = append(evs, exchange.Event{Trade: t})
			}
		}
	case "ticker", "ticker_batch":
		kind = "bad_ticker"
		for _, it := range items {
			for i, tv := range it.GetArray("tickers") {
				t, err := p.ticker(tv, ts, recv)
				if err != nil {
					bad = fmt.Errorf("ticker %d: %w", i, err)
					continue
				}
				evs = append(evs, exchange.Event{Ticker: t})
			}
		}
	case "l2_data":
		kind = "bad_book"
		for i, it := range items {
			u, err := p.book(it, fr.seq, ts, recv)
			if err != nil {
				bad = fmt.Errorf("event %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Book: u})
		}
	default:
		return nil, fr, exchange.NewFrameError("unknown_channel", fmt.Errorf("channel %q", ch), raw)
	}
	if bad != nil {
		return evs, fr, exchange.NewFrameError(kind, bad, raw)
	}
	return evs, fr, nil
}

func (p *parser) product(o *fastjson.Object) ([2]string, error) {
	b, err := jsonf.Str(o, "product_id")
	if err != nil {
		return [2]string{}, err
	}
	n, ok := p.symbols[string(b)]
	if !ok {
		return n, fmt.Errorf("product %q not subscribed", b)
	}
	return n, nil
}

// trade: trade_id, product_id, price, size (base), side BUY/SELL (the
// taker's, see PROTOCOL.md), time.
func (p *parser) trade(v *fastjson.Value, recv int64) (*market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("not an object")
	}
	n, err := p.product(o)
	if err != nil {
		return nil, err
	}
	id, err1 := jsonf.Str(o, "trade_id")
	price, err2 := jsonf.Dec(o, "price", true)
	size, err3 := jsonf.Dec(o, "size", true)
	sideb, err4 := jsonf.Str(o, "side")
	tb, err5 := jsonf.Str(o, "time")
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, err
	}
	if len(id) == 0 {
		return nil, errors.New("empty trade_id")
	}
	at, err := micros(tb)
	if err != nil {
		return nil, err
	}
	var side market.Side
	switch string(sideb) {
	case "BUY":
		side = market.SideBuy
	case "SELL":
		side = market.SideSell
	default:
		return nil, fmt.Errorf("side %q", sideb)
	}
	if q, ok := p.bbo[n[0]]; ok {
		switch { // a trade at or above the ask was a buyer taking it
		case price.Cmp(q[1]) >= 0 && q[1].Sign() > 0:
			p.evidence(side == market.SideBuy)
		case price.Cmp(q[0]) <= 0:
			p.evidence(side == market.SideSell)
		}
	}
	return &market.Trade{Exchange: p.exchange, Symbol: n[1], VenueSymbol: n[0], TradeID: string(id), Price: price, Quantity: size,
		Side: side, ExchangeTimeUs: at, ReceivedTimeUs: recv}, nil
}

func (p *parser) evidence(taker bool) {
	if taker {
		p.SideTaker++
	} else {
		p.SideMaker++
	}
}

var hundred = big.NewRat(100, 1)

// ticker: price (last), volume_24_h (base), high/low_24_h,
// price_percent_chg_24_h, best_bid/ask with quantities.
func (p *parser) ticker(v *fastjson.Value, ts, recv int64) (*market.Ticker, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("not an object")
	}
	n, err := p.product(o)
	if err != nil {
		return nil, err
	}
	t := &market.Ticker{Exchange: p.exchange, Symbol: n[1], VenueSymbol: n[0], ExchangeTimeUs: ts, ReceivedTimeUs: recv}
	if t.Last, err = jsonf.Dec(o, "price", true); err != nil {
		return nil, err
	}
	if o.Get("best_bid") != nil {
		var errs [4]error
		t.BestBid, errs[0] = jsonf.Dec(o, "best_bid", false)
		t.BestBidSize, errs[1] = jsonf.Dec(o, "best_bid_quantity", false)
		t.BestAsk, errs[2] = jsonf.Dec(o, "best_ask", false)
		t.BestAskSize, errs[3] = jsonf.Dec(o, "best_ask_quantity", false)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, err
		}
		if t.BestBid.Sign() > 0 && t.BestBid.Cmp(t.BestAsk) >= 0 {
			return nil, fmt.Errorf("crossed best bid %s ≥ best ask %s", t.BestBid, t.BestAsk)
		}
		t.HasBBO = true
		p.bbo[n[0]] = [2]market.Decimal{t.BestBid, t.BestAsk}
	}
	if pct, err := jsonf.Str(o, "price_percent_chg_24_h"); err == nil {
		if d, err := market.ParseDecimalBytes(pct); err == nil {
			if t.DailyChange, err = market.RoundRat(new(big.Rat).Quo(d.Rat(), hundred), 18); err == nil {
				t.HasDailyChange = true
			}
		}
	}
	return t, nil
}

// book: one l2_data event, type snapshot or update, updates[] of {side
// bid/offer, event_time, price_level, new_quantity (absolute, 0 removes)}.
func (p *parser) book(v *fastjson.Value, seq, ts, recv int64) (*market.BookUpdate, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("not an object")
	}
	n, err := p.product(o)
	if err != nil {
		return nil, err
	}
	typ, err := jsonf.Str(o, "type")
	if err != nil {
		return nil, err
	}
	if string(typ) != "snapshot" && string(typ) != "update" {
		return nil, fmt.Errorf("type %q", typ)
	}
	u := &market.BookUpdate{Exchange: p.exchange, Symbol: n[1], VenueSymbol: n[0], Snapshot: string(typ) == "snapshot",
		Sequence: seq, PrevSequence: seq - 1, Bids: []market.Level{}, Asks: []market.Level{}, ExchangeTimeUs: ts, ReceivedTimeUs: recv}
	for i, lv := range v.GetArray("updates") {
		lo, err := lv.Object()
		if err != nil {
			return nil, fmt.Errorf("update %d: not an object", i)
		}
		side, err1 := jsonf.Str(lo, "side")
		price, err2 := jsonf.Dec(lo, "price_level", true)
		qty, err3 := jsonf.Dec(lo, "new_quantity", false)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("update %d: %w", i, err)
		}
		switch string(side) {
		case "bid":
			u.Bids = append(u.Bids, market.Level{Price: price, Quantity: qty})
		case "offer", "ask":
			u.Asks = append(u.Asks, market.Level{Price: price, Quantity: qty})
		default:
			return nil, fmt.Errorf("update %d: side %q", i, side)
		}
	}
	return u, nil
}

// restTrade parses one element of the REST ticker's trades[].
func (p *parser) restTrade(v *fastjson.Value, recv int64) (market.Trade, error) {
	t, err := p.trade(v, recv)
	if err != nil {
		return market.Trade{}, err
	}
	t.Backfilled = true
	return *t, nil
}
