package market

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errTrade is DecodeTrade's error for bytes that are not one Trade.
var errTrade = errors.New("market: not a Trade in the Avro binary encoding of TradeSchema")

// DecodeTrade decodes the Avro binary encoding of TradeSchema (the payload
// after the wire-format header) written with TradeSchema itself, without
// going through a generic map: the candle processor's hot path. It accepts
// exactly one whole Trade and nothing after it; any other input is an error
// (callers fall back to the generic decoder, which says what is wrong).
func DecodeTrade(b []byte) (Trade, error) {
	r := avroReader{b: b}
	var t Trade
	t.Exchange = r.str()
	t.Symbol = r.str()
	t.VenueSymbol = r.str()
	t.TradeID = r.str()
	t.Price = r.dec()
	t.Quantity = r.dec()
	switch r.long() {
	case 0:
	case 1:
		t.QuoteQuantity, t.HasQuoteQty = r.dec(), true
	default:
		r.fail("quote_quantity: union branch out of range")
	}
	switch r.long() {
	case 0:
		t.Side = SideBuy
	case 1:
		t.Side = SideSell
	case 2:
		t.Side = SideUnknown
	default:
		r.fail("side: enum index out of range")
	}
	t.ExchangeTimeUs = r.long()
	t.ReceivedTimeUs = r.long()
	switch r.byte() {
	case 0:
	case 1:
		t.Backfilled = true
	default:
		r.fail("backfilled: not a boolean")
	}
	if r.err == nil && r.pos != len(r.b) {
		r.fail(fmt.Sprintf("%d bytes after the record", len(r.b)-r.pos))
	}
	if r.err != nil {
		return Trade{}, r.err
	}
	return t, nil
}

type avroReader struct {
	b   []byte
	pos int
	err error
}

func (r *avroReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errTrade, what, r.pos)
	}
}

func (r *avroReader) long() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.pos += n
	return v
}

func (r *avroReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

// bytes returns the next length-prefixed bytes, aliasing r.b.
func (r *avroReader) bytes() []byte {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(r.b)-r.pos) {
		r.fail("length out of range")
		return nil
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

func (r *avroReader) str() string { return string(r.bytes()) }

func (r *avroReader) dec() Decimal {
	b := r.bytes()
	if r.err != nil {
		return Decimal{}
	}
	d, err := DecimalFromUnscaled18(b)
	if err != nil {
		r.fail(err.Error())
	}
	return d
}
