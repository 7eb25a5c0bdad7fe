package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// A commit that failed leaves the partitions it covered dirty again (those
// still owned), so that the next commit sends their newest state; one cut
// short by a cancelled context is not an error.
func TestWaitCommitRedirtiesWhatFailed(t *testing.T) {
	for _, c := range []struct {
		err     error
		wantErr bool
		dirty   []int32
	}{
		{nil, false, nil},
		{errors.New("stream: committing: broken pipe"), true, []int32{0, 1}},
		{fmt.Errorf("stream: committing: %w", context.Canceled), false, []int32{0, 1}},
	} {
		p := &Processor{processed: map[int32]int64{0: 5, 1: 7}, dirty: map[int32]bool{}}
		ic := &inflightCommit{done: make(chan struct{}), parts: []int32{0, 1, 2}, err: c.err} // 2 was revoked meanwhile
		close(ic.done)
		p.inflight = ic
		err := p.waitCommit()
		if (err != nil) != c.wantErr {
			t.Fatalf("%v: waitCommit returned %v", c.err, err)
		}
		if p.inflight != nil {
			t.Fatalf("%v: the commit is still in flight after waitCommit", c.err)
		}
		want := map[int32]bool{}
		for _, part := range c.dirty {
			want[part] = true
		}
		if !maps.Equal(p.dirty, want) {
			t.Fatalf("%v: dirty %v, want %v", c.err, p.dirty, want)
		}
		if err := p.waitCommit(); err != nil {
			t.Fatalf("nothing in flight: waitCommit returned %v", err)
		}
	}
}

// At-least-once, commits are sent without waiting for their answers; a
// graceful stop still waits for the last one, so the group's committed
// metadata records every record read, per partition.
func TestAtLeastOnceStopCommitsEverythingRead(t *testing.T) {
	s, srcl, quiet := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sd := serde.New(srcl)
	id, err := sd.Register(ctx, market.SubjectFor("market.events", market.TradeName), market.TradeSchema)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.DefaultProduceTopic("market.events"), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "market.events"); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Brokers: []string{s.KafkaAddr()}, Serde: sd, Partitions: 3, ExactlyOnce: EOSOff, Logger: quiet,
		UpdateEvery: time.Millisecond, KafkaOpts: []kgo.Opt{kgo.FetchMaxWait(20 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	// Trades in small batches, so that the processor commits many times
	// while it runs, each commit in flight while the next batch is read.
	end := map[int32]int64{}
	base := time.Now().UnixMilli()
	for i := range 60 {
		tr := trade(fmt.Sprint(i), base+int64(i), "1.5", "2")
		tr.Symbol, tr.VenueSymbol = []string{"A-B", "C-D", "E-F"}[i%3], []string{"A_B", "C_D", "E_F"}[i%3]
		r := &kgo.Record{Key: market.AppendEventKey(nil, tr.Exchange, tr.Symbol), Value: market.AppendTrade(serde.AppendHeader(nil, id), tr)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		end[r.Partition] = r.Offset + 1
		if i == 0 { // the rest once the processor has joined and reads
			waitRead(t, ctx, p, done, end)
		}
		time.Sleep(2 * time.Millisecond)
	}
	waitRead(t, ctx, p, done, end)
	pcancel()
	if err := <-done; err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if n := p.Counters.Commits.Load(); n < 2 {
		t.Fatalf("%d commits for 60 records read in small batches", n)
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, p.Group())
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range end {
		o, ok := offs.Lookup("market.events", part)
		if !ok || o.Err != nil {
			t.Fatalf("partition %d: no committed offset (%v)", part, o.Err)
		}
		var md metadata
		if err := json.Unmarshal([]byte(o.Metadata), &md); err != nil {
			t.Fatalf("partition %d: metadata %q: %v", part, o.Metadata, err)
		}
		if md.End != want {
			t.Fatalf("partition %d: the last commit records reading up to %d, the processor read up to %d", part, md.End, want)
		}
	}
}

// waitRead waits until the processor has read up to end.
func waitRead(t *testing.T, ctx context.Context, p *Processor, done <-chan error, end map[int32]int64) {
	t.Helper()
	for !maps.Equal(p.Positions(), end) {
		select {
		case err := <-done:
			t.Fatalf("the processor stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("the processor read up to %v, want %v", p.Positions(), end)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// ExactlyOnce, which a pipeline's Snapshot calls from any goroutine, does not
// wait for a batch (which holds p.mu while it waits for the brokers: a commit
// to a coordinator that just died can take seconds).
func TestExactlyOnceDoesNotWaitForABatch(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Serde: serde.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	p.eosShown.Store(true)
	p.mu.Lock() // a batch in progress
	defer p.mu.Unlock()
	if !poll.Returns(t, 5*time.Second, "ExactlyOnce while a batch holds the lock", p.ExactlyOnce) {
		t.Fatal("ExactlyOnce is false for a processor in exactly-once mode")
	}
}
