package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/internal/metricstest"
)

// Every broker family exists and moves when its event happens, as Prometheus
// sees it: scraped over HTTP and parsed with the text parser.
func TestMetricsMoveWithTheirEvents(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.DisableAutoCreate = true })
	url := metricstest.Serve(t, tb.b.Collector())
	before := metricstest.Scrape(t, url)
	if v, _ := before.Value("tickertape_broker_received_bytes_total"); v != 0 {
		t.Fatalf("bytes in before any request = %v", v)
	}

	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "metered"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("metered"))
	const n = 50
	for i := 0; i < n; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte{byte(i)}, Value: randomBytes(100)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	consumeAll(t, tb, "metered", n, kgo.ConsumerGroup("meter-group"))
	// An unknown topic (auto-create is off) is an error code in a response.
	if _, err := adm.ListEndOffsets(ctx, "no-such-topic"); err != nil {
		t.Logf("list offsets of a missing topic: %v", err)
	}

	f := metricstest.Eventually(t, url, 10*time.Second, "the group to be stable with one member", func(f metricstest.Families) bool {
		v, _ := f.Value("tickertape_broker_group_members", "group", "meter-group")
		return v == 1
	})
	if got := f.Must(t, "tickertape_broker_requests_total", "api", "Produce"); got < n {
		t.Errorf("Produce requests = %v, want >= %d", got, n)
	}
	if got := f.Must(t, "tickertape_broker_request_duration_seconds", "api", "Produce"); got < n {
		t.Errorf("Produce latency observations = %v, want >= %d", got, n)
	}
	if got := f.Must(t, "tickertape_broker_request_duration_seconds", "api", "Fetch"); got < 1 {
		t.Errorf("Fetch latency observations = %v", got)
	}
	if got := f.Must(t, "tickertape_broker_received_bytes_total"); got < n*100 {
		t.Errorf("bytes in = %v after %d records of 100 bytes", got, n)
	}
	if got := f.Must(t, "tickertape_broker_sent_bytes_total"); got < n*100 {
		t.Errorf("bytes out = %v after consuming %d records of 100 bytes", got, n)
	}
	if got := f.Must(t, "tickertape_broker_fsync_duration_seconds"); got < 1 {
		t.Errorf("fsync rounds = %v with fsync=always", got)
	}
	if got := f.Must(t, "tickertape_broker_fsync_batch_records"); got < 1 {
		t.Errorf("fsync batch observations = %v", got)
	}
	f.Must(t, "tickertape_broker_fsync_batch_bytes")
	if got := f.Must(t, "tickertape_broker_request_errors_total", "api", "Metadata", "error", "UNKNOWN_TOPIC_OR_PARTITION"); got < 1 {
		t.Errorf("Metadata UNKNOWN_TOPIC_OR_PARTITION errors = %v", got)
	}
	var size float64
	for _, p := range []string{"0", "1"} {
		size += f.Must(t, "tickertape_broker_log_size_bytes", "topic", "metered", "partition", p)
		if segs := f.Must(t, "tickertape_broker_log_segments", "topic", "metered", "partition", p); segs != 1 {
			t.Errorf("partition %s: %v segments, want 1", p, segs)
		}
	}
	if size < n*100 {
		t.Errorf("log size = %v bytes for %d records of 100 bytes", size, n)
	}
	if end := f.Must(t, "tickertape_broker_log_end_offset", "topic", "metered"); end != n {
		t.Errorf("end offsets sum to %v, want %d", end, n)
	}
	if c := f.Must(t, "tickertape_broker_connections"); c < 1 {
		t.Errorf("open connections = %v", c)
	}
	if c := f.Must(t, "tickertape_broker_connections_accepted_total"); c < 1 {
		t.Errorf("accepted connections = %v", c)
	}
	if g := f.Must(t, "tickertape_broker_groups", "state", "Stable"); g != 1 {
		t.Errorf("stable groups = %v, want 1", g)
	}
	for name, typ := range map[string]string{
		"tickertape_broker_requests_total": "counter", "tickertape_broker_request_duration_seconds": "histogram",
		"tickertape_broker_connections": "gauge", "tickertape_broker_log_size_bytes": "gauge",
	} {
		if got := f.Type(name); got != typ {
			t.Errorf("%s is a %s, want %s", name, got, typ)
		}
	}
}
