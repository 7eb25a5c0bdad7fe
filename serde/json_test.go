package serde

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

var jsonTestSchema = avro.MustParse(`{"type":"record","name":"Price","namespace":"t","fields":[
	{"name":"symbol","type":"string"},
	{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":18}},
	{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
	{"name":"n","type":"int","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]},"default":"BUY"},
	{"name":"blob","type":"bytes","default":""},
	{"name":"note","type":["null","string"],"default":null},
	{"name":"either","type":["null","long","string"],"default":null}]}`)

// TestJSONRoundTrip: JSON in, Avro binary, Avro decoded, the same JSON out,
// exact to the last digit.
func TestJSONRoundTrip(t *testing.T) {
	in := `{"symbol":"BTC-USDT","price":"97000.123456789012345678","at":"2026-11-25T10:00:00.000001Z","n":7,"tags":["a","b"],"side":"SELL","blob":"AAE=","note":"hi","either":"x"}`
	v, err := ParseJSON(jsonTestSchema, []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := avro.Marshal(jsonTestSchema, v)
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := avro.Unmarshal(jsonTestSchema, b, &back); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(ToJSON(back))
	var got, want map[string]any
	json.Unmarshal(out, &got)
	json.Unmarshal([]byte(in), &want)
	if !jsonEqual(got, want) {
		t.Fatalf("round trip:\n got %s\nwant %v", out, want)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestJSONInputForms(t *testing.T) {
	// Numbers for decimals and integer timestamps in the schema's unit.
	v, err := ParseJSON(jsonTestSchema, []byte(`{"symbol":"ETH","price":3400.5,"at":1764064800000000,"either":5}`))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if r := m["price"].(*big.Rat); DecimalString(r) != "3400.5" {
		t.Fatalf("price %v", r)
	}
	if at := m["at"].(time.Time); !at.Equal(time.UnixMicro(1764064800000000)) || at.Location() != time.UTC {
		t.Fatalf("at %v", at)
	}
	if e := m["either"].(map[string]any); e["long"] != int64(5) {
		t.Fatalf("either %v", e)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"price":"1","at":0}`, "field symbol is missing"},
		{`{"symbol":1,"price":"1","at":0}`, "field symbol: want a string"},
		{`{"symbol":"s","price":"1/3","at":0}`, "not a decimal"},
		{`{"symbol":"s","price":"1e999999999","at":0}`, "exponent out of range"},
		{`{"symbol":"s","price":"1","at":"yesterday"}`, "want a timestamp"},
		{`{"symbol":"s","price":"1","at":0,"n":4294967296}`, "does not fit an Avro int"},
		{`{"symbol":"s","price":"1","at":0,"side":"HOLD"}`, ""},
		{`{"symbol":"s"`, "not JSON"},
		{`{} {}`, "more than one"},
	} {
		v, err := ParseJSON(jsonTestSchema, []byte(c.doc))
		if c.want == "" {
			// An unknown enum symbol passes FromJSON; the encoder refuses it.
			if _, err := avro.Marshal(jsonTestSchema, v); err == nil {
				t.Errorf("%s: encoded", c.doc)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestDecimalString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0", "0"}, {"-1.50", "-1.5"}, {"0.000000000000000001", "0.000000000000000001"},
		{"123456789012345678901234567890.5", "123456789012345678901234567890.5"}, {"-0.05", "-0.05"},
	} {
		r, _ := new(big.Rat).SetString(c.in)
		if got := DecimalString(r); got != c.want {
			t.Errorf("DecimalString(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := DecimalString(big.NewRat(1, 3)); got != "0.333333333333333333" {
		t.Errorf("1/3: %s", got)
	}
}

func TestRawJSON(t *testing.T) {
	if m := RawJSON([]byte("plain")); m["_raw"] != "plain" {
		t.Fatal(m)
	}
	if m := RawJSON([]byte{0xff, 0}); m["_raw_base64"] != "/wA=" {
		t.Fatal(m)
	}
}

// FuzzParseJSON: any document either converts to something the Avro
// encoder takes, or is an error; never a panic or a hang.
func FuzzParseJSON(f *testing.F) {
	f.Add(`{"symbol":"BTC","price":"1.5","at":"2026-01-01T00:00:00Z","note":"x"}`)
	f.Add(`{"symbol":"BTC","price":1e5,"at":1,"tags":["a"],"either":2}`)
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := ParseJSON(jsonTestSchema, []byte(doc))
		if err != nil {
			return
		}
		if b, err := avro.Marshal(jsonTestSchema, v); err == nil {
			var back any
			if err := avro.Unmarshal(jsonTestSchema, b, &back); err != nil {
				t.Fatalf("%s encodes to bytes that do not decode: %v", doc, err)
			}
			ToJSON(back)
		}
	})
}
