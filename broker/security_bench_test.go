package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProduceByListener produces 1 KiB records (acks=all, idempotent,
// no compression, fsync never) through one franz-go client to each listener
// type of one broker, so that the cost of TLS and of SASL shows side by side
// in one run: go test -run '^$' -bench ProduceByListener -benchtime 20000x ./broker
func BenchmarkProduceByListener(b *testing.B) {
	for _, l := range []string{"PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"} {
		b.Run(l, func(b *testing.B) {
			sb := startSecureBroker(b)
			// PLAINTEXT and SSL clients are User:ANONYMOUS here: the same ACL checks run on every path.
			sb.addACL(resTopic, "bench", kmsg.ACLResourcePatternTypeLiteral, anonymous, kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow)
			sb.addACL(resCluster, clusterName, kmsg.ACLResourcePatternTypeLiteral, anonymous, opIdempotentWrite, kmsg.ACLPermissionTypeAllow)
			cl := sb.benchClient(l)
			val := make([]byte, 1024)
			ctx := context.Background()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: val}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(val)))
			b.ReportAllocs()
			b.ResetTimer()
			errs := make(chan error, 1)
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}
