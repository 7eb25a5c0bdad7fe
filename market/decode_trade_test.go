package market

import (
	"testing"

	"github.com/hamba/avro/v2"
)

// TestDecodeTrade: what AppendTrade writes decodes back field for field,
// the same as the generic decoder gives; truncated, padded and out-of-range
// inputs are errors.
func TestDecodeTrade(t *testing.T) {
	tr := sampleTrade()
	tr2 := tr
	tr2.HasQuoteQty, tr2.QuoteQuantity, tr2.Side, tr2.Backfilled = false, Decimal{}, SideUnknown, false
	tr3 := tr
	tr3.Price, tr3.Quantity, tr3.Side = MustDecimal("-12345678901234.123456789012345678"), MustDecimal("0"), SideSell
	for _, want := range []Trade{tr, tr2, tr3} {
		b := AppendTrade(nil, &want)
		got, err := DecodeTrade(b)
		if err != nil {
			t.Fatalf("%+v: %v", want, err)
		}
		equalExact(t, "Trade", got, want)
		var m map[string]any
		if err := avro.Unmarshal(TradeSchema, b, &m); err != nil {
			t.Fatal(err)
		}
		generic, err := TradeFromMap(m)
		if err != nil || got != generic {
			t.Fatalf("DecodeTrade %+v, the generic decoder %+v (%v)", got, generic, err)
		}
		for n := range len(b) {
			if _, err := DecodeTrade(b[:n]); err == nil {
				t.Fatalf("%d of %d bytes decoded", n, len(b))
			}
		}
		if _, err := DecodeTrade(append(b, 0)); err == nil {
			t.Fatal("a byte after the record was accepted")
		}
	}
	b := AppendTrade(nil, &tr)
	b[len(b)-1] = 2 // backfilled: not a boolean
	if _, err := DecodeTrade(b); err == nil {
		t.Fatal("boolean 2 accepted")
	}
}

// FuzzDecodeTrade: DecodeTrade never panics, and whatever it accepts the
// generic decoder (hamba/avro with TradeSchema, then TradeFromMap) reads
// identically, so the processor's fast path changes no candle.
func FuzzDecodeTrade(f *testing.F) {
	tr := sampleTrade()
	f.Add(AppendTrade(nil, &tr))
	tr.HasQuoteQty, tr.Side = false, SideUnknown
	f.Add(AppendTrade(nil, &tr))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeTrade(b)
		if err != nil {
			return
		}
		var m map[string]any
		if err := avro.Unmarshal(TradeSchema, b, &m); err != nil {
			t.Fatalf("DecodeTrade accepted what the generic decoder refuses (%v): %+v", err, got)
		}
		generic, err := TradeFromMap(m)
		if err != nil || got != generic {
			t.Fatalf("DecodeTrade %+v, the generic decoder %+v (%v)", got, generic, err)
		}
	})
}
