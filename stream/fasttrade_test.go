package stream

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// TestOurTradeSchemaTakesTheFastPath: market.TradeSchema as ingest
// registers it, read back from the registry by id, is recognized as ours
// (its records go through market.DecodeTrade), and a Trade schema that
// differs only in a decimal's scale (the same bytes, another meaning) is not.
func TestOurTradeSchemaTakesTheFastPath(t *testing.T) {
	s, cl, quiet := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writer := serde.New(cl)
	ours, err := writer.Register(ctx, "ours-value", market.TradeSchema)
	if err != nil {
		t.Fatal(err)
	}
	other, err := avro.Parse(strings.Replace(market.TradeSchemaText, `"scale": 18`, `"scale": 8`, 1))
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := writer.Register(ctx, "other-value", other)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Brokers: []string{s.KafkaAddr()}, Serde: serde.New(cl), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w, err := p.cfg.Serde.WriterSchema(ctx, ours)
	if err != nil {
		t.Fatal(err)
	}
	if !p.writtenAsOurTrade(ours, w) {
		t.Fatal("market.TradeSchema read back from the registry is not recognized")
	}
	if w, err = p.cfg.Serde.WriterSchema(ctx, otherID); err != nil {
		t.Fatal(err)
	}
	if p.writtenAsOurTrade(otherID, w) {
		t.Fatal("a Trade with another price scale was taken for ours")
	}
}

// startStack starts the embedded broker and registry for one test (closed by
// its cleanup) and returns them, a registry client and a quiet logger.
func startStack(t *testing.T) (*app.Stack, *sr.Client, *slog.Logger) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	return s, cl, quiet
}
