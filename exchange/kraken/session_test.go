package kraken

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
)

// TestResyncPaced: a book that keeps failing its checksum cannot make the
// session send more than one resubscription per ResyncEvery and symbol
// (a lower bound on the wait; timers never fire early).
func TestResyncPaced(t *testing.T) {
	f, err := NewFake(FakeConfig{Seed: 1, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := f.Options()
	c, err := New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, ResyncEvery: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sess, err := c.Dial(ctx, exchange.Subscription{Symbols: []string{"BTC/USD", "ETH/USD"}, Books: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	start := time.Now()
	for range 3 {
		if err := sess.Resync(ctx, "BTC/USD"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("three resyncs of one symbol in %s, want at least 2 × 200ms between them", d)
	}
	if err := sess.Resync(ctx, "ETH/USD"); err != nil {
		t.Fatal(err)
	}
	// A cancelled wait ends the resync with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sess.Resync(cctx, "BTC/USD"); err == nil {
		t.Fatal("a cancelled resync went on")
	}
	if _, err := New(Config{Depth: 7}); err == nil {
		t.Fatal("depth 7 accepted")
	}
}
