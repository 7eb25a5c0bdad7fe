package kraken

// Parsing of Kraken WebSocket v2 frames and REST answers (see
// PROTOCOL.md). Prices and quantities are JSON numbers on the wire: they
// are read from the number's text (fastjson keeps it) and never pass
// through float64, then written at the pair's precision from the
// instrument channel, which is what the book checksum is computed over.

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// Name is the exchange name events from Kraken carry.
const Name = "kraken"

// SyntheticName is the exchange name of events from the fake Kraken.
const SyntheticName = "kraken-synthetic"

// ChecksumLevels is how many levels a side Kraken's book checksum covers,
// whatever the subscribed depth.
const ChecksumLevels = 10

// Checksum is Kraken's book checksum (book-checksum-v2): the top 10 asks
// low to high, then the top 10 bids high to low; for each level its price
// then its quantity, written at the pair's precision (the Decimals' own
// scale) with the point removed and leading zeros stripped, concatenated;
// the CRC32 (IEEE) of the whole.
func Checksum(bids, asks []market.Level) uint32 {
	var arr [1024]byte
	b := arr[:0]
	for _, side := range [][]market.Level{asks, bids} {
		for i, l := range side {
			if i == ChecksumLevels {
				break
			}
			b = appendDigits(b, l.Price)
			b = appendDigits(b, l.Quantity)
		}
	}
	return crc32.ChecksumIEEE(b)
}

// appendDigits appends d's digits without the point and leading zeros.
func appendDigits(b []byte, d market.Decimal) []byte {
	start := len(b)
	b = d.Append(b)
	out := b[:start]
	lead := true
	for _, c := range b[start:] {
		if c == '.' || c == '-' || (lead && c == '0') {
			continue
		}
		lead = false
		out = append(out, c)
	}
	return out
}

// pair is what the instrument channel says of one pair.
type pair struct {
	priceScale, qtyScale int
	base, quote          string
}

// parser turns frames into events. One goroutine at a time.
type parser struct {
	exchange string
	now      func() int64
	fj       fastjson.Parser
	pairs    map[string]pair      // WebSocket symbol → precisions, from instrument
	names    map[string][2]string // symbol as sent → (venue symbol, normalized)
	num      []byte
}

func newParser(exch string, now func() int64) *parser {
	return &parser{exchange: exch, now: now, pairs: map[string]pair{}, names: map[string][2]string{}}
}

// symbol reads a frame's symbol with its normalized name, cached.
func (p *parser) symbol(o *fastjson.Object) (string, string, error) {
	v := o.Get("symbol")
	if v == nil || v.Type() != fastjson.TypeString {
		return "", "", errors.New("symbol: want a string")
	}
	b, _ := v.StringBytes()
	if n, ok := p.names[string(b)]; ok {
		return n[0], n[1], nil
	}
	if len(p.names) > 10000 {
		clear(p.names)
	}
	n := [2]string{string(b), normalize(string(b))}
	p.names[n[0]] = n
	return n[0], n[1], nil
}

// ack is one answer to a subscribe or unsubscribe.
type subAck struct {
	method, channel, symbol string
	ok                      bool
	err                     string
}

// frame is what parse found besides events.
type frame struct {
	acks        []subAck
	instruments bool // an instrument snapshot was read
}

// normalize maps BTC/USD (and the v1/REST spelling XBT/USD) to BTC-USD.
func normalize(sym string) string {
	base, quote, ok := strings.Cut(sym, "/")
	if !ok {
		return strings.ToUpper(sym)
	}
	return exchange.Symbol(base, quote, nil)
}

// number reads a JSON number (or, leniently, a decimal string) by its
// text, at scale decimals when scale ≥ 0.
func (p *parser) number(o *fastjson.Object, key string, scale int, positive bool) (market.Decimal, error) {
	v := o.Get(key)
	if v == nil {
		return market.Decimal{}, fmt.Errorf("%s: missing", key)
	}
	var txt []byte
	switch v.Type() {
	case fastjson.TypeNumber:
		p.num = v.MarshalTo(p.num[:0])
		txt = p.num
	case fastjson.TypeString:
		txt, _ = v.StringBytes()
	default:
		return market.Decimal{}, fmt.Errorf("%s: want a number", key)
	}
	d, err := market.ParseDecimalBytes(txt)
	if err != nil {
		return d, fmt.Errorf("%s: %w", key, err)
	}
	if d.Sign() < 0 || (positive && d.Sign() == 0) {
		return d, fmt.Errorf("%s: %s out of range", key, txt)
	}
	if scale >= 0 {
		if d, err = Rescale(d, scale); err != nil {
			return d, fmt.Errorf("%s: %w", key, err)
		}
	}
	return d, nil
}

