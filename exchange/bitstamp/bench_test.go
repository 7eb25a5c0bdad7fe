package bitstamp

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for Bitstamp: one
// live_trades frame (with its float and exact fields) parsed from the exact
// _str fields, validated, normalized and Avro-encoded.
// bench/cryptofeed/bench_bitstamp.py feeds cryptofeed's Bitstamp handler
// trade frames of the same values.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		frames[i] = []byte(fmt.Sprintf(`{"data":{"id":%d,"timestamp":"1700000000","amount":0.0%d1,"amount_str":"0.0%d1000000","price":9714%d,"price_str":"9714%d","type":%d,`+
			`"microtimestamp":"1700000000%06d","buy_order_id":1700000000000001,"sell_order_id":1700000000000002},"channel":"live_trades_btcusd","event":"trade"}`,
			300000000+i, i%90+10, i%90+10, i%10, i%10, i%2, i))
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
