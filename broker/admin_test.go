package broker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func configValue(cs []kadm.Config, name string) string {
	for _, c := range cs {
		if c.Key == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

func TestTopicAdministration(t *testing.T) {
	tb := startBroker(t)
	adm := tb.admin()
	ctx := testCtx(t)

	r, err := adm.CreateTopic(ctx, 2, -1, map[string]*string{"cleanup.policy": kgoStr("delete"), "max.message.bytes": kgoStr("2000")}, "admin")
	if err != nil || r.Err != nil || r.ID == [16]byte{} {
		t.Fatalf("create: %+v %v", r, err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "admin"); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("second create: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 3, nil, "rf3"); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 3: %v, want INVALID_REPLICATION_FACTOR", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": kgoStr("1")}, "badcfg"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("unknown config: %v, want INVALID_CONFIG", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": kgoStr("soon")}, "badcfg"); !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("bad value: %v, want INVALID_CONFIG", err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "bad/name"); !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v, want INVALID_TOPIC_EXCEPTION", err)
	}

	// max.message.bytes is enforced.
	cl := tb.client(kgo.DefaultProduceTopic("admin"), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(0))
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: randomBytes(5000)}).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("oversize produce: %v, want MESSAGE_TOO_LARGE", err)
	}

	// Incremental alter, then a full alter, then describe.
	ir, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kgoStr("60000")},
		{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
	}, "admin")
	if err != nil || ir[0].Err != nil {
		t.Fatalf("incremental alter: %v %+v", err, ir)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := rc.On("admin", nil)
	if configValue(cfg.Configs, "retention.ms") != "60000" || configValue(cfg.Configs, "max.message.bytes") != "1048588" || configValue(cfg.Configs, "cleanup.policy") != "delete" {
		t.Fatalf("configs after alter: %+v", cfg.Configs)
	}
	for _, c := range cfg.Configs {
		if c.Key == "retention.ms" && c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Fatalf("retention.ms source %v", c.Source)
		}
		if c.Key == "segment.bytes" && c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Fatalf("segment.bytes source %v", c.Source)
		}
	}
	bad, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kgoStr("-5")}}, "admin")
	if len(bad) != 1 || !errors.Is(bad[0].Err, kerr.InvalidConfig) {
		t.Fatalf("invalid alter: %+v", bad)
	}
	sr, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: kgoStr("3600000")}}, "admin")
	if err != nil || sr[0].Err != nil {
		t.Fatalf("non-incremental alter: %v %+v", err, sr)
	}
	rc, _ = adm.DescribeTopicConfigs(ctx, "admin")
	cfg, _ = rc.On("admin", nil)
	if configValue(cfg.Configs, "segment.ms") != "3600000" || configValue(cfg.Configs, "retention.ms") != "604800000" {
		t.Fatalf("AlterConfigs must replace all overrides: %+v", cfg.Configs)
	}

	// Partitions grow, never shrink.
	if up, err := adm.UpdatePartitions(ctx, 5, "admin"); err != nil || up.Error() != nil {
		t.Fatal(err, up.Error())
	}
	if up, err := adm.UpdatePartitions(ctx, 3, "admin"); err != nil || !errors.Is(up["admin"].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v %+v, want INVALID_PARTITIONS", err, up)
	}
	td, _ := adm.ListTopics(ctx, "admin")
	if len(td["admin"].Partitions) != 5 {
		t.Fatalf("partitions: %d", len(td["admin"].Partitions))
	}

	// The cluster: one broker that is also the controller.
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || len(meta.Brokers) != 1 || meta.Controller != meta.Brokers[0].NodeID {
		t.Fatalf("metadata: %+v %v", meta, err)
	}
	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, tb.client())
	if err != nil || dc.ErrorCode != 0 || dc.ControllerID != meta.Brokers[0].NodeID || dc.ClusterID != tb.b.ClusterID() {
		t.Fatalf("describe cluster: %+v %v", dc, err)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil || len(bc) != 1 || configValue(bc[0].Configs, "num.partitions") != "1" {
		t.Fatalf("broker configs: %+v %v", bc, err)
	}

	// Delete, and the name is free again with a new id.
	dr, err := adm.DeleteTopics(ctx, "admin")
	if err != nil || dr["admin"].Err != nil {
		t.Fatalf("delete: %v %+v", err, dr)
	}
	tb.restart()
	adm = tb.admin()
	if td, _ := adm.ListTopics(ctx); len(td) != 0 {
		t.Fatalf("topics after delete and restart: %v", td.Names())
	}
	r2, err := adm.CreateTopic(ctx, 1, 1, nil, "admin")
	if err != nil || r2.ID == r.ID {
		t.Fatalf("recreate: %+v %v", r2, err)
	}
	if got := consumeAllTimeout(t, tb, "admin", 300*time.Millisecond); len(got) != 0 {
		t.Fatalf("recreated topic has %d old records", len(got))
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "times"); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.ZstdCompression()} {
		cl := tb.client(kgo.DefaultProduceTopic("times"), kgo.ProducerBatchCompression(codec))
		for i := range 10 {
			r := &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		base = base.Add(time.Hour)
	}
	base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		at   time.Time
		want int64
	}{
		{base.Add(-time.Hour), 0},
		{base, 0},
		{base.Add(90 * time.Second), 2},
		{base.Add(time.Hour + 5*time.Minute), 15},
		{base.Add(time.Hour + 4*time.Minute + time.Second), 15},
	}
	for _, c := range cases {
		lo, err := adm.ListOffsetsAfterMilli(ctx, c.at.UnixMilli(), "times")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := lo.Lookup("times", 0)
		if o.Err != nil || o.Offset != c.want {
			t.Fatalf("offset after %v: %+v, want %d", c.at, o, c.want)
		}
	}
	lo, _ := adm.ListOffsetsAfterMilli(ctx, base.Add(5*time.Hour).UnixMilli(), "times")
	if o, _ := lo.Lookup("times", 0); o.Offset != 20 && o.Offset != -1 {
		t.Fatalf("after the last record: %+v", o)
	}
	end, _ := adm.ListEndOffsets(ctx, "times")
	start, _ := adm.ListStartOffsets(ctx, "times")
	if o, _ := end.Lookup("times", 0); o.Offset != 20 {
		t.Fatalf("end offset %+v", o)
	}
	if o, _ := start.Lookup("times", 0); o.Offset != 0 {
		t.Fatalf("start offset %+v", o)
	}
	mx, err := adm.ListMaxTimestampOffsets(ctx, "times")
	if o, _ := mx.Lookup("times", 0); err != nil || o.Offset != 19 {
		t.Fatalf("max timestamp offset %+v %v", o, err)
	}
}

