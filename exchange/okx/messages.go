package okx

// Parsing of OKX v5 public WebSocket frames and REST answers (see
// PROTOCOL.md). Every price and size is a JSON string on the wire and
// becomes a market.Decimal from its text; timestamps are millisecond
// strings. Frames are read with valyala/fastjson through the shared field
// readers of exchange/internal/jsonf.

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from OKX carry.
const Name = "okx"

// SyntheticName is the exchange name of events from the fake OKX, so that
// its synthetic data can never pass for the real market's downstream.
const SyntheticName = "okx-synthetic"

// ChecksumDepth is how many levels a side OKX's book checksum covers.
const ChecksumDepth = 25

// ack is a subscribe or unsubscribe acknowledgement.
type ack struct {
	event, channel, instID string
}

// frame is what a control frame said (acknowledgements, a venue error).
type frame struct {
	acks   []ack
	errMsg string // an {"event":"error"} frame: "code: msg"
	pong   bool
}

type parser struct {
	fj       fastjson.Parser
	exchange string
	now      func() int64 // µs
}

func newParser(exchangeName string, now func() int64) *parser {
	return &parser{exchange: exchangeName, now: now}
}

// Normalize maps an OKX instId (BTC-USDT) to BASE-QUOTE with the common
// asset spellings.
func Normalize(instID string) string {
	base, quote, ok := strings.Cut(instID, "-")
	if !ok {
		return strings.ToUpper(instID)
	}
	return exchange.Symbol(base, quote, nil)
}

