package serde_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/serde"
	"github.com/twmb/franz-go/pkg/sr"
)

type tradeV1 struct {
	ID    int64  `avro:"id"`
	Price string `avro:"price"`
}

type tradeV2 struct {
	ID    int64  `avro:"id"`
	Price string `avro:"price"`
	Side  string `avro:"side"`
}

var (
	schemaV1 = avro.MustParse(`{"type":"record","name":"Trade","namespace":"serdetest","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"}]}`)
	schemaV2 = avro.MustParse(`{"type":"record","name":"Trade","namespace":"serdetest","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"},{"name":"side","type":"string","default":"unknown"}]}`)
)

func TestEncodeDecodeAcrossVersions(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	sd := serde.New(cl)
	id1, err := sd.Register(ctx, "trades-value", schemaV1)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := sd.Register(ctx, "trades-value", schemaV1); again != id1 {
		t.Fatalf("second Register: id %d, first %d", again, id1)
	}
	id2, err := sd.Register(ctx, "trades-value", schemaV2)
	if err != nil || id2 == id1 {
		t.Fatalf("v2: id %d (v1 %d): %v", id2, id1, err)
	}
	old, err := sd.AppendEncode(nil, id1, schemaV1, tradeV1{ID: 7, Price: "101.25"})
	if err != nil {
		t.Fatal(err)
	}
	if gotID, _, err := serde.ParseHeader(old); err != nil || gotID != id1 || old[0] != 0 {
		t.Fatalf("header: id %d, %v", gotID, err)
	}
	newer, err := sd.AppendEncode(nil, id2, schemaV2, tradeV2{ID: 8, Price: "99.5", Side: "sell"})
	if err != nil {
		t.Fatal(err)
	}

	// A fresh Serde (empty cache) reads both with the new reader schema...
	fresh := serde.New(cl)
	var a, b tradeV2
	if err := fresh.Decode(ctx, old, schemaV2, &a); err != nil || a != (tradeV2{7, "101.25", "unknown"}) {
		t.Fatalf("old record with new reader: %+v %v", a, err)
	}
	if err := fresh.Decode(ctx, newer, schemaV2, &b); err != nil || b != (tradeV2{8, "99.5", "sell"}) {
		t.Fatalf("new record with new reader: %+v %v", b, err)
	}
	// ...and with the old one (the new field is skipped).
	var c tradeV1
	if err := fresh.Decode(ctx, newer, schemaV1, &c); err != nil || c != (tradeV1{8, "99.5"}) {
		t.Fatalf("new record with old reader: %+v %v", c, err)
	}
	// Two readers that differ only in a default each get their own default
	// (resolutions are cached by the reader's full JSON, not its canonical form).
	otherDefault := avro.MustParse(`{"type":"record","name":"Trade","namespace":"serdetest","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"},{"name":"side","type":"string","default":"n/a"}]}`)
	var d1, d2 tradeV2
	if err := fresh.Decode(ctx, old, schemaV2, &d1); err != nil || d1.Side != "unknown" {
		t.Fatalf("first reader: %+v %v", d1, err)
	}
	if err := fresh.Decode(ctx, old, otherDefault, &d2); err != nil || d2.Side != "n/a" {
		t.Fatalf("a reader differing only in its default got %q (%v)", d2.Side, err)
	}
	// Reader digests are memoized per schema, in a bounded map: more
	// readers than it holds, each parsed afresh, still get their own
	// default, and the first reader's is still its own afterwards.
	for i := range 300 {
		r := avro.MustParse(fmt.Sprintf(`{"type":"record","name":"Trade","namespace":"serdetest","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"},{"name":"side","type":"string","default":"d%d"}]}`, i))
		var d tradeV2
		if err := fresh.Decode(ctx, old, r, &d); err != nil || d.Side != fmt.Sprintf("d%d", i) {
			t.Fatalf("reader %d: side %q (%v)", i, d.Side, err)
		}
	}
	if err := fresh.Decode(ctx, old, schemaV2, &d1); err != nil || d1.Side != "unknown" {
		t.Fatalf("first reader after many others: %+v %v", d1, err)
	}
	// Without a reader, the writer's schema decodes into a generic map.
	var m map[string]any
	if err := fresh.Decode(ctx, newer, nil, &m); err != nil || m["side"] != "sell" {
		t.Fatalf("generic decode: %v %v", m, err)
	}

	// Bytes that cannot be decoded say why.
	for _, c := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0, 0, 0}, serde.ErrTruncated},
		{[]byte{1, 0, 0, 0, 1, 2}, serde.ErrBadMagic},
		{serde.AppendHeader(nil, 999), serde.ErrUnknownSchemaID},
		{old[:len(old)-3], serde.ErrUndecodable},
	} {
		var v tradeV2
		if err := fresh.Decode(ctx, c.in, schemaV2, &v); !errors.Is(err, c.want) {
			t.Fatalf("Decode(%x): %v, want %v", c.in, err, c.want)
		}
	}
	// A reader that cannot read the writer's schema.
	incompatible := avro.MustParse(`{"type":"record","name":"Trade","namespace":"serdetest","fields":[{"name":"qty","type":"string"}]}`)
	var v map[string]any
	if err := fresh.Decode(ctx, old, incompatible, &v); !errors.Is(err, serde.ErrIncompatible) {
		t.Fatalf("incompatible reader: %v", err)
	}
}
