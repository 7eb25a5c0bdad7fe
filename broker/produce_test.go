package broker

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProduceConsumeEveryCodecAndAcks(t *testing.T) {
	tb := startBroker(t)
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	acks := map[string]kgo.Acks{"0": kgo.NoAck(), "1": kgo.LeaderAck(), "all": kgo.AllISRAcks()}
	for cname, codec := range codecs {
		for aname, ack := range acks {
			t.Run(cname+"/acks="+aname, func(t *testing.T) {
				topic := fmt.Sprintf("codec-%s-acks-%s", cname, aname)
				opts := []kgo.Opt{kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(ack), kgo.DefaultProduceTopic(topic)}
				if aname != "all" {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				cl := tb.client(opts...)
				ctx := testCtx(t)
				const n = 200
				var want []*kgo.Record
				for i := range n {
					r := &kgo.Record{
						Key:     []byte(fmt.Sprintf("key-%d", i%7)),
						Value:   bytes.Repeat([]byte(fmt.Sprintf("value-%d;", i)), 20),
						Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}},
					}
					want = append(want, r)
					cl.Produce(ctx, r, func(r *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
				if err := cl.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				got := consumeAll(t, tb, topic, n)
				if len(got) != n {
					t.Fatalf("consumed %d records, want %d", len(got), n)
				}
				for i, r := range got {
					if r.Offset != int64(i) {
						t.Fatalf("record %d has offset %d", i, r.Offset)
					}
					if !bytes.Equal(r.Key, want[i].Key) || !bytes.Equal(r.Value, want[i].Value) ||
						len(r.Headers) != 1 || string(r.Headers[0].Value) != fmt.Sprint(i) {
						t.Fatalf("record %d differs: key %q value %.20q...", i, r.Key, r.Value)
					}
				}
			})
		}
	}
}

func TestRestartKeepsRecordsAndTopics(t *testing.T) {
	tb := startBroker(t)
	adm := tb.admin()
	ctx := testCtx(t)
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kgoStr("123456789")}, "durable"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 90 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	idsBefore, _ := adm.ListTopics(ctx, "durable")
	tb.restart()
	adm = tb.admin()
	got := consumeAll(t, tb, "durable", 90)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("duplicate record %s", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != 90 {
		t.Fatalf("after restart found %d distinct records, want 90", len(seen))
	}
	after, err := adm.ListTopics(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if after["durable"].ID != idsBefore["durable"].ID || len(after["durable"].Partitions) != 3 {
		t.Fatalf("topic changed across restart: %+v vs %+v", after["durable"], idsBefore["durable"])
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rc.On("durable", nil); err != nil || configValue(v.Configs, "retention.ms") != "123456789" {
		t.Fatalf("retention.ms after restart: %v %v", configValue(v.Configs, "retention.ms"), err)
	}
	// New writes continue at the right offsets.
	cl = tb.client(kgo.DefaultProduceTopic("durable"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	res := cl.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: []byte("after")})
	if r, err := res.First(); err != nil || r.Offset != 30 {
		t.Fatalf("produce after restart: offset %v err %v, want offset 30", r, err)
	}
}

func TestIdempotentProducerAcrossRestart(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	cl := tb.client(kgo.DefaultProduceTopic("idem"))
	for i := range 50 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tb.restart()
	// The same client keeps its producer id and sequence numbers across the
	// broker restart; the broker must accept its next sequence.
	for i := 50; i < 100; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d after restart: %v", i, err)
		}
	}
	got := consumeAll(t, tb, "idem", 100)
	for i, r := range got {
		if string(r.Value) != fmt.Sprint(i) {
			t.Fatalf("record %d = %s", i, r.Value)
		}
	}
}

func TestAutoCreateCanBeTurnedOff(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.DisableAutoCreate = true })
	cl := tb.client(kgo.DefaultProduceTopic("nope"), kgo.ProduceRequestTimeout(2*time.Second), kgo.RecordDeliveryTimeout(2*time.Second))
	err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("produce to an unknown topic succeeded with auto-create off")
	}
	topics, _ := tb.admin().ListTopics(testCtx(t))
	if len(topics) != 0 {
		t.Fatalf("topics exist: %v", topics.Names())
	}
}

func TestDefaultPartitionsForAutoCreatedTopics(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.DefaultPartitions = 4 })
	cl := tb.client(kgo.DefaultProduceTopic("auto"))
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := tb.admin().ListTopics(testCtx(t), "auto")
	if err != nil || len(td["auto"].Partitions) != 4 {
		t.Fatalf("auto-created topic: %+v %v", td["auto"], err)
	}
}

func TestProduceToMissingPartition(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	if _, err := tb.admin().CreateTopic(ctx, 1, 1, nil, "one"); err != nil {
		t.Fatal(err)
	}
	resp := produceRaw(t, tb, "one", 5, makeBatch(t, -1, 0, 0, []string{"x"}), -1)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("error code %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
	}
}

func kgoStr(s string) *string { return &s }
