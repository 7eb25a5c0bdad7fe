package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/exchange/poloniex"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/stream"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestRunEmbeddedSnapshot runs what `tickertape demo` runs (the embedded
// stack, a fake venue, the processor) and reads its state only through
// Snapshot: rates, latencies, lag, and the latest candles of the venue.
func TestRunEmbeddedSnapshot(t *testing.T) {
	ivs, _ := stream.ParseIntervals("1s,1m")
	p, err := New(Config{
		Stack: app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet(),
			Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet()}},
		Venues:      []VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Fake: true, Seed: 5, FakeTick: 10 * time.Millisecond}},
		Candles:     &CandleConfig{Intervals: ivs, Lateness: 200 * time.Millisecond, IdleAfter: 500 * time.Millisecond},
		Partitions:  2,
		SampleEvery: 100 * time.Millisecond,
		Logger:      quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-p.Ready():
	}
	info := p.Info()
	if !info.Embedded || len(info.Brokers) != 1 || !strings.HasPrefix(info.RegistryURL, "http://127.0.0.1:") || p.Stack() == nil {
		t.Fatalf("info %+v", info)
	}
	if len(info.Venues) != 1 || !info.Venues[0].Synthetic || !strings.Contains(info.Venues[0].Description, "fake Poloniex on http://127.0.0.1:") {
		t.Fatalf("venues %+v", info.Venues)
	}
	var s Snapshot
	poll.Until(t, 30*time.Second, "a final 1s candle of both symbols, a rate and a known lag", func() bool {
		s = p.Snapshot()
		if len(s.Venues) != 1 || s.Candles == nil || s.Candles.Lag < 0 || s.Venues[0].TradesPerSec <= 0 {
			return false
		}
		finals := map[string]bool{}
		for _, c := range s.Venues[0].LatestCandles {
			if c.Final && c.Interval == "1s" {
				finals[c.Symbol] = true
			}
		}
		return finals["BTC-USDT"] && finals["ETH-USDT"]
	}, func() string { return fmt.Sprintf("snapshot %+v", s) })
	v := s.Venues[0]
	if v.Name != "poloniex" || v.Connects != 1 || v.Reconnects != 0 || v.Produced == 0 || v.ProduceFailed != 0 || v.ProduceLatencyP99 <= 0 ||
		v.ProduceLatencyP50 > v.ProduceLatencyP99 || v.BackfillRuns < 2 || v.Trades == 0 || v.BookUpdates == 0 || v.Tickers == 0 {
		t.Fatalf("venue snapshot %+v", v)
	}
	if c := s.Candles; c.Group != "tickertape-candles" || c.Trades == 0 || c.FinalCandles == 0 || c.DeadLettered != 0 || len(c.LatestCandles) < len(v.LatestCandles) {
		t.Fatalf("candle snapshot %+v", c)
	}
	for i := 1; i < len(v.LatestCandles); i++ {
		a, b := v.LatestCandles[i-1], v.LatestCandles[i]
		if a.Symbol > b.Symbol || (a.Symbol == b.Symbol && intervalWidth(a.Interval) >= intervalWidth(b.Interval)) {
			t.Fatalf("latest candles out of order: %s %s, then %s %s", a.Symbol, a.Interval, b.Symbol, b.Interval)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	if err := p.Run(ctx); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("second Run: %v", err)
	}
}

// TestValidateReportsEveryProblem: one error per problem, all at once.
func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := New(Config{
		RegistryURL: "http://r:8081",
		Partitions:  -1,
		Venues:      []VenueConfig{{Name: "poloniex"}, {Name: "poloniex", Symbols: []string{""}}, {}},
		Candles:     &CandleConfig{Lateness: -time.Second},
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"RegistryURL without Brokers", "Partitions -1", `venue "poloniex" has no symbols`, `venue "poloniex" is listed twice`,
		`empty symbol`, "venue 2 has no name", "may not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "nothing to run") {
		t.Errorf("empty config: %v", err)
	}
	if _, err := New(Config{Brokers: []string{"k:9092"}, Candles: &CandleConfig{}}); err == nil || !strings.Contains(err.Error(), "Brokers needs RegistryURL") {
		t.Errorf("brokers without registry: %v", err)
	}
	_, err = New(Config{Venues: []VenueConfig{{Name: "kraken", Symbols: []string{"XBTUSD"}}}})
	var uv *UnknownVenueError
	if !errors.As(err, &uv) || uv.Name != "kraken" || len(uv.Known) == 0 {
		t.Fatalf("unknown venue: %v", err)
	}
}

// TestLivePoloniexCheck: an unreachable venue and an unknown symbol are
// typed errors the CLI turns into advice.
func TestLivePoloniexCheck(t *testing.T) {
	err := checkPoloniex(context.Background(), poloniex.New(poloniex.Config{RESTURL: "http://127.0.0.1:1"}), []string{"BTC_USDT"})
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach Poloniex") {
		t.Fatalf("without network: %v", err)
	}
	fake, err := poloniex.NewFake(poloniex.FakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	err = checkPoloniex(context.Background(), poloniex.New(fake.Config()), []string{"BTC_USDT", "NOPE_USDT"})
	var us *UnknownSymbolError
	if !errors.As(err, &us) || us.Symbol != "NOPE_USDT" {
		t.Fatalf("unknown symbol: %v", err)
	}
}