var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Rescale writes d with exactly scale decimals; more non-zero decimals
// than scale is an error (the value is not at the pair's precision).
func Rescale(d market.Decimal, scale int) (market.Decimal, error) {
	if int(d.Scale) == scale {
		return d, nil
	}
	if scale < 0 || scale > market.MaxScale {
		return d, fmt.Errorf("precision %d out of range", scale)
	}
	// Fast path: a 64-bit coefficient, scaled without text.
	if coef, ok := d.Int64(); ok {
		if k := scale - int(d.Scale); k > 0 && k <= 18 {
			m := pow10[k]
			if coef == 0 || (coef > 0 && coef <= math.MaxInt64/m) || (coef < 0 && coef >= math.MinInt64/m) {
				return market.NewDecimal(coef*m, uint8(scale)), nil
			}
		} else if k < 0 && -k <= 18 {
			if m := pow10[-k]; coef%m == 0 {
				return market.NewDecimal(coef/m, uint8(scale)), nil
			}
			return d, fmt.Errorf("%s has more than the pair's %d decimals", d, scale)
		}
	}
	s := d.String()
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) > scale {
		if strings.TrimRight(fp[scale:], "0") != "" {
			return d, fmt.Errorf("%s has more than the pair's %d decimals", s, scale)
		}
		fp = fp[:scale]
	} else {
		fp += strings.Repeat("0", scale-len(fp))
	}
	if scale > 0 {
		ip += "." + fp
	}
	return market.ParseDecimal(ip)
}

func str(o *fastjson.Object, key string) (string, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeString {
		return "", fmt.Errorf("%s: want a string", key)
	}
	b, _ := v.StringBytes()
	return string(b), nil
}

func micros(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return t.UnixMicro(), nil
}

