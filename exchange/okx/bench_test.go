package okx

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for OKX: one trades-all frame
// with one trade parsed, validated, normalized and Avro-encoded.
// bench/cryptofeed/bench_okx.py feeds cryptofeed's OKX handler the same
// frames.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		side := "buy"
		if i%2 == 0 {
			side = "sell"
		}
		frames[i] = []byte(fmt.Sprintf(`{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"%d","px":"9714%d.1","sz":"0.0%d1","side":"%s","source":"0","ts":"1695628116%03d"}]}`,
			600000000+i, i%10, i%90+10, side, i%1000))
	}
	p := testParser()
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
