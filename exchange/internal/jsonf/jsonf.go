// Package jsonf holds what the venue parsers share on fastjson: a frame's
// top-level object, and the field readers for a string, an integer and an
// exact decimal, each failing with the field's name ("<key>: want a
// string").
package jsonf

import (
	"errors"
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// Str is o[key] as the bytes of a JSON string.
func Str(o *fastjson.Object, key string) ([]byte, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeString {
		return nil, fmt.Errorf("%s: want a string", key)
	}
	b, _ := v.StringBytes()
	return b, nil
}

// Int is o[key] as a JSON integer.
func Int(o *fastjson.Object, key string) (int64, error) {
	v := o.Get(key)
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, fmt.Errorf("%s: want an integer", key)
	}
	n, err := v.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer: %v", key, err)
	}
	return n, nil
}

// Dec is o[key], a JSON string, as an exact decimal that is not negative
// (and, when positive, not zero).
func Dec(o *fastjson.Object, key string, positive bool) (market.Decimal, error) {
	b, err := Str(o, key)
	if err != nil {
		return market.Decimal{}, err
	}
	d, err := market.ParseDecimalBytes(b)
	if err != nil {
		return d, fmt.Errorf("%s: %w", key, err)
	}
	if d.Sign() < 0 || (positive && d.Sign() == 0) {
		return d, fmt.Errorf("%s: %s out of range", key, b)
	}
	return d, nil
}

// Frame parses raw with p and returns its top-level object; a frame that is
// not JSON, or not an object, is an *exchange.FrameError of kind
// "malformed".
func Frame(p *fastjson.Parser, raw []byte) (*fastjson.Object, error) {
	v, err := p.ParseBytes(raw)
	if err != nil {
		return nil, exchange.NewFrameError("malformed", err, raw)
	}
	o, err := v.Object()
	if err != nil {
		return nil, exchange.NewFrameError("malformed", errors.New("the frame is not a JSON object"), raw)
	}
	return o, nil
}

// Levels reads one side of a book, v = [[price, quantity, ...], ...] of
// decimal strings: the price positive, the quantity not negative (0
// removes the level). Fields after the first two (order counts, ids) are
// allowed only when extra is set. qty is the venue's word for the second
// field (quantity, size, amount), used in errors as key does.
func Levels(v *fastjson.Value, key, qty string, extra bool) ([]market.Level, error) {
	if v == nil {
		return nil, fmt.Errorf("%s: missing", key)
	}
	arr, err := v.Array()
	if err != nil {
		return nil, fmt.Errorf("%s: want an array", key)
	}
	out := make([]market.Level, len(arr))
	for i, lv := range arr {
		pair, err := lv.Array()
		if err != nil || len(pair) < 2 || (!extra && len(pair) != 2) {
			return nil, fmt.Errorf("%s %d: want [price, %s]", key, i, qty)
		}
		ps, err1 := pair[0].StringBytes()
		qs, err2 := pair[1].StringBytes()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s %d: want decimal strings", key, i)
		}
		pr, err := market.ParseDecimalBytes(ps)
		if err != nil || pr.Sign() <= 0 {
			return nil, fmt.Errorf("%s %d: price %q", key, i, ps)
		}
		q, err := market.ParseDecimalBytes(qs)
		if err != nil || q.Sign() < 0 {
			return nil, fmt.Errorf("%s %d: %s %q", key, i, qty, qs)
		}
		out[i] = market.Level{Price: pr, Quantity: q}
	}
	return out, nil
}