func TestRetentionAndDeleteRecords(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	_, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"segment.bytes":   kgoStr("4096"),
		"retention.bytes": kgoStr("8192"),
	}, "ret")
	if err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("ret"))
	for range 100 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: randomBytes(500)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tb.b.ApplyRetention()
	start, _ := adm.ListStartOffsets(ctx, "ret")
	o, _ := start.Lookup("ret", 0)
	if o.Offset <= 0 {
		t.Fatalf("retention.bytes deleted nothing: start offset %d", o.Offset)
	}
	if size := tb.b.lookup("ret").parts[0].log.Size(); size > 8192+4096 {
		t.Fatalf("partition holds %d bytes after retention to 8192", size)
	}
	// Consumers starting at the beginning see the first retained record.
	got := consumeAll(t, tb, "ret", int(100-o.Offset))
	if got[0].Offset != o.Offset {
		t.Fatalf("first consumed offset %d, start offset %d", got[0].Offset, o.Offset)
	}

	// DeleteRecords moves the start offset and survives a restart.
	del := kadm.Offsets{}
	del.Add(kadm.Offset{Topic: "ret", Partition: 0, At: 95})
	dr, err := adm.DeleteRecords(ctx, del)
	if err != nil || dr.Error() != nil {
		t.Fatalf("delete records: %v %v", err, dr.Error())
	}
	tb.restart()
	adm = tb.admin()
	start, _ = adm.ListStartOffsets(ctx, "ret")
	if o, _ := start.Lookup("ret", 0); o.Offset != 95 {
		t.Fatalf("start offset after delete records and restart: %d", o.Offset)
	}

	// retention.ms removes old segments.
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kgoStr("1")}, {Op: kadm.SetConfig, Name: "segment.ms", Value: kgoStr("1")}}, "ret"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // not a wait: the segments must age past retention.ms=1, which is what is tested
	tb.b.ApplyRetention()            // rolls the active segment (segment.ms)
	tb.b.ApplyRetention()            // deletes every closed segment older than 1ms
	start, _ = adm.ListStartOffsets(ctx, "ret")
	if o, _ := start.Lookup("ret", 0); o.Offset != 100 {
		t.Fatalf("start offset after retention.ms: %d, want 100", o.Offset)
	}
}

