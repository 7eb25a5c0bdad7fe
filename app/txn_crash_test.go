package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrashMidTransaction kills the broker with SIGKILL while a transactional
// producer commits transactions of 5 records over 2 partitions, restarts it,
// and checks that no transaction is left hanging (the last stable offset of
// every partition reaches the high watermark), that every transaction whose
// commit was acknowledged is wholly visible to read_committed, and that no
// transaction is partly visible.
func TestCrashMidTransaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for round := range 2 {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) { txnCrashRound(t) })
	}
}

func txnCrashRound(t *testing.T) {
	const topic, per = "txcrash", 5
	dir, addr := t.TempDir(), freeAddr(t)
	ch := startChild(t, dir, addr)
	defer func() { ch.kill() }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID("crash-tx"), kgo.TransactionTimeout(30*time.Second),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.RequestTimeoutOverhead(2*time.Second),
		kgo.RetryTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	var mu sync.Mutex
	var committed []int // transactions whose EndTransaction(commit) succeeded
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			if prod.BeginTransaction() != nil {
				return
			}
			for j := range per {
				prod.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "t%d-%d", k, j)}, nil)
			}
			if err := prod.Flush(ctx); err != nil {
				return
			}
			if err := prod.EndTransaction(ctx, kgo.TryCommit); err != nil {
				return
			}
			mu.Lock()
			committed = append(committed, k)
			mu.Unlock()
		}
	}()
	time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
	ch.kill()
	mu.Lock()
	acked := append([]int(nil), committed...)
	mu.Unlock()
	close(stop)
	prod.Close() // the producer is gone too: its open transaction must not hang
	<-done
	ch = startChild(t, dir, addr)

	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	hw, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	hw.Each(func(o kadm.ListedOffset) {
		if l, _ := lso.Lookup(topic, o.Partition); l.Offset != o.Offset {
			t.Errorf("partition %d: last stable offset %d, high watermark %d: a transaction hangs", o.Partition, l.Offset, o.Offset)
		}
	})
	if d, err := adm.DescribeTransactions(ctx, "crash-tx"); err == nil {
		if s := d["crash-tx"].State; s == "Ongoing" || strings.HasPrefix(s, "Prepare") {
			t.Errorf("transaction state after restart: %s", s)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	parts := map[int]int{}
	for idle := 0; idle < 3; {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cons.PollFetches(pctx)
		pcancel()
		if len(fs.Records()) == 0 {
			idle++
		}
		fs.EachRecord(func(r *kgo.Record) {
			var k, j int
			fmt.Sscanf(string(r.Value), "t%d-%d", &k, &j)
			parts[k]++
		})
	}
	for k, n := range parts {
		if n != per {
			t.Errorf("transaction %d: %d of its %d records visible to read_committed", k, n, per)
		}
	}
	for _, k := range acked {
		if parts[k] != per {
			t.Errorf("acknowledged transaction %d: %d records visible", k, parts[k])
		}
	}
	t.Logf("%d transactions acknowledged before the kill, %d visible after the restart", len(acked), len(parts))
}
