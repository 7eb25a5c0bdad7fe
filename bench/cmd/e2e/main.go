// Command e2e measures the pipeline end to end, in one process: a fake
// Poloniex → the real connector and ingest → the embedded broker (fsync
// before ack) and registry → the candle processor → a consumer of
// market.candles.
//
// Latency: for every candle update consumed, the time from the fake making
// the newest trade the update includes (the exact time, reported by the
// fake's OnTrade hook: the trade's own time is whole milliseconds, as
// Poloniex's is) to the update being consumed. The update's trade_count says how many of the window's trades
// it includes; the fake sends trades in order, so that is the window's
// trade_count-th trade as read from market.events.
//
// Per hop: franz-go hooks on the pipeline's clients stamp each trade
// record when ingest hands it to the producer and when the broker acks
// it, when the processor's consumer has it fetched, and each candle when
// the processor hands it to the producer and when it is acked. With the
// consumer's receipt and the trade's own received_time that splits the
// total into seven hops:
//
//	fake_to_connector    the trade made → the connector has read its frame (the fake's JSON and WebSocket)
//	connector_to_ingest  read → ingest's Produce call (parse, de-duplicate, Avro encode)
//	ingest_produce       Produce → broker ack (linger, request, append, fsync)
//	ack_to_processor     ack → the processor's fetch holds it (fetch wait; can be negative: the broker
//	                     serves a durable record at once, the producer's client may handle the ack later)
//	processor            fetched → the candle's Produce call (poll, decode, aggregate, the previous batch's commit)
//	candle_produce       Produce → ack (linger, append, fsync)
//	ack_to_consumer      ack → this consumer has it (transaction commit when exactly-once, fetch wait)
//
// Percentiles of each hop are over the same updates as the total; hop
// percentiles do not add up to the total's.
//
// Throughput: the fake at full speed (-tick 1ms -trades 40) and the events
// produced per second by ingest; behind_end is how many events the
// processor had not read yet when the run ended (a queue that builds when
// it cannot keep up).
//
// It prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/bench/internal/latency"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
)

