package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/commitlog"
)

// BenchmarkFetchCopyVsSendfile fetches the same partition bytes again and
// again over loopback, copied or sent with sendfile, for a range of response
// sizes (records are 1 KiB, produced in batches of the response's size), to
// find the size below which a copy is cheaper (zeroCopyMinBytes).
//
//	go test ./broker -run '^$' -bench FetchCopyVsSendfile -benchtime 2000x
func BenchmarkFetchCopyVsSendfile(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20} {
		tb := startBroker(b, func(c *Config) { c.Fsync = commitlog.FsyncPolicy{Mode: commitlog.FsyncNever} })
		topic := fmt.Sprintf("fb%d", size)
		if _, err := tb.admin().CreateTopic(b.Context(), 1, 1, nil, topic); err != nil {
			b.Fatal(err)
		}
		prod := tb.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
		var recs []*kgo.Record
		for range max(1, size/1100) {
			recs = append(recs, &kgo.Record{Value: randomBytes(1000)})
		}
		if err := prod.ProduceSync(b.Context(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		cl := tb.client()
		for _, mode := range []struct {
			name string
			min  int64
		}{{"copy", 1 << 40}, {"sendfile", 0}} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, mode.name), func(b *testing.B) {
				prev := zeroCopyMinBytes.Swap(mode.min)
				defer zeroCopyMinBytes.Store(prev)
				req := fetchRequest(tb, topic, 0, 1, int32(size)*2, int32(size)*2, 0)
				var n int
				b.ResetTimer()
				for range b.N {
					resp, err := req.RequestWith(b.Context(), cl)
					if err != nil {
						b.Fatal(err)
					}
					n = len(resp.Topics[0].Partitions[0].RecordBatches)
				}
				b.SetBytes(int64(n))
			})
		}
		tb.stop()
	}
}
