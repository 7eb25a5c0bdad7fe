package poloniex

import (
	"fmt"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// BenchmarkTradeFrames measures what ingest does per Poloniex trade frame:
// parse the JSON, validate and normalize into market.Trade (exact
// decimals), and encode it as Avro. One trade per frame, as Poloniex sends
// them; ns/op is per trade.
func BenchmarkTradeFrames(b *testing.B) {
	frames := make([][]byte, 1024)
	for i := range frames {
		frames[i] = []byte(fmt.Sprintf(`{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"%d.89973","quantity":"0.0%d7","takerSide":"sell","createTime":16611208%05d,"price":"2146%d.69","id":"%d","ts":1661120814823}]}`, 300+i%50, i%90+10, i, i%10, 60183607+i))
	}
	p := &parser{exchange: Name, symbols: map[string]bool{"BTC_USDT": true}, now: func() int64 { return 1700000000000000 }}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(frames[0])))
	i := 0
	for b.Loop() {
		evs, err := p.parse(frames[i%len(frames)])
		if err != nil || len(evs) != 1 {
			b.Fatal(err)
		}
		buf = market.AppendTrade(buf[:0], evs[0].Trade)
		i++
	}
}
