package broker

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/internal/poll"
)

// brokerGoroutines lists the goroutines still running broker or commitlog
// code that a closed broker must not leave behind.
func brokerGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "commitlog.(*Log).WaitDurable") {
			left = append(left, g)
		}
	}
	return left
}

// TestAcksZeroDurabilityHasOneOwner: an acks=0 produce still makes its
// batches durable in the background, and that work has one owner: a flood
// of acks=0 requests does not start a goroutine per partition per request
// (the old code did: thousands, each queued on its log's fsync), and once
// Close returns none of it is left running.
func TestAcksZeroDurabilityHasOneOwner(t *testing.T) {
	const parts, rounds = 32, 200
	tb := startBroker(t)
	if _, err := tb.admin().CreateTopic(testCtx(t), parts, 1, nil, "acks0"); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb)
	for round := 0; round < rounds; round++ {
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = 0, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "acks0"
		for p := int32(0); p < parts; p++ {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition, rp.Records = p, makeBatch(t, -1, -1, 0, []string{strings.Repeat("x", 512)})
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		rc.sendFrame(requestBody(req, 7, int32(2*round)))
	}
	// Requests on one connection are handled in order: once ApiVersions is
	// answered, every produce above has been handled.
	rc.sendFrame(requestBody(kmsg.NewPtrApiVersionsRequest(), 0, 99))
	if _, err := rc.readFrame(); err != nil {
		t.Fatal(err)
	}
	if n := len(brokerGoroutines()); n > 1 {
		t.Fatalf("%d goroutines wait for the durability of acks=0 batches (%d requests of %d partitions); want one owner", n, rounds, parts)
	}
	// The batches still become durable, and so visible, without an acked produce.
	for p := int32(0); p < parts; p++ {
		poll.Until(t, 10*time.Second, "partition durable", func() bool { return tb.b.lookup("acks0").parts[p].log.HighWatermark() == rounds })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tb.b = nil
	if left := brokerGoroutines(); len(left) > 0 {
		t.Fatalf("%d goroutines waiting for durability outlived Close; the first:\n%s", len(left), left[0])
	}
}
