package bybit

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames is the ingest hot path for Bybit: one spot
// publicTrade frame with one trade parsed (decimal strings, exact),
// validated, normalized and Avro-encoded. bench/cryptofeed/bench_bybit.py
// feeds cryptofeed's Bybit handler the same frames.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		side := "Buy"
		if i%2 == 0 {
			side = "Sell"
		}
		frames[i] = []byte(fmt.Sprintf(`{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1695628116%03d,"data":[{"T":1695628116%03d,"s":"BTCUSDT","S":"%s","v":"0.0%d1","p":"9714%d.10","i":"%d","BT":false,"RPI":false,"seq":%d}]}`,
			i%1000, i%1000, side, i%90+10, i%10, 2290000000061666327+i, 60000000000+i))
	}
	p := newParser(Name, []exchange.Market{{VenueSymbol: "BTCUSDT", Symbol: "BTC-USDT"}}, func() int64 { return 1 })
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
