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
	if len(info.Venues) != 1 || !info.Venues[0].Synthetic || !strings.Contains(info.Venues[0].Description, "fake Poloniex") || !strings.Contains(info.Venues[0].Description, " on http://127.0.0.1:") {
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
	_, err = New(Config{Venues: []VenueConfig{{Name: "gemini", Symbols: []string{"BTC-USDT"}}}})
	var uv *UnknownVenueError
	if !errors.As(err, &uv) || uv.Name != "gemini" || len(uv.Known) == 0 {
		t.Fatalf("unknown venue: %v", err)
	}
}

// TestResolveSymbols: for every registered venue, an unreachable venue and
// an unknown symbol are typed errors the CLI turns into advice, and
// normalized symbols resolve to the venue's spelling.
func TestResolveSymbols(t *testing.T) {
	for _, name := range Venues() {
		v, err := DefaultFactory(VenueConfig{Name: name, RESTURL: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Resolve(context.Background(), []string{"BTC-USDT"})
		var ue *UnreachableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach") {
			t.Fatalf("%s without network: %v", name, err)
		}
		fv, err := DefaultFactory(VenueConfig{Name: name, Fake: true})
		if err != nil {
			t.Fatal(err)
		}
		defer fv.Close()
		if !fv.Synthetic || !strings.HasSuffix(fv.Connector.Name(), "-synthetic") {
			t.Fatalf("%s fake: %+v", name, fv)
		}
		syms, err := fv.Resolve(context.Background(), fv.Connector.Info().DefaultSymbols)
		if err != nil || len(syms) != 2 {
			t.Fatalf("%s defaults: %v %v", name, syms, err)
		}
		_, err = fv.Resolve(context.Background(), []string{"BTC-USDX"})
		var us *UnknownSymbolError
		if !errors.As(err, &us) || us.Symbol != "BTC-USDX" || !strings.Contains(err.Error(), "close matches") {
			t.Fatalf("%s unknown symbol: %v", name, err)
		}
	}
	fv, _ := DefaultFactory(VenueConfig{Name: "binance", Fake: true})
	defer fv.Close()
	if syms, err := fv.Resolve(context.Background(), []string{"eth-usdt", "BTCUSDT"}); err != nil || syms[0] != "ETHUSDT" || syms[1] != "BTCUSDT" {
		t.Fatalf("binance: %v %v", syms, err)
	}
}

// TestRunEveryVenue is `tickertape demo` with every venue: Poloniex,
// Binance, Bitstamp, Coinbase, Kraken and OKX fakes in one process, one market.events topic, and
// final candles of every symbol of every venue.
func TestRunEveryVenue(t *testing.T) {
	ivs, _ := stream.ParseIntervals("1s")
	// Normalized symbols; each venue resolves them to its own spelling.
	norm := map[string][]string{"binance": {"BTC-USDT", "ETH-USDT"}, "bitstamp": {"BTC-USD", "ETH-USD"}, "coinbase": {"BTC-USD", "ETH-USD"}, "kraken": {"BTC-USD", "ETH-USD"}, "okx": {"BTC-USDT", "ETH-USDT"}, "poloniex": {"BTC-USDT", "ETH-USDT"}}
	spelled := map[string]string{"binance": "BTCUSDT", "bitstamp": "btcusd", "coinbase": "BTC-USD", "kraken": "BTC/USD", "okx": "BTC-USDT", "poloniex": "BTC_USDT"}
	var venues []VenueConfig
	for i, name := range []string{"binance", "bitstamp", "coinbase", "kraken", "okx", "poloniex"} {
		venues = append(venues, VenueConfig{Name: name, Symbols: norm[name], Fake: true, Seed: uint64(i + 1), FakeTick: 50 * time.Millisecond})
	}
	p, err := New(Config{
		Stack: app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet(),
			Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet()}},
		Venues: venues, Candles: &CandleConfig{Intervals: ivs, Lateness: 200 * time.Millisecond, IdleAfter: 500 * time.Millisecond},
		Partitions: 2, SampleEvery: 100 * time.Millisecond, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-p.Ready():
	}
	want := map[string][]string{"binance-synthetic": {"BTC-USDT", "ETH-USDT"}, "bitstamp-synthetic": {"BTC-USD", "ETH-USD"}, "coinbase-synthetic": {"BTC-USD", "ETH-USD"}, "kraken-synthetic": {"BTC-USD", "ETH-USD"}, "okx-synthetic": {"BTC-USDT", "ETH-USDT"}, "poloniex-synthetic": {"BTC-USDT", "ETH-USDT"}}
	var s Snapshot
	poll.Until(t, 60*time.Second, "trades, tickers, book updates and final candles of every symbol of every venue", func() bool {
		s = p.Snapshot()
		if len(s.Venues) != len(want) {
			return false
		}
		for _, v := range s.Venues {
			if v.Trades == 0 || v.Tickers == 0 || v.BookUpdates == 0 || v.ProduceFailed != 0 {
				return false
			}
			finals := map[string]bool{}
			for _, c := range v.LatestCandles {
				if c.Final && c.Interval == "1s" {
					finals[c.Exchange+" "+c.Symbol] = true
				}
			}
			if len(v.LatestCandles) == 0 {
				return false
			}
			exch := v.LatestCandles[0].Exchange
			for _, sym := range want[exch] {
				if !finals[exch+" "+sym] {
					return false
				}
			}
		}
		return true
	}, func() string { return fmt.Sprintf("snapshot %+v", s) })
	for _, v := range s.Venues {
		if !v.Synthetic || v.Symbols[0] != spelled[v.Name] {
			t.Fatalf("venue %s: symbols %v not resolved to the venue's spelling, or not synthetic", v.Name, v.Symbols)
		}
	}
}

// TestRunFailsBeforeReady: a stack that cannot start fails Run, and Info
// and Stack return instead of waiting for a Ready that never comes.
func TestRunFailsBeforeReady(t *testing.T) {
	busy, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet()}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close(context.Background())
	p, err := New(Config{Stack: app.Config{KafkaAddr: busy.KafkaAddr(), RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}},
		Candles: &CandleConfig{}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var le *app.ListenError
	if err := p.Run(context.Background()); !errors.As(err, &le) || le.Listener != app.ListenerKafka {
		t.Fatalf("Run: %v", err)
	}
	if info := p.Info(); info.Embedded || p.Stack() != nil {
		t.Fatalf("info after a failed start: %+v", info)
	}
}