// parse decodes one frame. An error wrapping *exchange.FrameError means the
// frame, or an item of it, was not used; the events returned are good.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	if string(raw) == "pong" {
		fr.pong = true
		return nil, fr, nil
	}
	o, err := jsonf.Frame(&p.fj, raw)
	if err != nil {
		return nil, fr, err
	}
	if ev := o.Get("event"); ev != nil {
		return p.event(o, raw)
	}
	arg := o.Get("arg")
	if arg == nil || arg.Type() != fastjson.TypeObject {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("arg: want an object"), raw)
	}
	ao, _ := arg.Object()
	ch, err := jsonf.Str(ao, "channel")
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", fmt.Errorf("arg.%w", err), raw)
	}
	dv := o.Get("data")
	if dv == nil || dv.Type() != fastjson.TypeArray {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("data: want an array"), raw)
	}
	items, _ := dv.Array()
	recv := p.now()
	var (
		evs  []exchange.Event
		bad  error
		kind string
	)
	switch string(ch) {
	case "trades-all", "trades":
		kind = "bad_trade"
		for i, it := range items {
			t, err := p.trade(it, recv)
			if err != nil {
				bad = fmt.Errorf("trade %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Trade: t})
		}
	case "tickers":
		kind = "bad_ticker"
		for i, it := range items {
			t, err := p.ticker(it, recv)
			if err != nil {
				bad = fmt.Errorf("ticker %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Ticker: t})
		}
	case "books":
		kind = "bad_book"
		inst, err := jsonf.Str(ao, "instId")
		if err != nil {
			return nil, fr, exchange.NewFrameError(kind, fmt.Errorf("arg.%w", err), raw)
		}
		var snapshot bool
		switch a, _ := jsonf.Str(o, "action"); string(a) {
		case "snapshot":
			snapshot = true
		case "update":
		default:
			return nil, fr, exchange.NewFrameError(kind, fmt.Errorf("action %q: want snapshot or update", a), raw)
		}
		for i, it := range items {
			u, err := p.book(it, string(inst), snapshot, recv)
			if err != nil {
				bad = fmt.Errorf("book %d: %w", i, err)
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

// event reads an {"event":...} frame: subscribe/unsubscribe
// acknowledgements, errors, and the notice that the connection will close
// for a service upgrade (a roll-over).
func (p *parser) event(o *fastjson.Object, raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	ev, err := jsonf.Str(o, "event")
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	switch string(ev) {
	case "subscribe", "unsubscribe":
		a := ack{event: string(ev)}
		if arg := o.Get("arg"); arg != nil {
			a.channel = string(arg.GetStringBytes("channel"))
			a.instID = string(arg.GetStringBytes("instId"))
		}
		fr.acks = append(fr.acks, a)
		return nil, fr, nil
	case "error":
		fr.errMsg = text(o, "code") + ": " + text(o, "msg")
		return nil, fr, exchange.NewFrameError("venue_error", fmt.Errorf("OKX error %s", fr.errMsg), raw)
	case "notice":
		// 64008: "The connection will soon be closed for a service upgrade."
		msg := text(o, "code") + ": " + text(o, "msg")
		return []exchange.Event{{RollOver: &exchange.RollOver{Reason: "OKX notice " + msg}}}, fr, nil
	case "channel-conn-count", "channel-conn-count-error", "login":
		return nil, fr, nil
	}
	return nil, fr, exchange.NewFrameError("unknown_event", fmt.Errorf("event %q", ev), raw)
}

// text is o[key] when it is a string, else "".
func text(o *fastjson.Object, key string) string {
	b, _ := jsonf.Str(o, key)
	return string(b)
}

// millis reads a millisecond timestamp string as µs.
func millis(o *fastjson.Object, key string) (int64, error) {
	b, err := jsonf.Str(o, key)
	if err != nil {
		return 0, err
	}
	ms, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/1000 {
		return 0, fmt.Errorf("%s %q: want milliseconds", key, b)
	}
	return ms * 1000, nil
}

// tradeID reads a trade id: decimal digits, as OKX writes them.
func tradeID(o *fastjson.Object) (string, error) {
	b, err := jsonf.Str(o, "tradeId")
	if err != nil {
		return "", err
	}
	if len(b) == 0 || len(b) > 19 {
		return "", fmt.Errorf("tradeId %q: want a decimal id", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("tradeId %q: want a decimal id", b)
		}
	}
	return string(b), nil
}

// trade reads one trade of trades-all (or trades with count 1) or of the
// REST trades endpoints, which share the fields.
func (p *parser) trade(v *fastjson.Value, recv int64) (*market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	inst, err := jsonf.Str(o, "instId")
	if err != nil {
		return nil, err
	}
	t := &market.Trade{Exchange: p.exchange, VenueSymbol: string(inst), Symbol: Normalize(string(inst)), ReceivedTimeUs: recv}
	if t.TradeID, err = tradeID(o); err != nil {
		return nil, err
	}
	if t.Price, err = jsonf.Dec(o, "px", true); err != nil {
		return nil, err
	}
	if t.Quantity, err = jsonf.Dec(o, "sz", true); err != nil {
		return nil, err
	}
	switch side, _ := jsonf.Str(o, "side"); string(side) {
	case "buy":
		t.Side = market.SideBuy
	case "sell":
		t.Side = market.SideSell
	default:
		return nil, fmt.Errorf("side %q: want buy or sell", side)
	}
	if t.ExchangeTimeUs, err = millis(o, "ts"); err != nil {
		return nil, err
	}
	// The trades channel folds several matches of one taker order into one
	// message (count > 1, tradeId the last of them): their ids and sizes
	// are not recoverable one by one, and pairing it with the per-trade
	// REST history would double count. trades-all has no count.
	if cv := o.Get("count"); cv != nil {
		if c, err := cv.StringBytes(); err != nil || string(c) != "1" {
			return nil, fmt.Errorf("an aggregated trade (count %s): subscribe trades-all for single trades", strings.Trim(cv.String(), `"`))
		}
	}
	return t, nil
}

// optDec reads a decimal string that OKX leaves empty when there is no
// value (an empty book side): "" is zero.
func optDec(o *fastjson.Object, key string) (market.Decimal, error) {
	if b, err := jsonf.Str(o, key); err == nil && len(b) == 0 {
		return market.Decimal{}, nil
	}
	return jsonf.Dec(o, key, false)
}

func (p *parser) ticker(v *fastjson.Value, recv int64) (*market.Ticker, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	inst, err := jsonf.Str(o, "instId")
	if err != nil {
		return nil, err
	}
	t := &market.Ticker{Exchange: p.exchange, VenueSymbol: string(inst), Symbol: Normalize(string(inst)), ReceivedTimeUs: recv}
	if t.ExchangeTimeUs, err = millis(o, "ts"); err != nil {
		return nil, err
	}
	if t.Last, err = jsonf.Dec(o, "last", true); err != nil {
		return nil, err
	}
	var errs [10]error
	t.BestBid, errs[0] = optDec(o, "bidPx")
	t.BestBidSize, errs[1] = optDec(o, "bidSz")
	t.BestAsk, errs[2] = optDec(o, "askPx")
	t.BestAskSize, errs[3] = optDec(o, "askSz")
	t.Open, errs[4] = jsonf.Dec(o, "open24h", false)
	t.High, errs[5] = jsonf.Dec(o, "high24h", false)
	t.Low, errs[6] = jsonf.Dec(o, "low24h", false)
	// Spot: vol24h is in the base currency, volCcy24h in the quote.
	t.BaseVolume, errs[7] = jsonf.Dec(o, "vol24h", false)
	t.QuoteVolume, errs[8] = jsonf.Dec(o, "volCcy24h", false)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if !t.BestBid.IsZero() && !t.BestAsk.IsZero() && t.BestBid.Cmp(t.BestAsk) >= 0 {
		return nil, fmt.Errorf("crossed: bid %s ≥ ask %s", t.BestBid, t.BestAsk)
	}
	t.HasBBO, t.HasOHLC, t.HasVolume = true, true, true
	t.WindowStartUs = t.ExchangeTimeUs - 24*3600*1e6
	return t, nil
}

// levels reads a side: [[px, sz, "0", orders], ...]; a zero size removes.
func levels(v *fastjson.Value, key string) ([]market.Level, error) {
	return jsonf.Levels(v, key, "size", true)
}

func (p *parser) book(v *fastjson.Value, inst string, snapshot bool, recv int64) (*market.BookUpdate, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	u := &market.BookUpdate{Exchange: p.exchange, VenueSymbol: inst, Symbol: Normalize(inst), Snapshot: snapshot, ReceivedTimeUs: recv}
	if u.ExchangeTimeUs, err = millis(o, "ts"); err != nil {
		return nil, err
	}
	if u.Bids, err = levels(o.Get("bids"), "bids"); err != nil {
		return nil, err
	}
	if u.Asks, err = levels(o.Get("asks"), "asks"); err != nil {
		return nil, err
	}
	if u.Sequence, err = jsonf.Int(o, "seqId"); err != nil {
		return nil, err
	}
	if u.PrevSequence, err = jsonf.Int(o, "prevSeqId"); err != nil {
		return nil, err
	}
	if snapshot != (u.PrevSequence == -1) {
		return nil, fmt.Errorf("prevSeqId %d in a %s: a snapshot, and only a snapshot, has -1", u.PrevSequence, map[bool]string{true: "snapshot", false: "update"}[snapshot])
	}
	if u.Sequence < 0 || u.PrevSequence < -1 {
		return nil, fmt.Errorf("seqId %d, prevSeqId %d: out of range", u.Sequence, u.PrevSequence)
	}
	// A checksum of 0 means none: OKX sends 0 since 2026-06-23.
	if cv := o.Get("checksum"); cv != nil {
		c, err := cv.Int64()
		if err != nil || c < math.MinInt32 || c > math.MaxInt32 {
			return nil, fmt.Errorf("checksum %s: want a signed 32-bit integer", cv)
		}
		if c != 0 {
			u.Checksum, u.HasChecksum = uint32(int32(c)), true
		}
	}
	return u, nil
}

// ChecksumString is the text OKX's book checksum covers: the top 25
// levels of each side interleaved best first (bid, ask, bid, ask, ...),
// each as price:size in the venue's own writing, joined by ":"; a side
// with fewer levels is skipped once it runs out.
func ChecksumString(bids, asks []market.Level) []byte {
	var b []byte
	for i := 0; i < ChecksumDepth && (i < len(bids) || i < len(asks)); i++ {
		for _, side := range [][]market.Level{bids, asks} {
			if i < len(side) {
				if len(b) > 0 {
					b = append(b, ':')
				}
				b = side[i].Price.Append(b)
				b = append(b, ':')
				b = side[i].Quantity.Append(b)
			}
		}
	}
	return b
}

// Checksum is OKX's book checksum of a book given best first on each side:
// the CRC32 (IEEE) of ChecksumString, which OKX sends as a signed 32-bit
// integer (the same bits).
func Checksum(bids, asks []market.Level) uint32 {
	return crc32.ChecksumIEEE(ChecksumString(bids, asks))
}

// restAnswer reads an OKX REST envelope {"code":"0","msg":"","data":[...]}
// and returns data's items; a code other than "0" is the venue's error.
func (p *parser) restAnswer(body []byte, path string) ([]*fastjson.Value, error) {
	v, err := p.fj.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("okx: GET %s: unexpected answer: %w", path, err)
	}
	code := string(v.GetStringBytes("code"))
	if code != "0" {
		msg := string(v.GetStringBytes("msg"))
		if code == "50011" || code == "50061" { // too many requests
			return nil, fmt.Errorf("okx: GET %s: OKX error %s: %s: %w", path, code, msg, exchange.ErrRateLimited)
		}
		return nil, fmt.Errorf("okx: GET %s: OKX error %s: %s", path, code, msg)
	}
	dv := v.Get("data")
	if dv == nil || dv.Type() != fastjson.TypeArray {
		return nil, fmt.Errorf("okx: GET %s: unexpected answer: no data array", path)
	}
	arr, _ := dv.Array()
	return arr, nil
}