// consumeAllTimeout returns whatever a topic yields within d.
func consumeAllTimeout(t *testing.T, tb *testBroker, topic string, d time.Duration) []*kgo.Record {
	cl := tb.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	deadline := time.Now().Add(d)
	var out []*kgo.Record
	for time.Now().Before(deadline) {
		pctx, cancel := contextWithDeadline(ctx, deadline)
		fs := cl.PollFetches(pctx)
		cancel()
		out = append(out, fs.Records()...)
	}
	return out
}

func TestCompactedTopic(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy": kgoStr("compact"),
		"segment.bytes":  kgoStr("2048"),
		// Tiny retention settings that compaction must not act on: only
		// compaction removes records from a compact-only topic.
		"retention.ms":    kgoStr("1"),
		"retention.bytes": kgoStr("1"),
	}, "state"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("state"))
	want := map[string]string{}
	const n = 300
	for i := range n {
		k, v := fmt.Sprintf("key-%d", i%7), fmt.Sprintf("value-%d", i)
		r := &kgo.Record{Key: []byte(k), Value: []byte(v)}
		if i == n-3 { // key-(n-3)%7 ends with a tombstone
			r.Value = nil
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[k] = string(r.Value)
	}
	time.Sleep(5 * time.Millisecond) // not a wait: the records must be older than retention.ms=1, which compaction must still not act on
	tb.b.ApplyRetention()
	check := func() {
		t.Helper()
		got := consumeAllTimeout(t, tb, "state", 2*time.Second)
		if len(got) >= n/2 || len(got) < len(want) {
			t.Fatalf("%d records after compaction of %d over %d keys", len(got), n, len(want))
		}
		start, _ := tb.admin().ListStartOffsets(ctx, "state")
		if o, _ := start.Lookup("state", 0); o.Offset != 0 {
			t.Fatalf("start offset %d: retention acted on a compact-only topic", o.Offset)
		}
		last := map[string]*kgo.Record{}
		for i, r := range got {
			if i > 0 && r.Offset <= got[i-1].Offset {
				t.Fatalf("offset %d after %d", r.Offset, got[i-1].Offset)
			}
			last[string(r.Key)] = r
		}
		for k, v := range want {
			if r := last[k]; r == nil || string(r.Value) != v || (v == "" && r.Value != nil) {
				t.Fatalf("latest %s = %v, want %q", k, r, v)
			}
		}
	}
	check()
	// New records land after the compacted ones, and the result survives a restart.
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("key-0"), Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want["key-0"] = "after"
	tb.restart()
	check()
	end, _ := tb.admin().ListEndOffsets(ctx, "state")
	if o, _ := end.Lookup("state", 0); o.Offset != n+1 {
		t.Fatalf("end offset %d after compaction and restart, want %d", o.Offset, n+1)
	}
}
