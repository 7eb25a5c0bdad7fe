package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
)

func TestStackServesKafkaHealthAndRegistryPlaceholder(t *testing.T) {
	s, err := Start(Config{
		KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Broker: broker.Config{DataDir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())

	cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.DefaultProduceTopic("hello"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hi")}).First(); err != nil || r.Offset != 0 {
		t.Fatalf("produce through the stack: %v %v", r, err)
	}

	resp, err := http.Get(s.HTTPURL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health["status"] != "ok" || health["kafka"] != s.KafkaAddr() || health["cluster_id"] == "" {
		t.Fatalf("healthz: %d %v", resp.StatusCode, health)
	}

	resp, err = http.Get(s.RegistryURL() + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	json.NewDecoder(resp.Body).Decode(&subjects)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.schemaregistry.v1+json") || subjects == nil || len(subjects) != 0 {
		t.Fatalf("registry GET /subjects: %d %v", resp.StatusCode, subjects)
	}

	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := http.Get(s.HTTPURL() + "/healthz"); err == nil {
		t.Fatal("http endpoint still answers after Close")
	}
}

func TestStartReportsBusyPort(t *testing.T) {
	s, err := Start(Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, err = Start(Config{KafkaAddr: s.KafkaAddr(), Broker: broker.Config{DataDir: t.TempDir()}})
	var le *ListenError
	if !errors.As(err, &le) || le.Listener != ListenerKafka || le.Addr != s.KafkaAddr() || !strings.Contains(err.Error(), "another server") {
		t.Fatalf("second stack on the same port: %v", err)
	}
}