// parse decodes one frame.
func (p *parser) parse(raw []byte) ([]exchange.Event, frame, error) {
	var fr frame
	v, err := p.fj.ParseBytes(raw)
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", err, raw)
	}
	o, err := v.Object()
	if err != nil {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("the frame is not a JSON object"), raw)
	}
	if m, err := str(o, "method"); err == nil {
		return nil, p.answer(o, m, fr), p.answerErr(o, m, raw)
	}
	cv := o.Get("channel")
	if cv == nil || cv.Type() != fastjson.TypeString {
		return nil, fr, exchange.NewFrameError("malformed", errors.New("channel: want a string"), raw)
	}
	chb, _ := cv.StringBytes()
	var typ []byte
	if tv := o.Get("type"); tv != nil {
		typ, _ = tv.StringBytes()
	}
	recv := p.now()
	var items []*fastjson.Value
	if dv := o.Get("data"); dv != nil && dv.Type() == fastjson.TypeArray {
		items, _ = dv.Array()
	}
	var evs []exchange.Event
	var bad error
	var kind string
	switch string(chb) {
	case "heartbeat", "status":
		return nil, fr, nil
	case "instrument":
		kind = "bad_instrument"
		dv := o.Get("data")
		if dv == nil {
			return nil, fr, exchange.NewFrameError("bad_instrument", errors.New("no data"), raw)
		}
		for i, pv := range dv.GetArray("pairs") {
			if err := p.instrument(pv); err != nil {
				bad = fmt.Errorf("pair %d: %w", i, err)
			}
		}
		fr.instruments = true
	case "trade":
		kind = "bad_trade"
		for i, it := range items {
			t, err := p.trade(it, recv)
			if err != nil {
				bad = fmt.Errorf("trade %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Trade: t})
		}
	case "ticker":
		kind = "bad_ticker"
		for i, it := range items {
			t, err := p.ticker(it, recv)
			if err != nil {
				bad = fmt.Errorf("ticker %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Ticker: t})
		}
	case "book":
		kind = "bad_book"
		if string(typ) != "snapshot" && string(typ) != "update" {
			return nil, fr, exchange.NewFrameError("bad_book", fmt.Errorf("type %q", typ), raw)
		}
		for i, it := range items {
			u, err := p.book(it, string(typ) == "snapshot", recv)
			if err != nil {
				bad = fmt.Errorf("book %d: %w", i, err)
				continue
			}
			evs = append(evs, exchange.Event{Book: u})
		}
	default:
		return nil, fr, exchange.NewFrameError("unknown_channel", fmt.Errorf("channel %q", chb), raw)
	}
	if bad != nil {
		return evs, fr, exchange.NewFrameError(kind, bad, raw)
	}
	return evs, fr, nil
}

// answer reads a method answer (subscribe, unsubscribe, pong).
func (p *parser) answer(o *fastjson.Object, method string, fr frame) frame {
	if method != "subscribe" && method != "unsubscribe" {
		return fr
	}
	a := subAck{method: method, ok: o.Get("success") != nil && o.Get("success").Type() == fastjson.TypeTrue}
	if r := o.Get("result"); r != nil {
		a.channel = string(r.GetStringBytes("channel"))
		a.symbol = string(r.GetStringBytes("symbol"))
	}
	a.err = errText(o)
	if a.symbol == "" && !a.ok {
		// Kraken names the refused symbol in the error text only.
		if i := strings.LastIndexByte(a.err, ' '); i >= 0 {
			a.symbol = a.err[i+1:]
		}
	}
	fr.acks = append(fr.acks, a)
	return fr
}

func (p *parser) answerErr(o *fastjson.Object, method string, raw []byte) error {
	if (method == "subscribe" || method == "unsubscribe") && (o.Get("success") == nil || o.Get("success").Type() != fastjson.TypeTrue) {
		return exchange.NewFrameError("venue_error", fmt.Errorf("%s refused: %s", method, errText(o)), raw)
	}
	return nil
}

func (p *parser) instrument(v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return err
	}
	sym, err := str(o, "symbol")
	if err != nil {
		return err
	}
	ps, qs := o.Get("price_precision"), o.Get("qty_precision")
	if ps == nil || qs == nil {
		return fmt.Errorf("%s: no price_precision or qty_precision", sym)
	}
	pp, err1 := ps.Int()
	qp, err2 := qs.Int()
	if err1 != nil || err2 != nil || pp < 0 || qp < 0 || pp > market.MaxScale || qp > market.MaxScale {
		return fmt.Errorf("%s: precisions out of range", sym)
	}
	base, _ := str(o, "base")
	quote, _ := str(o, "quote")
	p.pairs[sym] = pair{priceScale: pp, qtyScale: qp, base: base, quote: quote}
	return nil
}

// scales returns a symbol's precisions, or -1 (as given) when unknown.
func (p *parser) scales(sym string) (int, int) {
	if pr, ok := p.pairs[sym]; ok {
		return pr.priceScale, pr.qtyScale
	}
	return -1, -1
}

func (p *parser) trade(v *fastjson.Value, recv int64) (*market.Trade, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	sym, norm, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	ps, qs := p.scales(sym)
	t := &market.Trade{Exchange: p.exchange, Symbol: norm, VenueSymbol: sym, ReceivedTimeUs: recv}
	if t.Price, err = p.number(o, "price", ps, true); err != nil {
		return nil, err
	}
	if t.Quantity, err = p.number(o, "qty", qs, true); err != nil {
		return nil, err
	}
	var side []byte
	if sv := o.Get("side"); sv != nil {
		side, _ = sv.StringBytes()
	}
	switch string(side) {
	case "buy":
		t.Side = market.SideBuy
	case "sell":
		t.Side = market.SideSell
	default:
		return nil, fmt.Errorf("side %q", side)
	}
	idv := o.Get("trade_id")
	if idv == nil || idv.Type() != fastjson.TypeNumber {
		return nil, errors.New("trade_id: want a number")
	}
	id, err := idv.Int64()
	if err != nil || id < 0 {
		return nil, fmt.Errorf("trade_id %s", idv)
	}
	t.TradeID = strconv.FormatInt(id, 10)
	ts, err := str(o, "timestamp")
	if err != nil {
		return nil, err
	}
	if t.ExchangeTimeUs, err = micros(ts); err != nil {
		return nil, err
	}
	return t, nil
}

func (p *parser) ticker(v *fastjson.Value, recv int64) (*market.Ticker, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	sym, norm, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	ps, qs := p.scales(sym)
	t := &market.Ticker{Exchange: p.exchange, Symbol: norm, VenueSymbol: sym, ExchangeTimeUs: recv, ReceivedTimeUs: recv}
	if ts, err := str(o, "timestamp"); err == nil {
		if t.ExchangeTimeUs, err = micros(ts); err != nil {
			return nil, err
		}
	}
	if t.Last, err = p.number(o, "last", ps, true); err != nil {
		return nil, err
	}
	var errs [4]error
	t.BestBid, errs[0] = p.number(o, "bid", ps, false)
	t.BestBidSize, errs[1] = p.number(o, "bid_qty", qs, false)
	t.BestAsk, errs[2] = p.number(o, "ask", ps, false)
	t.BestAskSize, errs[3] = p.number(o, "ask_qty", qs, false)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if !t.BestBid.IsZero() && !t.BestAsk.IsZero() && t.BestBid.Cmp(t.BestAsk) >= 0 {
		return nil, fmt.Errorf("crossed: bid %s ≥ ask %s", t.BestBid, t.BestAsk)
	}
	t.HasBBO = true
	if o.Get("high") != nil {
		var e [4]error
		t.High, e[0] = p.number(o, "high", ps, false)
		t.Low, e[1] = p.number(o, "low", ps, false)
		var change market.Decimal
		change, e[2] = p.signed(o, "change")
		if err := errors.Join(e[:]...); err != nil {
			return nil, err
		}
		// change is last − open over 24 h: open is exact.
		if t.Open, err = market.DecimalFromRat(new(big.Rat).Sub(t.Last.Rat(), change.Rat())); err == nil {
			t.HasOHLC = true
		}
	}
	if o.Get("volume") != nil {
		if t.BaseVolume, err = p.number(o, "volume", -1, false); err != nil {
			return nil, err
		}
		t.HasVolume = true
		// Kraken gives no quote volume; vwap × volume is the closest exact
		// figure (vwap itself is rounded by Kraken).
		if vw, err := p.number(o, "vwap", -1, false); err == nil {
			if q, err := market.DecimalFromRat(new(big.Rat).Mul(vw.Rat(), t.BaseVolume.Rat())); err == nil {
				t.QuoteVolume = q
			} else if q, err := market.RoundRat(new(big.Rat).Mul(vw.Rat(), t.BaseVolume.Rat()), market.MaxScale); err == nil {
				t.QuoteVolume = q
			}
		}
	}
	if o.Get("change_pct") != nil {
		pct, err := p.signed(o, "change_pct")
		if err != nil {
			return nil, err
		}
		if t.DailyChange, err = market.DecimalFromRat(new(big.Rat).Quo(pct.Rat(), big.NewRat(100, 1))); err == nil {
			t.HasDailyChange = true
		}
	}
	return t, nil
}

// signed reads a number that may be negative.
func (p *parser) signed(o *fastjson.Object, key string) (market.Decimal, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeNumber {
		return market.Decimal{}, fmt.Errorf("%s: want a number", key)
	}
	p.num = v.MarshalTo(p.num[:0])
	d, err := market.ParseDecimalBytes(p.num)
	if err != nil {
		return d, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

func (p *parser) book(v *fastjson.Value, snapshot bool, recv int64) (*market.BookUpdate, error) {
	o, err := v.Object()
	if err != nil {
		return nil, err
	}
	sym, norm, err := p.symbol(o)
	if err != nil {
		return nil, err
	}
	ps, qs := p.scales(sym)
	if ps < 0 {
		return nil, fmt.Errorf("%s: no precision from the instrument channel, so its checksum cannot be verified", sym)
	}
	u := &market.BookUpdate{Exchange: p.exchange, Symbol: norm, VenueSymbol: sym, Snapshot: snapshot, ExchangeTimeUs: recv, ReceivedTimeUs: recv}
	if ts, err := str(o, "timestamp"); err == nil {
		if u.ExchangeTimeUs, err = micros(ts); err != nil {
			return nil, err
		}
	}
	for _, side := range []struct {
		key string
		out *[]market.Level
	}{{"bids", &u.Bids}, {"asks", &u.Asks}} {
		lv := o.Get(side.key)
		if lv == nil {
			continue
		}
		arr, err := lv.Array()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.key, err)
		}
		*side.out = make([]market.Level, 0, len(arr))
		for i, l := range arr {
			lo, err := l.Object()
			if err != nil {
				return nil, fmt.Errorf("%s %d: %w", side.key, i, err)
			}
			var lev market.Level
			if lev.Price, err = p.number(lo, "price", ps, true); err != nil {
				return nil, fmt.Errorf("%s %d: %w", side.key, i, err)
			}
			if lev.Quantity, err = p.number(lo, "qty", qs, false); err != nil {
				return nil, fmt.Errorf("%s %d: %w", side.key, i, err)
			}
			*side.out = append(*side.out, lev)
		}
	}
	cv := o.Get("checksum")
	if cv == nil || cv.Type() != fastjson.TypeNumber {
		return nil, errors.New("checksum: want a number")
	}
	c, err := cv.Uint64()
	if err != nil || c > 1<<32-1 {
		return nil, fmt.Errorf("checksum %s out of range", cv)
	}
	u.Checksum, u.HasChecksum = uint32(c), true
	return u, nil
}

// restTime converts REST's float seconds ("1735000000.123456") to µs
// from the text, exactly.
func restTime(b []byte) (int64, error) {
	ip, fp, _ := bytes.Cut(b, []byte("."))
	sec, err := strconv.ParseInt(string(ip), 10, 64)
	if err != nil || sec < 0 {
		return 0, fmt.Errorf("time %q", b)
	}
	f := string(fp)
	if len(f) > 6 {
		f = f[:6]
	}
	f += strings.Repeat("0", 6-len(f))
	us, err := strconv.ParseInt(f, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("time %q", b)
	}
	return sec*1e6 + us, nil
}

// restTrade reads one row of GET /0/public/Trades: [price, volume, time,
// side b/s, type m/l, misc, trade_id].
func (p *parser) restTrade(v *fastjson.Value, sym string, recv int64) (market.Trade, error) {
	row, err := v.Array()
	if err != nil || len(row) < 7 {
		return market.Trade{}, errors.New("want a row of 7")
	}
	ps, qs := p.scales(sym)
	t := market.Trade{Exchange: p.exchange, Symbol: normalize(sym), VenueSymbol: sym, ReceivedTimeUs: recv, Backfilled: true}
	txt := func(i int) []byte {
		if row[i].Type() == fastjson.TypeString {
			b, _ := row[i].StringBytes()
			return b
		}
		return row[i].MarshalTo(nil)
	}
	for i, dst := range []*market.Decimal{&t.Price, &t.Quantity} {
		d, err := market.ParseDecimalBytes(txt(i))
		if err != nil || d.Sign() <= 0 {
			return t, fmt.Errorf("field %d: %q is not a positive decimal", i, txt(i))
		}
		sc := []int{ps, qs}[i]
		if sc >= 0 {
			if d, err = Rescale(d, sc); err != nil {
				return t, err
			}
		}
		*dst = d
	}
	if t.ExchangeTimeUs, err = restTime(txt(2)); err != nil {
		return t, err
	}
	switch string(txt(3)) {
	case "b":
		t.Side = market.SideBuy
	case "s":
		t.Side = market.SideSell
	default:
		return t, fmt.Errorf("side %q", txt(3))
	}
	id, err := row[6].Int64()
	if err != nil || id < 0 {
		return t, fmt.Errorf("trade_id %s", row[6])
	}
	t.TradeID = strconv.FormatInt(id, 10)
	return t, nil
}

func errText(o *fastjson.Object) string {
	if e := o.Get("error"); e != nil {
		return string(e.GetStringBytes())
	}
	return ""
}
