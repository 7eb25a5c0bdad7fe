package book

import (
	"strconv"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkBuilderApply measures the builder's core: chained L2 updates of
// a 50-level book (two changed levels a side each, the fakes' shape), with
// the cadence and BBO checks, on one goroutine. Run with GOMAXPROCS=1 for
// "updates/s on one core" (docs/BENCHMARKS.md).
func BenchmarkBuilderApply(b *testing.B) {
	bd := NewBuilder(50, 1e6)
	bd.Assign(0, 0, 0)
	snap := &market.BookUpdate{Exchange: "v", Symbol: "A-B", VenueSymbol: "AB", Snapshot: true, Chained: true, Sequence: 1, PrevSequence: 1}
	for i := 0; i < 50; i++ {
		snap.Bids = append(snap.Bids, market.Level{Price: market.MustDecimal(strconv.Itoa(10000 - i)), Quantity: market.MustDecimal("1.5")})
		snap.Asks = append(snap.Asks, market.Level{Price: market.MustDecimal(strconv.Itoa(10001 + i)), Quantity: market.MustDecimal("2.25")})
	}
	var out Outputs
	bd.Apply(snap, 0, 0, 0, &out)
	// Updates that change two levels a side and restore them on the next.
	ups := make([]*market.BookUpdate, 2)
	for k := range ups {
		q := "3.5"
		if k == 1 {
			q = "1.5"
		}
		ups[k] = &market.BookUpdate{Exchange: "v", Symbol: "A-B", VenueSymbol: "AB", Chained: true,
			Bids: []market.Level{{Price: market.MustDecimal("10000"), Quantity: market.MustDecimal(q)}, {Price: market.MustDecimal("9990"), Quantity: market.MustDecimal(q)}},
			Asks: []market.Level{{Price: market.MustDecimal("10001"), Quantity: market.MustDecimal(q)}, {Price: market.MustDecimal("10020"), Quantity: market.MustDecimal(q)}}}
	}
	seq := int64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		u := ups[i&1]
		u.PrevSequence, u.Sequence = seq, seq+1
		seq++
		out.Books, out.BBOs, out.CrossedNow = out.Books[:0], out.BBOs[:0], out.CrossedNow[:0]
		if bd.Apply(u, 0, int64(i+1), int64(i), &out) != Applied {
			b.Fatal("not applied")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkDecodeBookUpdate is the same update decoded from its Avro bytes
// the way the Processor decodes it (hamba/avro generic decode, then
// market.BookUpdateFromMap): the per-message cost beside Apply's, measured
// in the same run for a ratio that survives a loaded machine.
func BenchmarkDecodeBookUpdate(b *testing.B) {
	u := &market.BookUpdate{Exchange: "v", Symbol: "A-B", VenueSymbol: "AB", Chained: true, Sequence: 2, PrevSequence: 1,
		Bids: []market.Level{{Price: market.MustDecimal("10000"), Quantity: market.MustDecimal("3.5")}, {Price: market.MustDecimal("9990"), Quantity: market.MustDecimal("3.5")}},
		Asks: []market.Level{{Price: market.MustDecimal("10001"), Quantity: market.MustDecimal("3.5")}, {Price: market.MustDecimal("10020"), Quantity: market.MustDecimal("3.5")}}}
	raw := market.AppendBookUpdate(nil, u)
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := avro.Unmarshal(market.BookUpdateSchema, raw, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := market.BookUpdateFromMap(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
