package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/poll"
)

// TestStopWithBrokersGoneEndsWithinGrace: the brokers go away while a fast
// venue keeps producing, so the producer's buffer fills and a produce
// blocks; a stop then still ends within StopGrace, with an error that says
// what was not delivered (it used to wait for ever).
func TestStopWithBrokersGoneEndsWithinGrace(t *testing.T) {
	stack, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet(),
		Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet()}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{
		Brokers: []string{stack.KafkaAddr()}, RegistryURL: stack.RegistryURL(),
		Venues:     []VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT"}, Fake: true, Seed: 1, FakeTick: time.Millisecond, FakeTradesPerTick: 20}},
		Partitions: 1, SampleEvery: 50 * time.Millisecond, Logger: quiet(), StopGrace: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	poll.Until(t, 30*time.Second, "events produced", func() bool {
		s := p.Snapshot()
		return len(s.Venues) == 1 && s.Venues[0].Produced > 0
	})
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	stack.Close(cctx)
	// Wait until ingest is stuck: events stop arriving because a produce
	// blocks on the full buffer (franz-go holds 10,000 records).
	var last int64 = -1
	poll.Until(t, 60*time.Second, "ingest to block on the producer's full buffer", func() bool {
		n := p.Snapshot().Venues[0].EventsIn
		stuck := n == last && n-p.Snapshot().Venues[0].Produced >= 10000
		last = n
		return stuck
	})
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not take the last") {
			t.Fatalf("Run ended with %v, want an error naming the events not delivered", err)
		}
		if d := time.Since(stopped); d > 20*time.Second {
			t.Fatalf("the stop took %s with a 1 s grace", d)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("Run did not return after a stop with the brokers gone")
	}
}
