package kraken

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for Kraken: one v2 trade
// frame with one trade parsed (numbers from their text, at the pair's
// precision), validated, normalized and Avro-encoded.
// bench/cryptofeed/bench_kraken.py feeds cryptofeed's Kraken handler (the
// v1 API, the one it speaks) trade frames of the same values.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		side := "buy"
		if i%2 == 0 {
			side = "sell"
		}
		frames[i] = []byte(fmt.Sprintf(`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"%s","price":9714%d.1,"qty":0.0%d1,"ord_type":"limit","trade_id":%d,"timestamp":"2023-09-25T07:48:36.%06dZ"}]}`,
			side, i%10, i%90+10, 600000000+i, i))
	}
	p := newParser("kraken", func() int64 { return 1 })
	p.pairs["BTC/USD"] = pair{priceScale: 1, qtyScale: 8}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, _, err := p.parse(frames[i%len(frames)])
		if err != nil || len(evs) != 1 {
			b.Fatal(err)
		}
		buf = market.AppendTrade(buf[:0], evs[0].Trade)
	}
}