func main() {
	dur := flag.Duration("duration", 10*time.Second, "how long to run")
	tick := flag.Duration("tick", 20*time.Millisecond, "fake market tick")
	trades := flag.Int("trades", 3, "max trades per tick per symbol")
	eos := flag.String("exactly-once", "auto", "the candle processor's mode: auto (transactions, as the embedded broker has them), on or off (at-least-once)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole process to this file")
	stampHops := flag.Bool("hops", true, "stamp records per hop (franz-go hooks; -hops=false measures their cost)")
	linger := flag.Duration("linger", -1, "experiment: a producer linger for every pipeline client (default: each client's own)")
	fsync := flag.String("fsync", "always", "the broker's fsync policy: always, never or interval=<dur> (never measures what durability costs)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: e2e [flags]\n\nExamples:\n  e2e                                  demo pace, exactly-once\n  e2e -exactly-once off                demo pace, at-least-once\n  e2e -tick 1ms -trades 40 -duration 20s   full speed\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	mode, err := stream.ParseEOSMode(*eos)
	must(err)
	policy, err := commitlog.ParseFsyncPolicy(*fsync)
	must(err)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, _ := os.MkdirTemp("", "tte2e-")
	defer os.RemoveAll(dir)
	ivs, _ := stream.ParseIntervals("1s,1m")
	h := newHops()
	mt := &madeTimes{at: map[madeKey]time.Time{}}
	var kafkaOpts []kgo.Opt
	if *stampHops {
		kafkaOpts = append(kafkaOpts, kgo.WithHooks(h))
	}
	if *linger >= 0 {
		kafkaOpts = append(kafkaOpts, kgo.ProducerLinger(*linger))
	}
	p, err := pipeline.New(pipeline.Config{
		Stack:     app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet, Broker: broker.Config{DataDir: dir, Logger: quiet, Fsync: policy}},
		Venues:    []pipeline.VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Fake: true, Seed: 1, FakeTick: *tick, FakeTradesPerTick: *trades, FakeOnTrade: mt.record}},
		Candles:   &pipeline.CandleConfig{Intervals: ivs, Lateness: time.Second, UpdateEvery: time.Millisecond, IdleAfter: time.Second, ExactlyOnce: mode},
		KafkaOpts: kafkaOpts,
		Logger:    quiet})
	must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		must(err)
	case <-p.Ready():
	}
	brokers := p.Info().Brokers
	srcl, _ := sr.NewClient(sr.URLs(p.Info().RegistryURL))
	produced := func() int64 { return p.Snapshot().Venues[0].Produced }
	exactlyOnce := mode != stream.EOSOff // the embedded broker has transactions
	if c := p.Snapshot().Candles; c != nil && c.ExactlyOnce {
		exactlyOnce = true
	}

	// Read trades and candles as they arrive, as a consumer of candles
	// would: read committed when the processor writes in transactions.
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("market.events", "market.candles"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10 * time.Millisecond)}
	if exactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	must(err)
	defer cl.Close()
	sd := serde.New(srcl)
	type trade struct {
		made       time.Time // exactly (the trade's own time is whole ms)
		receivedUs int64
		off        offset
	}
	type wk struct {
		sym   string
		start int64
	}
	isTrade := map[int]bool{}                      // schema id → a trade
	tradeTimes := map[wk][]trade{}                 // 1s windows: trades in offset order
	var lat []time.Duration                        // the total
	hops := make([][]time.Duration, len(hopNames)) // per hop, the updates every stamp was found for
	start := time.Now()
	var produced0 int64
	warm := start.Add(2 * time.Second)
	for time.Since(start) < *dur {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		now := time.Now()
		if produced0 == 0 && now.After(warm) {
			produced0 = produced() + 1
		}
		for _, r := range fs.Records() {
			var m map[string]any
			if r.Topic == "market.events" {
				// Decode trades only: the consumer must keep up with the
				// full-speed stream or it measures its own queue.
				id, payload, err := serde.ParseHeader(r.Value)
				if err != nil {
					continue
				}
				trd, known := isTrade[id]
				if !known {
					w, err := sd.WriterSchema(ctx, id)
					if err != nil {
						continue
					}
					n, _ := w.(avro.NamedSchema)
					trd = n != nil && n.FullName() == market.TradeName
					isTrade[id] = trd
				}
				if !trd {
					continue
				}
				t, err := market.DecodeTrade(payload) // ingest writes with market.TradeSchema
				if err != nil {
					continue
				}
				k := wk{t.Symbol, t.ExchangeTimeUs / 1e6 * 1e6}
				tid, _ := strconv.ParseInt(t.TradeID, 10, 64)
				made, ok := mt.take(t.VenueSymbol, tid)
				if !ok { // not made by this run's fake (cannot happen): measured from its own time
					made = time.UnixMicro(t.ExchangeTimeUs)
				}
				tradeTimes[k] = append(tradeTimes[k], trade{made, t.ReceivedTimeUs, offset{r.Topic, r.Partition, r.Offset}})
				continue
			}
			if sd.Decode(ctx, r.Value, market.CandleSchema, &m) != nil {
				continue
			}
			c, err := market.CandleFromMap(m)
			if err != nil || c.Final || c.Interval != "1s" || now.Before(warm) {
				continue
			}
			ts := tradeTimes[wk{c.Symbol, c.OpenTimeUs}]
			if int(c.TradeCount) > len(ts) || c.TradeCount == 0 {
				continue
			}
			t := ts[c.TradeCount-1]
			sent := t.made
			lat = append(lat, now.Sub(sent))
			if st, ok := h.stamps(t.off, offset{r.Topic, r.Partition, r.Offset}); ok {
				recv := time.UnixMicro(t.receivedUs)
				for i, d := range []time.Duration{recv.Sub(sent), st[0].Sub(recv), st[1].Sub(st[0]), st[2].Sub(st[1]), st[3].Sub(st[2]), st[4].Sub(st[3]), now.Sub(st[4])} {
					hops[i] = append(hops[i], d)
				}
			}
		}
	}
	elapsed := time.Since(warm).Seconds()
	snap := p.Snapshot()
	n := snap.Venues[0].Produced - produced0
	behind := int64(-1)
	if snap.Candles != nil {
		behind = snap.Candles.Behind
	}
	cancel()
	must(<-done)
	pct := latency.Percentiles(lat)
	hopOut := map[string]any{}
	for i, name := range hopNames {
		hp := latency.Percentiles(hops[i])
		hopOut[name] = map[string]float64{"p50_ms": hp(0.5), "p99_ms": hp(0.99)}
	}
	out, _ := json.Marshal(map[string]any{"updates": len(lat), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "events_per_s": float64(n) / elapsed,
		"trades": snap.Venues[0].Trades, "tick": tick.String(), "max_trades_per_tick": *trades, "exactly_once": exactlyOnce,
		"behind_end": behind, "hops": hopOut, "hops_measured": len(hops[0])})
	fmt.Println(string(out))
}

