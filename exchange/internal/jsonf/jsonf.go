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
