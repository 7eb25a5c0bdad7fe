package binance

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for Binance: one @trade frame
// (combined-stream envelope) parsed, validated, normalized and Avro-encoded.
// bench/cryptofeed/bench_binance.py feeds cryptofeed the same frames.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		frames[i] = []byte(fmt.Sprintf(`{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":%d,"p":"9714%d.01000000","q":"0.0%d100000","T":16725157%05d,"m":%v,"M":true}}`,
			3000000000+i, i%10, i%90+10, i, i%2 == 0))
	}
	p := testParser()
	p.symbols["BTCUSDT"] = &symbolInfo{venue: "BTCUSDT", norm: "BTC-USDT"}
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
