package grouplag_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/grouplag"
	"github.com/tickertape/tickertape/internal/metricstest"
)

// Lag is the end offset minus the committed offset, per partition, under
// kafka_exporter's names, and it moves with produces and commits.
func TestLagEqualsTheOffsetsDifference(t *testing.T) {
	b, err := broker.New(broker.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(ln)
	t.Cleanup(func() { b.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A manual partitioner keeps each record where the test puts it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.DefaultProduceTopic("lagged"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "lagged"); err != nil {
		t.Fatal(err)
	}
	produce := func(p int32, n int) {
		for i := 0; i < n; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 10)
	produce(1, 3)
	commit := func(p int32, at int64) {
		var o kadm.Offsets
		o.AddOffset("lagged", p, at, -1)
		if err := adm.CommitAllOffsets(ctx, "lag-group", o); err != nil {
			t.Fatal(err)
		}
	}
	commit(0, 4)
	commit(1, 3)

	url := metricstest.Serve(t, grouplag.New(adm, 0))
	f := metricstest.Scrape(t, url)
	check := func(f metricstest.Families, name, p string, want float64) {
		t.Helper()
		if got := f.Must(t, name, "consumergroup", "lag-group", "topic", "lagged", "partition", p); got != want {
			t.Errorf("%s{partition=%s} = %v, want %v", name, p, got, want)
		}
	}
	check(f, "kafka_consumergroup_lag", "0", 6)
	check(f, "kafka_consumergroup_current_offset", "0", 4)
	check(f, "kafka_consumergroup_lag", "1", 0)
	if v := f.Must(t, "kafka_topic_partition_current_offset", "topic", "lagged", "partition", "0"); v != 10 {
		t.Errorf("end offset = %v, want 10", v)
	}
	if v := f.Must(t, "kafka_topic_partition_oldest_offset", "topic", "lagged", "partition", "0"); v != 0 {
		t.Errorf("oldest offset = %v, want 0", v)
	}
	if v := f.Must(t, "kafka_topic_partitions", "topic", "lagged"); v != 2 {
		t.Errorf("partitions = %v, want 2", v)
	}
	if v := f.Must(t, "kafka_brokers"); v != 1 {
		t.Errorf("brokers = %v, want 1", v)
	}
	if v := f.Must(t, "kafka_consumergroup_members", "consumergroup", "lag-group"); v != 0 {
		t.Errorf("members of a group with commits only = %v, want 0", v)
	}

	produce(1, 5) // lag moves with the end offset...
	commit(0, 10) // ...and with commits
	f = metricstest.Scrape(t, url)
	check(f, "kafka_consumergroup_lag", "0", 0)
	check(f, "kafka_consumergroup_lag", "1", 5)
	check(f, "kafka_consumergroup_current_offset", "0", 10)
	if v := f.Must(t, "tickertape_lag_scrape_errors_total"); v != 0 {
		t.Errorf("scrape errors = %v", v)
	}
}
