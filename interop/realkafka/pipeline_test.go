//go:build realkafka

package realkafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/exchange/poloniex"
	"github.com/tickertape/tickertape/internal/candletest"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/registry"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
)

// TestPipelineOnRealKafka runs the registry (standalone, state in _schemas
// with replication factor 3), ingest from the fake Poloniex and the candle
// processor on a 3-node cluster with min.insync.replicas=2 and acks=all.
// One broker is killed with SIGKILL mid-run and restarted later. The fake's
// ground truth must arrive exactly once and the final candles must be right.
func TestPipelineOnRealKafka(t *testing.T) {
	c := realCluster(t)
	if c.nodes != 3 {
		t.Skip("needs a 3-node cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reg, err := registry.New(registry.Config{Brokers: c.brokers(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer reg.Close(context.Background())
	srv := httptest.NewServer(reg.Handler())
	defer srv.Close()
	srcl, _ := sr.NewClient(sr.URLs(srv.URL))

	suffix := strconv.Itoa(rand.IntN(1_000_000))
	names := topics.Names{Events: "market.events." + suffix, Candles: "market.candles." + suffix, Late: "market.late." + suffix, DeadLetter: "market.deadletter." + suffix}
	fake, err := poloniex.NewFake(poloniex.FakeConfig{Seed: 3, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	ivs, _ := stream.ParseIntervals("1s,5s")
	p, err := pipeline.New(pipeline.Config{Brokers: c.brokers(), RegistryURL: srv.URL, Topics: names, Partitions: 3, Logger: quiet(),
		Venues:  []pipeline.VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Connector: poloniex.New(fake.Config())}},
		Candles: &pipeline.CandleConfig{Group: "candles-" + suffix, Intervals: ivs, Lateness: 2 * time.Second, NoUpdates: true, IdleAfter: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	select {
	case err := <-done:
		t.Fatal(err)
	case <-p.Ready():
	}

	// The topics have replication factor 3 and min.insync.replicas 2.
	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.brokers()...))
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var md kadm.Metadata
	poll.Until(t, 30*time.Second, names.Events+" with 3 partitions of 3 replicas", func() bool {
		md, err = adm.Metadata(ctx, names.Events)
		return err == nil && len(md.Topics[names.Events].Partitions) == 3 && len(md.Topics[names.Events].Partitions[0].Replicas) == 3
	}, func() string { return fmt.Sprintf("%+v %v", md.Topics[names.Events], err) })

	produced := func() int64 { return p.Snapshot().Venues[0].Produced }
	brokers := func() int {
		md, err = adm.Metadata(ctx, names.Events)
		if err != nil {
			return -1
		}
		return len(md.Brokers)
	}
	script(t, "kill", c.dir, "2")
	t.Log("killed node 2 with SIGKILL")
	// The outage lasts until the cluster has dropped node 2 and the pipeline
	// has delivered 200 more events without it (acks=all, 2 in sync).
	poll.Until(t, 60*time.Second, "the cluster to drop node 2", func() bool { return brokers() == 2 },
		func() string { return fmt.Sprintf("%d brokers, %v", len(md.Brokers), err) })
	during := produced()
	poll.Until(t, 60*time.Second, "200 events delivered while node 2 is down", func() bool { return produced() >= during+200 },
		func() string { return fmt.Sprintf("%d delivered since the kill", produced()-during) })
	script(t, "restart", c.dir, "2")
	t.Log("restarted node 2")
	// Node 2 is back in every partition's in-sync replicas, and the pipeline
	// delivers again with it.
	poll.Until(t, 90*time.Second, "node 2 back in sync on every partition of "+names.Events, func() bool {
		if brokers() != 3 {
			return false
		}
		for _, pd := range md.Topics[names.Events].Partitions {
			if len(pd.ISR) != 3 {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprintf("%+v %v", md.Topics[names.Events].Partitions, err) })
	after := produced()
	poll.Until(t, 60*time.Second, "200 events delivered after the restart", func() bool { return produced() >= after+200 })
	// Stop the market; everything it made reaches the pipeline and Kafka.
	fake.Pause()
	made := func() int {
		return len(fake.Trades("BTC_USDT")) + len(fake.Trades("ETH_USDT"))
	}
	poll.Until(t, 60*time.Second, "every trade the fake made delivered to Kafka", func() bool {
		v := p.Snapshot().Venues[0]
		return v.Trades >= int64(made()) && v.Produced == v.EventsIn
	}, func() string {
		v := p.Snapshot().Venues[0]
		return fmt.Sprintf("%d trades made, %d ingested, %d of %d events delivered", made(), v.Trades, v.Produced, v.EventsIn)
	})

	// Every trade the fake made, exactly once, in market.events.
	var truth []market.Trade
	for _, sym := range []string{"BTC_USDT", "ETH_USDT"} {
		truth = append(truth, fake.Trades(sym)...)
	}
	sd := serde.New(srcl)
	got := map[string]int{}
	ecl, _ := kgo.NewClient(kgo.SeedBrokers(c.brokers()...), kgo.ConsumeTopics(names.Events), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer ecl.Close()
	deadline := time.Now().Add(60 * time.Second)
	trades := 0
	for trades < len(truth) && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		for _, r := range ecl.PollFetches(pctx).Records() {
			var m map[string]any
			if err := sd.Decode(ctx, r.Value, nil, &m); err != nil {
				t.Fatal(err)
			}
			if id, ok := m["trade_id"].(string); ok {
				got[fmt.Sprint(m["symbol"])+" "+id]++ // trade ids are per symbol, as on most venues
				trades++
			}
		}
		pcancel()
	}
	for _, tr := range truth {
		if n := got[tr.Symbol+" "+tr.TradeID]; n != 1 {
			t.Fatalf("trade %s %s arrived %d times (%d trades made, %d read)", tr.Symbol, tr.TradeID, n, len(truth), trades)
		}
	}
	if trades != len(truth) {
		t.Fatalf("%d trades read, %d made", trades, len(truth))
	}
	t.Logf("%d trades made, each in %s exactly once (ingest retries: %d)", len(truth), names.Events, p.Snapshot().Venues[0].ProduceRetries)

	// Final candles equal a brute-force recomputation, every field.
	want := candletest.BruteForce(truth, ivs)
	finals := map[candletest.Key]market.Candle{}
	ccl, _ := kgo.NewClient(kgo.SeedBrokers(c.brokers()...), kgo.ConsumeTopics(names.Candles), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer ccl.Close()
	deadline = time.Now().Add(90 * time.Second)
	for len(finals) < len(want) && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		for _, r := range ccl.PollFetches(pctx).Records() {
			var m map[string]any
			if err := sd.Decode(ctx, r.Value, market.CandleSchema, &m); err != nil {
				t.Fatal(err)
			}
			cd, err := market.CandleFromMap(m)
			if err != nil {
				t.Fatal(err)
			}
			if cd.Final {
				finals[candletest.KeyOf(cd)] = cd
			}
		}
		pcancel()
	}
	for k, w := range want {
		g, ok := finals[k]
		if !ok {
			select {
			case err := <-done:
				t.Logf("the pipeline stopped: %v", err)
			default:
			}
			pc := p.Snapshot().Candles
			t.Fatalf("final candle %v missing (%d of %d present); processor: records %d trades %d finals %d commits %d dead %d",
				k, len(finals), len(want), pc.Records, pc.Trades, pc.FinalCandles, pc.Commits, pc.DeadLettered)
		}
		if !candletest.Same(g, w) {
			t.Fatalf("final candle %v:\n got %+v\nwant %+v", k, g, w)
		}
	}
	if n := p.Snapshot().Candles.Late; n != 0 {
		t.Fatalf("%d trades were late", n)
	}
	t.Logf("%d final candles equal the brute-force recomputation", len(want))
	rcancel()
	if err := <-done; err != nil {
		t.Fatalf("pipeline: %v", err)
	}
}
