package stream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/exchange/poloniex"
	"github.com/tickertape/tickertape/internal/candletest"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
)

// TestPipelineEndToEnd: fake Poloniex → ingest → embedded broker →
// processor → market.candles. The processor is killed mid-stream (three
// times) and a new one takes over; every final candle must equal a
// brute-force recomputation from the fake's ground truth, and bad records
// must be skipped or dead-lettered. In exactly-once mode (transactions, the
// default with our broker) a read_committed reader sees each final candle
// exactly once; at-least-once mode may repeat one, identical.
func TestPipelineEndToEnd(t *testing.T) {
	t.Run("exactly-once", func(t *testing.T) { pipelineEndToEnd(t, stream.EOSOn) })
	t.Run("at-least-once", func(t *testing.T) { pipelineEndToEnd(t, stream.EOSOff) })
}

func pipelineEndToEnd(t *testing.T, mode stream.EOSMode) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake, err := poloniex.NewFake(poloniex.FakeConfig{Seed: 11, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The stack and ingest: one pipeline.
	ingestP, err := pipeline.New(pipeline.Config{
		Stack: app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet,
			Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet, GroupMinSessionTimeout: 500 * time.Millisecond, NoGroupInitialRebalanceDelay: true}},
		Venues:     []pipeline.VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Connector: poloniex.New(fake.Config())}},
		Partitions: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ictx, icancel := context.WithCancel(ctx)
	idone, istopped := make(chan error, 1), make(chan struct{})
	go func() { idone <- ingestP.Run(ictx); close(istopped) }()
	t.Cleanup(func() { icancel(); <-istopped }) // the stack stops before its data dir is removed
	select {
	case err := <-idone:
		t.Fatal(err)
	case <-ingestP.Ready():
	}
	brokers, registryURL := ingestP.Info().Brokers, ingestP.Info().RegistryURL
	srcl, _ := sr.NewClient(sr.URLs(registryURL))

	intervals, _ := stream.ParseIntervals("1s,2s")
	const (
		lateness    = 300 * time.Millisecond
		updateEvery = 200 * time.Millisecond
		idleAfter   = 300 * time.Millisecond
	)
	kopts := []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)}
	const txnTimeout = 2 * time.Second // how long a killed processor's open transaction holds its partitions
	// The first processors are bare stream.Processors, so that they can be
	// killed as a crash would, each mid-stream once it has closed windows.
	for i := range 3 {
		p1, err := stream.New(stream.Config{Brokers: brokers, Serde: serde.New(srcl), Partitions: 3, Intervals: intervals,
			Lateness: lateness, UpdateEvery: updateEvery, IdleAfter: idleAfter, Logger: quiet, KafkaOpts: kopts,
			ExactlyOnce: mode, TransactionTimeout: txnTimeout})
		if err != nil {
			t.Fatal(err)
		}
		go p1.Run(ctx)
		poll.Until(t, 30*time.Second, fmt.Sprintf("final candles from processor %d", i+1), func() bool { return p1.Counters.FinalCandles.Load() > 2 },
			func() string { return fmt.Sprintf("trades in: %d", p1.Counters.Trades.Load()) })
		if p1.ExactlyOnce() != (mode == stream.EOSOn) {
			t.Fatalf("processor %d: exactly-once %v in mode %v", i+1, p1.ExactlyOnce(), mode)
		}
		p1.Kill()
	}
	// The last takes over: a processing-only pipeline on the same cluster.
	procP, err := pipeline.New(pipeline.Config{Brokers: brokers, RegistryURL: registryURL, Partitions: 3, Logger: quiet,
		Candles: &pipeline.CandleConfig{Intervals: intervals, Lateness: lateness, UpdateEvery: updateEvery, IdleAfter: idleAfter, KafkaOpts: kopts,
			ExactlyOnce: mode, TransactionTimeout: txnTimeout}})
	if err != nil {
		t.Fatal(err)
	}
	pdone, pstopped := make(chan error, 1), make(chan struct{})
	pctx, pcancel := context.WithCancel(ctx)
	go func() { pdone <- procP.Run(pctx); close(pstopped) }()
	t.Cleanup(func() { pcancel(); <-pstopped })
	<-procP.Ready()
	p2 := func() *pipeline.CandleSnapshot { return procP.Snapshot().Candles }

	// A foreign record type, garbage bytes and an unknown schema id.
	other := avro.MustParse(`{"type":"record","name":"Thing","namespace":"other","fields":[{"name":"x","type":"int"}]}`)
	sd := serde.New(srcl)
	oid, err := sd.Register(ctx, "market.events-other.Thing", other)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := sd.AppendEncode(nil, oid, other, map[string]any{"x": 1})
	pcl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("market.events"))
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, &kgo.Record{Key: []byte("x"), Value: foreign},
		&kgo.Record{Key: []byte("x"), Value: []byte("garbage, not Avro")},
		&kgo.Record{Key: []byte("x"), Value: serde.AppendHeader(nil, 99999)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 20*time.Second, "the second processor to read the three bad records and close windows of its own", func() bool {
		c := p2()
		return c.SkippedUnknown == 1 && c.DeadLettered == 2 && c.FinalCandles >= 8
	}, func() string { return fmt.Sprintf("%+v", p2()) })
	fake.Pause()

	// Expected: every window of every trade the fake made.
	var truth []market.Trade
	for _, sym := range []string{"BTC_USDT", "ETH_USDT"} {
		truth = append(truth, fake.Trades(sym)...)
	}
	want := candletest.BruteForce(truth, intervals)
	got := map[candletest.Key]market.Candle{}
	ccl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("market.candles"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer ccl.Close()
	reader := serde.New(srcl)
	deadline := time.Now().Add(30 * time.Second)
	dupes := 0
	for len(got) < len(want) && time.Now().Before(deadline) {
		fctx, fcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := ccl.PollFetches(fctx)
		fcancel()
		for _, r := range fs.Records() {
			var m map[string]any
			if err := reader.Decode(ctx, r.Value, market.CandleSchema, &m); err != nil {
				t.Fatalf("candle at %d: %v", r.Offset, err)
			}
			c, err := market.CandleFromMap(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != market.CandleKey(c.Exchange, c.Symbol, c.Interval) {
				t.Fatalf("candle key %q for %+v", r.Key, c)
			}
			if !c.Final {
				continue
			}
			k := candletest.KeyOf(c)
			if prev, ok := got[k]; ok {
				if !candletest.Same(prev, c) {
					t.Fatalf("two different final candles for %v:\n%+v\n%+v", k, prev, c)
				}
				dupes++
			}
			got[k] = c
		}
	}
	var missing []string
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			missing = append(missing, fmt.Sprint(k))
			continue
		}
		if !candletest.Same(g, w) {
			t.Fatalf("final candle %v:\n got %+v\nwant %+v", k, g, w)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d of %d final candles missing (first %v); processor 2 stats: trades %d finals %d", len(missing), len(want), missing[0], p2().Trades, p2().FinalCandles)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("a final candle for %v that the ground truth does not have", k)
		}
	}
	t.Logf("%d final candles equal the brute-force recomputation (%d trades; %d repeated after the kills)", len(want), len(truth), dupes)
	if mode == stream.EOSOn && dupes > 0 {
		t.Fatalf("exactly-once mode: %d final candles were read twice by a read_committed consumer", dupes)
	}

	if c := p2(); c.SkippedUnknown != 1 || c.DeadLettered != 2 || c.Late != 0 {
		t.Fatalf("skipped unknown %d, dead-lettered %d, late %d", c.SkippedUnknown, c.DeadLettered, c.Late)
	}
	if p2().SkippedKnown == 0 {
		t.Fatal("ticker and book records were not skipped and counted")
	}
	dcl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("market.deadletter"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer dcl.Close()
	var dead []*kgo.Record
	for len(dead) < 2 && time.Now().Before(deadline) {
		fctx, fcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		dead = append(dead, dcl.PollFetches(fctx).Records()...)
		fcancel()
	}
	kinds := []string{}
	for _, r := range dead {
		for _, h := range r.Headers {
			if h.Key == "tickertape.error.kind" {
				kinds = append(kinds, string(h.Value))
			}
		}
	}
	sort.Strings(kinds)
	if strings.Join(kinds, ",") != "bad_header,unknown_schema" {
		t.Fatalf("dead letters: %d records, kinds %v", len(dead), kinds)
	}

	// Everything is read: the snapshot's Behind (end offsets minus the
	// processor's read positions, the status panel's "behind") reaches 0,
	// while Lag (from the committed offsets) may stay at the oldest open window.
	poll.Until(t, 20*time.Second, "the processor has read everything (behind 0)", func() bool {
		c := p2()
		return c.Behind == 0 && c.Lag >= 0 && c.Records > 0
	}, func() string { c := p2(); return fmt.Sprintf("behind %d, lag %d", c.Behind, c.Lag) })
	// The processor first: the ingest pipeline owns the stack.
	pcancel()
	if err := <-pdone; err != nil {
		t.Fatalf("processor: %v", err)
	}
	icancel()
	if err := <-idone; err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if v := ingestP.Snapshot().Venues[0]; v.ProduceFailed != 0 || v.Produced != v.EventsIn {
		t.Fatalf("ingest: in %d produced %d failed %d", v.EventsIn, v.Produced, v.ProduceFailed)
	}
}
