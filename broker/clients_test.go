package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	segkafka "github.com/segmentio/kafka-go"
)

// saramaHandler consumes until it has want records, marking each.
type saramaHandler struct {
	mu   sync.Mutex
	got  map[string]int
	want int
	done chan struct{}
	once sync.Once
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.got[string(m.Value)]++
		n := len(h.got)
		h.mu.Unlock()
		s.MarkMessage(m, "")
		if n >= h.want {
			s.Commit()
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func TestSaramaProduceAndConsumerGroup(t *testing.T) {
	tb := startBroker(t, fastGroups)
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Session.Timeout = 2 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	if _, err := tb.admin().CreateTopic(testCtx(t), 3, 1, nil, "sarama"); err != nil {
		t.Fatal(err)
	}
	prod, err := sarama.NewSyncProducer([]string{tb.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama", Key: sarama.StringEncoder(fmt.Sprint(i % 5)), Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
			t.Fatalf("sarama produce: %v", err)
		}
	}
	prod.Close()

	consume := func(want int) map[string]int {
		group, err := sarama.NewConsumerGroup([]string{tb.addr}, "sarama-group", cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer group.Close()
		h := &saramaHandler{got: map[string]int{}, want: want, done: make(chan struct{})}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		go func() {
			for ctx.Err() == nil {
				if err := group.Consume(ctx, []string{"sarama"}, h); err != nil && ctx.Err() == nil {
					t.Errorf("sarama consume: %v", err)
					return
				}
			}
		}()
		select {
		case <-h.done:
		case <-ctx.Done():
			t.Fatalf("sarama group consumed %d of %d", len(h.got), want)
		}
		cancel()
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.got
	}
	got := consume(100)
	for v, n := range got {
		if n != 1 {
			t.Fatalf("record %s consumed %d times", v, n)
		}
	}
	// A new member of the same group resumes after the committed offsets.
	prod, _ = sarama.NewSyncProducer([]string{tb.addr}, cfg)
	for i := 100; i < 110; i++ {
		prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama", Value: sarama.StringEncoder(fmt.Sprint(i))})
	}
	prod.Close()
	again := consume(10)
	for v := range again {
		var n int
		fmt.Sscan(v, &n)
		if n < 100 {
			t.Fatalf("resumed member re-read committed record %s", v)
		}
	}
}

func TestSegmentioKafkaGoRoundTrip(t *testing.T) {
	tb := startBroker(t, fastGroups)
	if _, err := tb.admin().CreateTopic(testCtx(t), 2, 1, nil, "segmentio"); err != nil {
		t.Fatal(err)
	}
	w := &segkafka.Writer{Addr: segkafka.TCP(tb.addr), Topic: "segmentio", RequiredAcks: segkafka.RequireAll, Balancer: &segkafka.Hash{}}
	var msgs []segkafka.Message
	for i := range 50 {
		msgs = append(msgs, segkafka.Message{Key: []byte(fmt.Sprint(i % 3)), Value: []byte(fmt.Sprint(i))})
	}
	if err := w.WriteMessages(testCtx(t), msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	w.Close()
	r := segkafka.NewReader(segkafka.ReaderConfig{
		Brokers: []string{tb.addr}, GroupID: "segmentio-group", Topic: "segmentio",
		StartOffset: segkafka.FirstOffset, SessionTimeout: 2 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
		MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(seen) < 50 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go fetch after %d records: %v", len(seen), err)
		}
		if seen[string(m.Value)] {
			t.Fatalf("record %s twice", m.Value)
		}
		seen[string(m.Value)] = true
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("kafka-go commit: %v", err)
		}
	}
	lags, err := tb.admin().Lag(ctx, "segmentio-group")
	if err != nil || lags["segmentio-group"].Lag.Total() != 0 {
		t.Fatalf("lag after kafka-go committed everything: %v %v", lags["segmentio-group"].Lag.Total(), err)
	}
}
