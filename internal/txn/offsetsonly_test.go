package txn_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/txn"
)

// A transaction that holds only offsets (a batch read with nothing to
// write) is ended on the broker: franz-go sends no EndTxn when nothing was
// produced, and the open transaction kept the group's offsets unstable
// until its timeout aborted it and fenced the producer (a book builder
// that joined a group then waited on its own transaction and was fenced).
// (The processors no longer open such transactions; End still ends one.)
func TestOffsetsOnlyTransactionEnds(t *testing.T) {
	b, err := broker.New(broker.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(ln)
	defer b.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seed := kgo.SeedBrokers(ln.Addr().String())
	setup, err := kgo.NewClient(seed, kgo.DefaultProduceTopic("in"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	setup.Close()

	for i, commit := range []bool{true} {
		id := []string{"offsets-commit", "offsets-abort"}[i]
		cl, err := kgo.NewClient(seed, kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.CommitOffsets(ctx, cl, id, "g-"+id, []txn.Topic{{Name: "in", Offsets: []txn.Offset{{Partition: 0, At: 1, Metadata: "m"}}}}); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = txn.End(ctx, cl, id, kgo.TryCommit, false)
		} else {
			err = txn.Abort(ctx, cl, id, context.Canceled)
		}
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		// Stable at once: the transaction is over (a minute's timeout
		// would otherwise hold it).
		reader, err := kgo.NewClient(seed)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		offs, err := txn.FetchStable(ctx, reader, "g-"+id, time.Second)
		if err != nil {
			t.Fatalf("%s: the group's offsets are not stable after the transaction ended: %v", id, err)
		}
		o, ok := offs.Lookup("in", 0)
		switch {
		case commit && (!ok || o.At != 1 || o.Metadata != "m"):
			t.Fatalf("committed offsets-only transaction: offset %+v (found %v), want 1 with its metadata", o, ok)
		case !commit && ok && o.At >= 0:
			t.Fatalf("aborted offsets-only transaction left offset %+v", o)
		}
		// And the producer goes on: the next transaction begins and ends.
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("%s: next transaction: %v", id, err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte("y")}).FirstErr(); err != nil {
			t.Fatalf("%s: produce in the next transaction: %v", id, err)
		}
		if err := txn.End(ctx, cl, id, kgo.TryCommit, true); err != nil {
			t.Fatalf("%s: committing the next transaction: %v", id, err)
		}
	}
}
