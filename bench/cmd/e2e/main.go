// Command e2e measures the pipeline end to end, in one process: a fake
// Poloniex → the real connector and ingest → the embedded broker (fsync
// before ack) and registry → the candle processor → a consumer of
// market.candles.
//
// Latency: for every candle update consumed, the time from the fake making
// (and sending) the newest trade the update includes to the update being
// consumed. The update's trade_count says how many of the window's trades
// it includes; the fake sends trades in order, so that is the window's
// trade_count-th trade as read from market.events.
//
// Throughput: the fake at full speed (-tick 1ms -trades 40) and the events
// produced per second by ingest.
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
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/bench/internal/latency"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
)

func main() {
	dur := flag.Duration("duration", 10*time.Second, "how long to run")
	tick := flag.Duration("tick", 20*time.Millisecond, "fake market tick")
	trades := flag.Int("trades", 3, "max trades per tick per symbol")
	flag.Parse()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, _ := os.MkdirTemp("", "tte2e-")
	defer os.RemoveAll(dir)
	ivs, _ := stream.ParseIntervals("1s,1m")
	p, err := pipeline.New(pipeline.Config{
		Stack:   app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Logger: quiet, Broker: broker.Config{DataDir: dir, Logger: quiet}},
		Venues:  []pipeline.VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Fake: true, Seed: 1, FakeTick: *tick, FakeTradesPerTick: *trades}},
		Candles: &pipeline.CandleConfig{Intervals: ivs, Lateness: time.Second, UpdateEvery: time.Millisecond, IdleAfter: time.Second},
		Logger:  quiet})
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

	// Read trades and candles as they arrive.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("market.events", "market.candles"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	must(err)
	defer cl.Close()
	sd := serde.New(srcl)
	type wk struct {
		sym   string
		start int64
	}
	tradeTimes := map[wk][]int64{} // 1s windows: trade exchange times in offset order
	var lat []time.Duration
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
				if err := sd.Decode(ctx, r.Value, nil, &m); err != nil || m["trade_id"] == nil {
					continue
				}
				t, _ := market.TradeFromMap(m)
				k := wk{t.Symbol, t.ExchangeTimeUs / 1e6 * 1e6}
				tradeTimes[k] = append(tradeTimes[k], t.ExchangeTimeUs)
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
			lat = append(lat, now.Sub(time.UnixMicro(ts[c.TradeCount-1])))
		}
	}
	elapsed := time.Since(warm).Seconds()
	snap := p.Snapshot().Venues[0]
	n := snap.Produced - produced0
	cancel()
	must(<-done)
	pct := latency.Percentiles(lat)
	out, _ := json.Marshal(map[string]any{"updates": len(lat), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "events_per_s": float64(n) / elapsed,
		"trades": snap.Trades, "tick": tick.String(), "max_trades_per_tick": *trades})
	fmt.Println(string(out))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
}
