package serde

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// The JSON view of Avro values: what `tickertape consume` prints and
// `tickertape produce` reads. Decimals are exact decimal strings (never
// float64), timestamps RFC 3339 in UTC, bytes and fixed base64. On input,
// decimals may also be JSON numbers (read as text, so exactly) and
// timestamps integers in the schema's unit. A non-null union branch is
// chosen by trying each in order; for a union of null and one type the
// value is written bare, otherwise wrapped as {"branch": value} as
// hamba/avro expects.

// ToJSON converts a value decoded by hamba/avro into generic form (the
// result of Decode into an *any) to a value encoding/json prints exactly.
func ToJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = ToJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToJSON(e)
		}
		return out
	case *big.Rat:
		return DecimalString(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return v
}

// RawJSON is the JSON view of a value that is not in the Confluent wire
// format: {"_raw": text} for UTF-8, {"_raw_base64": ...} otherwise.
func RawJSON(b []byte) map[string]any {
	if utf8.Valid(b) {
		return map[string]any{"_raw": string(b)}
	}
	return map[string]any{"_raw_base64": base64.StdEncoding.EncodeToString(b)}
}

// DecodeJSON decodes a record value to its JSON view (ToJSON of the
// writer's data for Avro; DecodeJSONView's for JSON Schema and Protobuf). A value without the wire-format header is RawJSON and no
// error; one with a header that does not decode is RawJSON and the error.
func (s *Serde) DecodeJSON(ctx context.Context, b []byte) (any, error) {
	if _, _, err := ParseHeader(b); err != nil {
		return RawJSON(b), nil
	}
	if v, ok, err := s.DecodeJSONView(ctx, b); ok { // JSON Schema and Protobuf (formats.go)
		if err != nil {
			return RawJSON(b), err
		}
		return v, nil
	}
	var v any
	if err := s.Decode(ctx, b, nil, &v); err != nil {
		return RawJSON(b), err
	}
	return ToJSON(v), nil
}

// DecimalString is the exact decimal text of r when r is a terminating
// decimal (every Avro decimal is), with no trailing zeros; otherwise r
// rounded to 18 decimals.
func DecimalString(r *big.Rat) string {
	num, den := new(big.Int).Set(r.Num()), r.Denom()
	ten := big.NewInt(10)
	for scale := 0; scale <= 76; scale++ {
		if q, m := new(big.Int).QuoRem(num, den, new(big.Int)); m.Sign() == 0 {
			return placePoint(q, scale)
		}
		num.Mul(num, ten)
	}
	return r.FloatString(18)
}

