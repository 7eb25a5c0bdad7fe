package book_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// TestBooksExactlyOnceKilled runs the book builder in exactly-once mode
// over every venue's fake and kills it mid-stream again and again: half
// the time a second builder (another transactional id) has joined first,
// half the time the killed one is restarted with its transactional id
// (fencing its open transaction). A read_committed reader of market.books
// and market.bbo must see
//   - no book twice for the same (key, source partition, source offset),
//     and no per-venue BBO twice for the same (venue, symbol, sequence,
//     sides) where the venue has sequences: the new owner publishes only what changed after what the
//     killed one committed;
//   - every SYNCED book a whole book the fake had, never crossed, and every
//     consolidated BBO the brute-force best of the venue BBOs before it;
//   - once the markets pause, each book equal to its fake's.
func TestBooksExactlyOnceKilled(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	vuts, brokers, srcl := startVenues(t, ctx, quiet)

	kopts := []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	start := func(id string) *book.Processor {
		p, err := book.New(book.Config{Brokers: brokers, Serde: serde.New(srcl), Partitions: 3, Every: 200 * time.Millisecond, Logger: quiet, KafkaOpts: kopts,
			ExactlyOnce: book.EOSOn, TransactionalID: id, TransactionTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("builder %s: %v", id, err)
			}
		}()
		t.Cleanup(p.Kill)
		return p
	}
	out := newReader(t, ctx, brokers, serde.New(srcl), true)
	wantBooks := 0
	for _, v := range vuts {
		wantBooks += len(v.fake.Sim().Symbols())
	}

	cur := start("books-a")
	poll.Until(t, 90*time.Second, "a synced book of every symbol of every venue", func() bool { return out.syncedKeys() == wantBooks },
		func() string { return fmt.Sprintf("%d of %d; %s", out.syncedKeys(), wantBooks, out.summary()) })
	if !cur.ExactlyOnce() {
		t.Fatal("the builder does not use transactions against the embedded broker")
	}
	ids := map[string]string{"books-a": "books-b", "books-b": "books-a"}
	id := "books-a"
	const kills = 4
	for k := 0; k < kills; k++ {
		at := cur.Counters.BookRecords.Load()
		poll.Until(t, 90*time.Second, "book messages applied before the kill", func() bool { return cur.Counters.BookRecords.Load() >= at+150 })
		if k == 1 {
			for _, v := range vuts {
				v.fake.Faults().SkipBook() // a gap while killing: a RESYNCING book to rebuild
			}
		}
		if k%2 == 0 {
			next := start(ids[id])
			poll.Until(t, 90*time.Second, "the joining builder reading", func() bool { return next.Counters.Records.Load() > 0 })
			cur.Kill()
			cur, id = next, ids[id]
		} else {
			cur.Kill()
			cur = start(id) // the same transactional id: fences the killed one's transaction
		}
		poll.Until(t, 90*time.Second, "the surviving builder committing", func() bool { return cur.Counters.Commits.Load() > 3 && cur.Counters.BookRecords.Load() > 100 },
			func() string {
				return fmt.Sprintf("commits %d, book records %d", cur.Counters.Commits.Load(), cur.Counters.BookRecords.Load())
			})
	}
	settle(t, out, vuts)

	if bad := out.duplicates(); len(bad) > 0 {
		t.Fatalf("%d records seen twice by a read_committed reader: %s", len(bad), bad)
	}
	if bad := out.wrongBooks(vuts); len(bad) > 0 {
		t.Fatalf("%d market.books records were not the fake's book; first: %s", len(bad), bad[0])
	}
	if bad := out.wrongConsolidated(); len(bad) > 0 {
		t.Fatalf("%d consolidated BBOs differ from the brute-force best; first: %s", len(bad), bad[0])
	}
	t.Logf("%s; the last builder aborted and rebuilt %d transactions", out.summary(), cur.Counters.Aborts.Load())
}

// duplicates lists books seen twice for the same source position and
// venue BBOs seen twice for the same sequence and sides.
func (r *reader) duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	seen := map[string]int{}
	for _, b := range r.books {
		k := fmt.Sprintf("%s@%d/%d", b.Key(), b.SourcePartition, b.SourceOffset)
		if seen[k]++; seen[k] == 2 {
			bad = append(bad, "market.books "+k)
		}
	}
	for _, qs := range r.bbos {
		for _, q := range qs {
			if q.Consolidated || q.Sequence == 0 {
				continue // consolidated and sequenceless BBOs name no input position
			}
			k := fmt.Sprintf("%s seq %d %s", market.EventKey(q.Exchange, q.Symbol), q.Sequence, showBBO(q))
			if seen[k]++; seen[k] == 2 {
				bad = append(bad, "market.bbo "+k)
			}
		}
	}
	return bad
}
