package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/exchange/poloniex"
	"github.com/tickertape/tickertape/internal/metricstest"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
	"github.com/tickertape/tickertape/web"
)

// pipeline is the whole thing in process, as tickertape demo wires it:
// pipeline.Run with the embedded stack, a fake Poloniex this test can
// break, and the dashboard with /metrics on the stack's HTTP address.
type pipeline_ struct {
	stack *app.Stack
	fake  *poloniex.Fake
	p     *pipeline.Pipeline
	dash  *web.Server
	base  string // http://host:port of the dashboard and /metrics
}

func startPipeline(t *testing.T) *pipeline_ {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fake, err := poloniex.NewFake(poloniex.FakeConfig{Seed: 5, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	intervals, _ := stream.ParseIntervals("1s,1m")
	p, err := pipeline.New(pipeline.Config{
		Stack: app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Logger: quiet,
			Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet, NoGroupInitialRebalanceDelay: true}},
		Venues:      []pipeline.VenueConfig{{Name: "poloniex", Symbols: []string{"BTC_USDT", "ETH_USDT"}, Connector: poloniex.New(fake.Config())}},
		Candles:     &pipeline.CandleConfig{Intervals: intervals, Lateness: 200 * time.Millisecond, UpdateEvery: 200 * time.Millisecond, IdleAfter: time.Second},
		Partitions:  2,
		SampleEvery: 200 * time.Millisecond,
		Logger:      quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("pipeline: %v", err)
	case <-p.Ready():
	}
	stack, info := p.Stack(), p.Info()
	stack.Metrics.MustRegister(p.Collector())
	srcl, _ := sr.NewClient(sr.URLs(info.RegistryURL))
	dash, err := web.New(web.Config{Brokers: info.Brokers, Serde: serde.New(srcl), Gatherer: stack.Metrics, Intervals: []string{"1s", "1m"},
		HealthEvery: 200 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stack.SetHTTPHandler(dash.Handler())
	dashDone := make(chan struct{})
	go func() { dash.Run(ctx); close(dashDone) }()
	t.Cleanup(func() {
		cancel()
		<-dashDone
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
	})
	return &pipeline_{stack: stack, fake: fake, p: p, dash: dash, base: stack.HTTPURL()}
}

// Every family the issue lists exists on /metrics, parsed with the
// Prometheus text parser, and moves when its event happens.
func TestEveryFamilyExistsAndMoves(t *testing.T) {
	p := startPipeline(t)
	url := p.base + "/metrics"
	val := func(f metricstest.Families, name string, labels ...string) float64 {
		v, _ := f.Value(name, labels...)
		return v
	}
	f0 := metricstest.Eventually(t, url, 30*time.Second, "trades, candles and processor lag to appear", func(f metricstest.Families) bool {
		_, lag := f.Value("kafka_consumergroup_lag", "consumergroup", "tickertape-candles")
		return val(f, "tickertape_exchange_events_total", "type", "trade") > 0 && val(f, "tickertape_processor_candles_total", "state", "final") > 0 && lag
	})

	// Faults, each with the family it must move.
	p.fake.Faults().SkipBook() // a gap → gaps, resyncs
	p.fake.SendBadFrames()     // unusable frames → frame errors by kind
	// A record no schema describes → a dead letter.
	pcl, _ := kgo.NewClient(kgo.SeedBrokers(p.stack.KafkaAddr()), kgo.DefaultProduceTopic("market.events"))
	defer pcl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pcl.ProduceSync(ctx, &kgo.Record{Key: []byte("x"), Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	f1 := metricstest.Eventually(t, url, 30*time.Second, "gaps, frame errors and dead letters to move", func(f metricstest.Families) bool {
		return val(f, "tickertape_exchange_gaps_total") > val(f0, "tickertape_exchange_gaps_total") &&
			val(f, "tickertape_exchange_frame_errors_total") > val(f0, "tickertape_exchange_frame_errors_total") &&
			val(f, "tickertape_processor_dead_letters_total") > val(f0, "tickertape_processor_dead_letters_total")
	})
	p.fake.DropConnections()                                                    // a reconnect → reconnects, connections, backfills
	if resp, err := http.Get(p.stack.RegistryURL() + "/subjects"); err == nil { // a registry request
		resp.Body.Close()
	}
	f2 := metricstest.Eventually(t, url, 30*time.Second, "a reconnect with its backfill", func(f metricstest.Families) bool {
		return val(f, "tickertape_exchange_reconnects_total") > val(f1, "tickertape_exchange_reconnects_total") &&
			val(f, "tickertape_exchange_backfills_total") > val(f1, "tickertape_exchange_backfills_total") &&
			val(f, "tickertape_exchange_connected") == 1
	})
	if v := val(f2, "tickertape_exchange_resyncs_total"); v < 1 {
		t.Errorf("resyncs = %v after a gap", v)
	}
	if v := val(f2, "tickertape_exchange_frame_errors_total", "kind", "malformed"); v < 1 {
		t.Errorf("malformed frame errors = %v after SendBadFrames", v)
	}

	// Movement since the first scrape (polled: tickers and final candles
	// come about once a second).
	moved := []struct {
		name   string
		labels []string
	}{
		{"tickertape_broker_requests_total", []string{"api", "Produce"}},
		{"tickertape_broker_request_duration_seconds", []string{"api", "Produce"}},
		{"tickertape_broker_request_duration_seconds", []string{"api", "Fetch"}},
		{"tickertape_broker_received_bytes_total", nil},
		{"tickertape_broker_sent_bytes_total", nil},
		{"tickertape_broker_fsync_duration_seconds", nil},
		{"tickertape_broker_fsync_batch_records", nil},
		{"tickertape_broker_log_size_bytes", []string{"topic", "market.events"}},
		{"tickertape_broker_log_end_offset", []string{"topic", "market.events"}},
		{"tickertape_exchange_frames_total", nil},
		{"tickertape_exchange_events_total", []string{"type", "trade"}},
		{"tickertape_exchange_events_total", []string{"type", "ticker"}},
		{"tickertape_exchange_events_total", []string{"type", "book_update"}},
		{"tickertape_exchange_connections_total", nil},
		{"tickertape_ingest_events_total", []string{"type", "trade"}},
		{"tickertape_ingest_produced_records_total", nil},
		{"tickertape_ingest_produce_duration_seconds", nil},
		{"tickertape_processor_records_total", []string{"kind", "trade"}},
		{"tickertape_processor_records_total", []string{"kind", "other"}},
		{"tickertape_processor_candles_total", []string{"state", "final"}},
		{"tickertape_processor_commits_total", nil},
		{"kafka_topic_partition_current_offset", []string{"topic", "market.events"}},
		{"tickertape_registry_requests_total", nil},
	}
	stuck := func(f metricstest.Families) (out []string) {
		for _, m := range moved {
			before, _ := f0.Value(m.name, m.labels...)
			if after, ok := f.Value(m.name, m.labels...); !ok || after <= before {
				out = append(out, fmt.Sprintf("%s%v: %v → %v", m.name, m.labels, before, after))
			}
		}
		return out
	}
	var last []string
	t.Cleanup(func() {
		if t.Failed() && len(last) > 0 {
			t.Logf("families that had not moved: %v", last)
		}
	})
	f2 = metricstest.Eventually(t, url, 30*time.Second, "every listed family to move", func(f metricstest.Families) bool {
		last = stuck(f)
		return len(last) == 0
	})
	// The rest exist (their events are rare or are states).
	for _, name := range []string{
		"tickertape_broker_request_errors_total", "tickertape_broker_connections", "tickertape_broker_connections_accepted_total",
		"tickertape_broker_log_segments", "tickertape_broker_groups", "tickertape_broker_group_members", "tickertape_broker_fsync_batch_bytes",
		"kafka_consumergroup_lag", "kafka_consumergroup_current_offset", "kafka_consumergroup_members", "kafka_topic_partitions", "kafka_topic_partition_oldest_offset", "kafka_brokers",
		"tickertape_registry_schemas", "tickertape_registry_subjects", "tickertape_registry_subject_versions", "tickertape_registry_leader",
		"tickertape_registry_request_duration_seconds",
		"tickertape_exchange_dial_errors_total", "tickertape_exchange_disconnects_total", "tickertape_exchange_duplicate_trades_total",
		"tickertape_exchange_book_updates_dropped_total", "tickertape_exchange_backfill_errors_total", "tickertape_exchange_backfills_incomplete_total",
		"tickertape_exchange_backfilled_trades_total", "tickertape_exchange_stream_gaps_total", "tickertape_exchange_rollovers_total", "tickertape_exchange_backfill_missing_trades_total",
		"tickertape_exchange_backfills_incomplete_unknown_size_total",
		"tickertape_ingest_failed_records_total", "tickertape_ingest_produce_retries_total",
		"tickertape_processor_late_trades_total", "tickertape_processor_watermark_delay_seconds",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		f2.Must(t, name)
	}
	if v := f2.Must(t, "tickertape_registry_subjects"); v < 3 {
		t.Errorf("registry subjects = %v, want the three market.events subjects at least", v)
	}
	if v := f2.Must(t, "kafka_consumergroup_members", "consumergroup", "tickertape-candles"); v != 1 {
		t.Errorf("processor group members = %v, want 1", v)
	}
	// Lag is the end offset minus the committed offset, partition by partition.
	lagFam := f2["kafka_consumergroup_lag"]
	for _, m := range lagFam.Metric {
		var g, topic, part string
		for _, lp := range m.Label {
			switch lp.GetName() {
			case "consumergroup":
				g = lp.GetValue()
			case "topic":
				topic = lp.GetValue()
			case "partition":
				part = lp.GetValue()
			}
		}
		end := f2.Must(t, "kafka_topic_partition_current_offset", "topic", topic, "partition", part)
		cur := f2.Must(t, "kafka_consumergroup_current_offset", "consumergroup", g, "topic", topic, "partition", part)
		if lag := m.Gauge.GetValue(); lag != end-cur {
			t.Errorf("lag of %s at %s/%s = %v, but end %v - committed %v = %v", g, topic, part, lag, end, cur, end-cur)
		}
	}
}

// The live feed: a snapshot, then live candles and health over SSE;
// bad query parameters get a 4xx with a message.
func TestStreamAndBadInput(t *testing.T) {
	p := startPipeline(t)
	deadline := time.Now().Add(30 * time.Second)
	var markets struct {
		Markets []struct{ Exchange, Symbol string } `json:"markets"`
	}
	for len(markets.Markets) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no market listed after 30s")
		}
		resp, err := http.Get(p.base + "/api/markets")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&markets)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	ex, sym := markets.Markets[0].Exchange, markets.Markets[0].Symbol
	for _, c := range []struct {
		query string
		code  int
		says  string
	}{
		{"?exchange=nowhere&symbol=" + sym + "&interval=1s", 404, "exchange"},
		{"?exchange=" + ex + "&symbol=DOGE-EUR&interval=1s", 404, "symbol"},
		{"?exchange=" + ex + "&symbol=" + sym + "&interval=7m", 400, "interval"},
		{"?exchange=" + ex + "&symbol=" + sym, 400, "interval"},
		{"?exchange=" + ex, 400, "required"},
		{"?exchange=" + ex + "&symbol=" + sym + "&interval=1s&x=1", 400, "unknown query parameter"},
	} {
		for _, path := range []string{"/api/stream", "/api/candles"} {
			resp, err := http.Get(p.base + path + c.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || !strings.Contains(string(body), c.says) {
				t.Errorf("GET %s%s: %d %s, want %d mentioning %q", path, c.query, resp.StatusCode, body, c.code, c.says)
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.base+"/api/stream?exchange="+ex+"&symbol="+sym+"&interval=1s", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	event := ""
	for sc.Scan() && (seen["snapshot"] == 0 || seen["candle"] == 0 || seen["health"] < 2 || seen["trades"] == 0) {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			seen[event]++
			data := strings.TrimPrefix(line, "data: ")
			switch event {
			case "snapshot":
				var s struct {
					Symbol  string            `json:"symbol"`
					Candles []json.RawMessage `json:"candles"`
				}
				if err := json.Unmarshal([]byte(data), &s); err != nil || s.Symbol != sym {
					t.Fatalf("snapshot %.200s: %v", data, err)
				}
			case "candle":
				var c map[string]any
				if err := json.Unmarshal([]byte(data), &c); err != nil {
					t.Fatal(err)
				}
				if _, ok := c["close"].(string); !ok {
					t.Fatalf("candle close is not a decimal string: %s", data)
				}
			case "health":
				var h struct {
					Venues []struct {
						EventsPerSec float64 `json:"events_per_sec"`
					} `json:"venues"`
				}
				json.Unmarshal([]byte(data), &h)
				if len(h.Venues) > 0 && h.Venues[0].EventsPerSec > 0 {
					seen["health"]++ // a second count for a sample with a live rate
				}
			}
		}
	}
	if seen["snapshot"] != 1 || seen["candle"] == 0 || seen["trades"] == 0 || seen["health"] < 2 {
		t.Fatalf("events seen %v (scan error %v)", seen, sc.Err())
	}
}