// placePoint writes coefficient q with scale digits after the point.
func placePoint(q *big.Int, scale int) string {
	neg := q.Sign() < 0
	digits := new(big.Int).Abs(q).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// ParseJSON reads one JSON document (numbers kept as text) and converts it
// with FromJSON.
func ParseJSON(schema avro.Schema, doc []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return FromJSON(schema, v)
}

// FromJSON converts a JSON value decoded with json.Decoder.UseNumber (so
// numbers are json.Number) to what hamba/avro encodes for the schema. The
// error names the field that does not fit.
func FromJSON(s avro.Schema, v any) (any, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		return FromJSON(s.Schema(), v)
	case *avro.NullSchema:
		if v != nil {
			return nil, fmt.Errorf("want null, got %v", v)
		}
		return nil, nil
	case *avro.UnionSchema:
		if v == nil {
			if s.Nullable() {
				return nil, nil
			}
			return nil, errors.New("null for a union without null")
		}
		for _, t := range s.Types() {
			if t.Type() == avro.Null {
				continue
			}
			if out, err := FromJSON(t, v); err == nil {
				if s.Nullable() {
					return out, nil
				}
				name := string(t.Type())
				if n, ok := t.(avro.NamedSchema); ok {
					name = n.FullName()
				}
				return map[string]any{name: out}, nil
			}
		}
		return nil, fmt.Errorf("%v matches no branch of %s", v, s.String())
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %s: want an object", s.FullName())
		}
		out := make(map[string]any, len(s.Fields()))
		for _, f := range s.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				if f.HasDefault() {
					continue
				}
				return nil, fmt.Errorf("field %s is missing", f.Name())
			}
			c, err := FromJSON(f.Type(), fv)
			if err != nil {
				return nil, fmt.Errorf("field %s: %v", f.Name(), err)
			}
			out[f.Name()] = c
		}
		return out, nil
	case *avro.ArraySchema:
		a, ok := v.([]any)
		if !ok {
			return nil, errors.New("want an array")
		}
		out := make([]any, len(a))
		for i, e := range a {
			c, err := FromJSON(s.Items(), e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
			out[i] = c
		}
		return out, nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("want an object")
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := FromJSON(s.Values(), e)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			out[k] = c
		}
		return out, nil
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return nil, errors.New("want an enum symbol")
		}
		return str, nil
	case *avro.FixedSchema:
		return bytesFromJSON(s.Logical(), v)
	case *avro.PrimitiveSchema:
		var lt avro.LogicalSchema
		if s.Logical() != nil {
			lt = s.Logical()
		}
		switch s.Type() {
		case avro.String:
			str, ok := v.(string)
			if !ok {
				return nil, errors.New("want a string")
			}
			return str, nil
		case avro.Boolean:
			b, ok := v.(bool)
			if !ok {
				return nil, errors.New("want true or false")
			}
			return b, nil
		case avro.Int, avro.Long:
			if lt != nil && strings.HasPrefix(string(lt.Type()), "timestamp") {
				if str, ok := v.(string); ok {
					t, err := time.Parse(time.RFC3339Nano, str)
					if err != nil {
						return nil, fmt.Errorf("want a timestamp: %v", err)
					}
					return t, nil
				}
			}
			n, ok := v.(json.Number)
			if !ok {
				return nil, errors.New("want an integer")
			}
			i, err := n.Int64()
			if err != nil {
				return nil, errors.New("want an integer")
			}
			if lt != nil && lt.Type() == avro.TimestampMicros {
				return time.UnixMicro(i).UTC(), nil
			}
			if lt != nil && lt.Type() == avro.TimestampMillis {
				return time.UnixMilli(i).UTC(), nil
			}
			if s.Type() == avro.Int {
				if int64(int32(i)) != i {
					return nil, fmt.Errorf("%d does not fit an Avro int", i)
				}
				return int32(i), nil
			}
			return i, nil
		case avro.Float, avro.Double:
			n, ok := v.(json.Number)
			if !ok {
				return nil, errors.New("want a number")
			}
			f, err := n.Float64()
			if s.Type() == avro.Float {
				return float32(f), err
			}
			return f, err
		case avro.Bytes:
			return bytesFromJSON(lt, v)
		}
	}
	return nil, fmt.Errorf("unsupported schema %s", s.Type())
}

func bytesFromJSON(lt avro.LogicalSchema, v any) (any, error) {
	if lt != nil && lt.Type() == avro.Decimal {
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case json.Number:
			text = x.String()
		default:
			return nil, errors.New("want a decimal as a string or number")
		}
		if len(text) > 400 {
			return nil, errors.New("decimal longer than 400 characters")
		}
		if i := strings.IndexAny(text, "eE"); i >= 0 {
			// big.Rat would expand any exponent: bound it.
			if e, err := strconv.Atoi(text[i+1:]); err != nil || e > 400 || e < -400 {
				return nil, fmt.Errorf("%q is not a decimal (exponent out of range)", text)
			}
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok || strings.Contains(text, "/") {
			return nil, fmt.Errorf("%q is not a decimal", text)
		}
		return r, nil
	}
	str, ok := v.(string)
	if !ok {
		return nil, errors.New("want base64 bytes")
	}
	return base64.StdEncoding.DecodeString(str)
}
