package stream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/serde"
)

// TestRegistryRetryLeavesTheLockFree: while the schema registry does not
// answer, the processor retries the lookup with a backoff, but not under
// its mutex (rebalance callbacks take it: on the old code they waited up to
// 30 sleeps), and cancelling the run stops the retries at once.
func TestRegistryRetryLeavesTheLockFree(t *testing.T) {
	var lookups atomic.Int64
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lookups.Add(1)
		http.Error(w, `{"error_code":50001,"message":"down for the test"}`, http.StatusServiceUnavailable)
	}))
	defer reg.Close()
	srcl, err := sr.NewClient(sr.URLs(reg.URL))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Serde: serde.New(srcl), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	rec := &kgo.Record{Topic: "market.events", Value: append(serde.AppendHeader(nil, 7), 2, 'x')}
	go func() { done <- p.process(ctx, []*kgo.Record{rec}) }()
	poll.Until(t, 20*time.Second, "the processor to retry the registry", func() bool { return lookups.Load() >= 2 })
	if !p.mu.TryLock() {
		t.Fatal("the processor holds its mutex while it waits to retry the registry")
	}
	p.mu.Unlock()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("process after cancel: %v (want it to stop because ctx was cancelled)", err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	_, err := New(Config{Partitions: -1, Lateness: -time.Second, UpdateEvery: -time.Second})
	for _, want := range []string{"Brokers is required", "Serde is required", "Partitions -1", "Lateness -1s", "UpdateEvery -1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
