package serde_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/serde"
)

// BenchmarkDecodeWithReader decodes one record with a reader schema, as
// the candle processor decodes every trade: the resolution is cached, so
// this is the per-record cost of finding it plus the Avro decode.
func BenchmarkDecodeWithReader(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: b.TempDir(), Logger: quiet}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		b.Fatal(err)
	}
	sd := serde.New(cl)
	id, err := sd.Register(ctx, "trades-value", schemaV1)
	if err != nil {
		b.Fatal(err)
	}
	rec, err := sd.AppendEncode(nil, id, schemaV1, tradeV1{ID: 7, Price: "101.25"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var v tradeV2
		if err := sd.Decode(ctx, rec, schemaV2, &v); err != nil || v.Side != "unknown" {
			b.Fatalf("%+v %v", v, err)
		}
	}
}