// madeTimes holds the exact time the fake made each trade (its OnTrade
// hook), until the consumer reads the trade.
type madeTimes struct {
	mu sync.Mutex
	at map[madeKey]time.Time
}

type madeKey struct {
	sym string
	id  int64
}

func (m *madeTimes) record(sym string, id int64, at time.Time) {
	m.mu.Lock()
	m.at[madeKey{sym, id}] = at
	m.mu.Unlock()
}

func (m *madeTimes) take(sym string, id int64) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.at[madeKey{sym, id}]
	delete(m.at, madeKey{sym, id})
	return at, ok
}

var hopNames = []string{"fake_to_connector", "connector_to_ingest", "ingest_produce", "ack_to_processor", "processor", "candle_produce", "ack_to_consumer"}

type offset struct {
	topic string
	part  int32
	off   int64
}

// hops stamps records in the pipeline's clients (franz-go hooks): when a
// record is handed to a producer and acked (ingest's trades, the
// processor's candles), and when a consumer's fetch holds it (the
// processor's, the only consumer of the pipeline's clients).
type hops struct {
	mu       sync.Mutex
	buffered map[*kgo.Record]time.Time
	produced map[offset][2]time.Time // Produce call, ack
	fetched  map[offset]time.Time
}

func newHops() *hops {
	return &hops{buffered: map[*kgo.Record]time.Time{}, produced: map[offset][2]time.Time{}, fetched: map[offset]time.Time{}}
}

func (h *hops) OnProduceRecordBuffered(r *kgo.Record) {
	now := time.Now()
	h.mu.Lock()
	h.buffered[r] = now
	h.mu.Unlock()
}

func (h *hops) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	now := time.Now()
	h.mu.Lock()
	if t, ok := h.buffered[r]; ok && err == nil {
		h.produced[offset{r.Topic, r.Partition, r.Offset}] = [2]time.Time{t, now}
	}
	delete(h.buffered, r)
	h.mu.Unlock()
}

func (h *hops) OnFetchRecordBuffered(r *kgo.Record) {
	now := time.Now()
	h.mu.Lock()
	if _, ok := h.fetched[offset{r.Topic, r.Partition, r.Offset}]; !ok { // the first fetch (a rewind fetches again)
		h.fetched[offset{r.Topic, r.Partition, r.Offset}] = now
	}
	h.mu.Unlock()
}

// stamps returns the trade's Produce, ack and fetch, and the candle's
// Produce and ack.
func (h *hops) stamps(trade, candle offset) ([5]time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tp, ok1 := h.produced[trade]
	f, ok2 := h.fetched[trade]
	cp, ok3 := h.produced[candle]
	return [5]time.Time{tp[0], tp[1], f, cp[0], cp[1]}, ok1 && ok2 && ok3
}

var (
	_ kgo.HookProduceRecordBuffered   = (*hops)(nil)
	_ kgo.HookProduceRecordUnbuffered = (*hops)(nil)
	_ kgo.HookFetchRecordBuffered     = (*hops)(nil)
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}
