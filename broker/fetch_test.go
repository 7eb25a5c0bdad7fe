package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetchRequest(tb *testBroker, topic string, maxWaitMs, minBytes, maxBytes, partMax int32, partitions ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = maxWaitMs, minBytes, maxBytes, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, tb.b.lookup(topic).id
	for _, p := range partitions {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.PartitionMaxBytes = p, partMax
		ft.Partitions = append(ft.Partitions, fp)
	}
	req.Topics = append(req.Topics, ft)
	return req
}

// A fetch with nothing to return waits, and wakes as soon as a record arrives:
// the request context ends long before MaxWaitMillis, so only a woken long
// poll can answer in time.
func TestFetchLongPollWakesOnProduce(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "poll"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("poll"))
	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		defer cancel()
		resp, err := fetchRequest(tb, "poll", 60_000, 1, 1<<20, 1<<20, 0).RequestWith(ctx, cl)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("fetch answered before any data with MinBytes=1: %+v %v", r.resp, r.err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("wake up")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("long poll was not woken by the produce: %v", r.err)
	}
	if p := r.resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
		t.Fatalf("woken fetch: %+v", p)
	}
}

// MaxBytes bounds the response; only the first batch may exceed it (KIP-74).
func TestFetchHonoursMaxBytes(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 2, 1, nil, "sizes"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client(kgo.DefaultProduceTopic("sizes"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(2) {
		for range 3 {
			if err := cl.ProduceSync(testCtx(t), &kgo.Record{Partition: p, Value: randomBytes(2000)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	fetch := func(maxBytes, partMax int32) []int {
		resp, err := fetchRequest(tb, "sizes", 0, 1, maxBytes, partMax, 0, 1).RequestWith(testCtx(t), tb.client())
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("partition %d: error %d", p.Partition, p.ErrorCode)
			}
			sizes = append(sizes, len(p.RecordBatches))
		}
		return sizes
	}
	if s := fetch(1<<20, 1<<20); s[0] < 6000 || s[1] < 6000 {
		t.Fatalf("unbounded fetch returned %v bytes", s)
	}
	if s := fetch(100, 1<<20); s[0] == 0 || s[0] > 2200 || s[1] != 0 {
		t.Fatalf("MaxBytes=100: got %v, want one whole first batch and nothing more", s)
	}
	if s := fetch(1<<20, 4500); s[0] > 4500 || s[0] < 4000 || s[1] > 4500 || s[1] < 4000 {
		t.Fatalf("PartitionMaxBytes=4500: got %v, want two batches per partition", s)
	}
}

func TestFetchOutOfRangeAndUnknown(t *testing.T) {
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "range"); err != nil {
		t.Fatal(err)
	}
	req := fetchRequest(tb, "range", 0, 1, 1<<20, 1<<20, 0, 7)
	req.Topics[0].Partitions[0].FetchOffset = 5
	resp, err := req.RequestWith(testCtx(t), tb.client())
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Topics[0].Partitions[0].ErrorCode; c != errOffsetOutOfRange {
		t.Fatalf("offset 5 of an empty partition: error %d, want OFFSET_OUT_OF_RANGE", c)
	}
	if c := resp.Topics[0].Partitions[1].ErrorCode; c != errUnknownTopicOrPartition && c != errUnknownTopicID {
		t.Fatalf("partition 7: error %d", c)
	}
}
