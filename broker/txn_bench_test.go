package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProduceTransactional compares an idempotent producer with a
// transactional one committing every batchesPerTxn batches (each batch: 100
// records of 100 bytes on one partition, produced synchronously), against an
// in-process broker with fsync always. It reports records/s.
//
//	go test ./broker -run '^$' -bench ProduceTransactional -benchtime 3s
func BenchmarkProduceTransactional(b *testing.B) {
	for _, c := range []struct {
		name string
		per  int // batches per transaction; 0: idempotent, no transactions
	}{{"idempotent", 0}, {"txn-1-batch", 1}, {"txn-10-batches", 10}, {"txn-100-batches", 100}} {
		b.Run(c.name, func(b *testing.B) {
			tb := startBroker(b, func(cfg *Config) { cfg.Logger = discardLogger() })
			defer tb.stop()
			topic := "bench-" + c.name
			opts := []kgo.Opt{kgo.SeedBrokers(tb.addr), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
				kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner())}
			if c.per > 0 {
				opts = append(opts, kgo.TransactionalID("bench-"+c.name), kgo.TransactionTimeout(time.Minute))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			recs := make([]*kgo.Record, 100)
			val := randomBytes(100)
			for i := range recs {
				recs[i] = &kgo.Record{Value: val}
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); c.per == 0 && err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if c.per > 0 && i%c.per == 0 {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				for _, r := range recs {
					r.Partition = 0
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				if c.per > 0 && (i%c.per == c.per-1 || i == b.N-1) {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/time.Since(start).Seconds(), "records/s")
		})
	}
}
