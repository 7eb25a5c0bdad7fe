package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// etlWorker is one consume -> transform -> produce member of franz-go's
// GroupTransactSession.
type etlWorker struct {
	sess   *kgo.GroupTransactSession
	dialer *killableDialer
	stop   chan struct{}
	done   chan struct{}
}

func startETLWorker(t *testing.T, tb *testBroker, txnID, group, in, out string) *etlWorker {
	t.Helper()
	w := &etlWorker{dialer: &killableDialer{}, stop: make(chan struct{}), done: make(chan struct{})}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(tb.addr), kgo.Dialer(w.dialer.dial),
		kgo.TransactionalID(txnID), kgo.TransactionTimeout(3*time.Second),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.RequireStableFetchOffsets(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(1500*time.Millisecond), kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.RebalanceTimeout(3*time.Second), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.RetryTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	w.sess = sess
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			fs := sess.PollFetches(ctx)
			cancel()
			if fs.IsClientClosed() {
				return
			}
			if len(fs.Records()) == 0 {
				continue
			}
			if err := sess.Begin(); err != nil {
				continue
			}
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: append([]byte("out-"), r.Value...)}, nil)
			})
			sess.End(ctx, kgo.TryCommit) // a failed or fenced batch is redone by whoever owns it next
			cancel()
		}
	}()
	return w
}

// kill cuts the worker off the network mid-stream, as if its process died,
// leaving whatever transaction it had open.
func (w *etlWorker) kill() {
	w.dialer.kill()
	close(w.stop)
	<-w.done
	go w.sess.Close() // fails fast: no network
}

func (w *etlWorker) close() {
	close(w.stop)
	<-w.done
	w.sess.Close()
}

// franz-go's GroupTransactSession ETL: with members killed and rebalances
// while it runs, every input record is in the output exactly once for a
// read_committed reader.
func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	shortTxnAbortCheck(t, 100*time.Millisecond)
	tb := startBroker(t, fastGroups, func(c *Config) { c.Logger = discardLogger() })
	const in, out, group, n = "etl-in", "etl-out", "etl", 1200
	if _, err := tb.admin().CreateTopic(testCtx(t), 4, 1, nil, in); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.admin().CreateTopic(testCtx(t), 2, 1, nil, out); err != nil {
		t.Fatal(err)
	}
	produceN(t, tb, in, 0, n/3)
	w1 := startETLWorker(t, tb, "etl-1", group, in, out)
	w2 := startETLWorker(t, tb, "etl-2", group, in, out)
	var closeAll []*etlWorker
	t.Cleanup(func() {
		for _, w := range closeAll {
			w.close()
		}
	})
	produceN(t, tb, in, n/3, n/3)
	w3 := startETLWorker(t, tb, "etl-3", group, in, out) // a rebalance
	time.Sleep(500 * time.Millisecond)                   // let it take partitions mid-stream
	w1.kill()                                            // dies with a transaction open, probably
	produceN(t, tb, in, 2*n/3, n/3)
	w4 := startETLWorker(t, tb, "etl-4", group, in, out) // another rebalance
	closeAll = append(closeAll, w2, w3, w4)

	seen := map[string]int{}
	cl := tb.client(kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	deadline := time.Now().Add(60 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	// Anything late (a duplicate) would arrive now.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	cancel()
	missing, dups := 0, 0
	for i := 0; i < n; i++ {
		switch c := seen[fmt.Sprintf("out-%d", i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups++
		}
	}
	if missing > 0 || dups > 0 || len(seen) != n {
		t.Fatalf("output: %d distinct, %d inputs missing, %d duplicated (want each of %d exactly once)", len(seen), missing, dups, n)
	}
}
