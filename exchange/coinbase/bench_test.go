package coinbase

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for Coinbase: one
// market_trades frame with one trade parsed, validated, normalized and
// Avro-encoded. bench/cryptofeed/bench_coinbase.py feeds cryptofeed's
// Coinbase handler trade frames of the same content.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		side := "BUY"
		if i%2 == 0 {
			side = "SELL"
		}
		frames[i] = []byte(fmt.Sprintf(`{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":%d,"events":[{"type":"update","trades":[{"trade_id":"%d","product_id":"BTC-USD","price":"9714%d.01","size":"0.0%d1","side":"%s","time":"2023-02-09T20:19:35.%06dZ"}]}]}`,
			i, 600000000+i, i%10, i%90+10, side, i))
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
