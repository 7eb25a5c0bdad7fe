package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
)

// startBroker runs an embedded tickertape broker on a loopback port.
func startBroker(t *testing.T) string {
	t.Helper()
	b, err := broker.New(broker.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Close(ctx)
	})
	return ln.Addr().String()
}

// committed counts the records a read_committed consumer sees in topic.
func committed(t *testing.T, addr, topic string, want int64) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got int64
	for got < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(*kgo.Record) { got++ })
	}
	// Anything beyond want would show up within a short extra poll.
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	cl.PollFetches(short).EachRecord(func(*kgo.Record) { got++ })
	return got
}

func TestProduceBatches(t *testing.T) {
	addr := startBroker(t)
	for _, c := range []struct {
		name   string
		perTxn int
		pause  time.Duration
	}{{"idempotent", 0, 0}, {"txn-3", 3, 0}, {"paused", 0, 20 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(c.name), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}
			if c.perTxn > 0 {
				opts = append(opts, kgo.TransactionalID("test-"+c.name))
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, c.name); err != nil {
				t.Fatal(err)
			}
			const n = 7
			res := produceBatches(ctx, cl, make([]byte, 16), 2, n, c.perTxn, c.pause, 0, 200*time.Millisecond)
			unit := int64(n * max(c.perTxn, 1))
			if res.Records == 0 || res.Records%unit != 0 {
				t.Fatalf("counted %d records, want a positive multiple of %d (whole units)", res.Records, unit)
			}
			if res.Errors != 0 || res.RecordsPerSec <= 0 || res.P99Ms <= 0 {
				t.Fatalf("result %+v", res)
			}
			// Paused: at most one batch per pause in the 200 ms, and records/s
			// leaves the pauses out (the batches' own time is far shorter).
			if c.pause > 0 && (res.Records > unit*int64(200*time.Millisecond/c.pause+1) || res.RecordsPerSec*0.2 <= float64(res.Records)) {
				t.Fatalf("paused %v: %d records at %.0f/s", c.pause, res.Records, res.RecordsPerSec)
			}
			// No warm-up: every record produced was counted, and every one was committed.
			if got := committed(t, addr, c.name, res.Records); got != res.Records {
				t.Fatalf("read_committed sees %d records, loadgen counted %d", got, res.Records)
			}
		})
	}
}
