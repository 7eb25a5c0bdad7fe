package serde_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/serde"
	"github.com/twmb/franz-go/pkg/sr"
)

func startRegistry(t *testing.T) (*serde.Serde, *sr.Client, context.Context) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	return serde.New(cl), cl, ctx
}

func TestJSONSchemaRoundTrip(t *testing.T) {
	sd, _, ctx := startRegistry(t)
	id, sch, err := sd.RegisterJSONSchema(ctx, "j-value", `{"type":"object","properties":{"id":{"type":"integer"},"price":{"type":"string"}},"required":["id"]}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.AppendEncodeJSON(nil, id, sch, map[string]any{"id": json.Number("12345678901234567"), "price": "97000.5"})
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || string(b[5:]) != `{"id":12345678901234567,"price":"97000.5"}` {
		t.Fatalf("wire bytes %q", b)
	}
	if _, err := serde.AppendEncodeJSON(nil, id, sch, map[string]any{"price": "1"}); err == nil {
		t.Fatal("a document without the required id was encoded")
	}
	// A fresh Serde fetches the schema by the record's id.
	v, ok, err := serde.New(sd.Client()).DecodeJSONView(ctx, b)
	if !ok || err != nil {
		t.Fatalf("decode: %v %v", ok, err)
	}
	m := v.(map[string]any)
	if m["id"] != json.Number("12345678901234567") || m["price"] != "97000.5" {
		t.Fatalf("decoded %v", m)
	}
	// A corrupt payload is an error, not a value.
	if _, _, err := sd.DecodeJSONView(ctx, append(b[:5:5], `{"id":`...)); !errors.Is(err, serde.ErrUndecodable) {
		t.Fatalf("corrupt JSON: %v", err)
	}
}

func TestProtobufRoundTrip(t *testing.T) {
	sd, cl, ctx := startRegistry(t)
	text := "syntax = \"proto3\";\npackage t;\nimport \"google/protobuf/timestamp.proto\";\nmessage Other { string x = 1; }\nmessage Outer { message Trade { int64 id = 1; string price = 2; google.protobuf.Timestamp at = 3; repeated string tags = 4; } }\n"
	id, md, err := sd.RegisterProto(ctx, "p-value", text, "Trade")
	if err != nil {
		t.Fatal(err)
	}
	if md.FullName() != "t.Outer.Trade" {
		t.Fatalf("message %s", md.FullName())
	}
	m, err := serde.ProtoFromJSON(md, []byte(`{"id":"7","price":"97000.5","at":"2026-01-02T03:04:05.000006Z","tags":["a","b"]}`), false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := serde.AppendEncodeProto(nil, id, m)
	if err != nil {
		t.Fatal(err)
	}
	// Header, then the index array [1, 0]: count 2, then 1 and 0 (zigzag).
	if b[0] != 0 || b[5] != 4 || b[6] != 2 || b[7] != 0 {
		t.Fatalf("wire header % x", b[:8])
	}
	fresh := serde.New(cl)
	v, ok, err := fresh.DecodeJSONView(ctx, b)
	if !ok || err != nil {
		t.Fatalf("decode: %v %v", ok, err)
	}
	got := v.(map[string]any)
	if got["id"] != "7" || got["price"] != "97000.5" || got["at"] != "2026-01-02T03:04:05.000006Z" || len(got["tags"].([]any)) != 2 {
		t.Fatalf("decoded %v", got)
	}
	// The first message is the single byte 0.
	first, _ := serde.FindMessage(md.ParentFile(), "")
	m0, _ := serde.ProtoFromJSON(first, []byte(`{"x":"y"}`), false)
	b0, _ := serde.AppendEncodeProto(nil, id, m0)
	if b0[5] != 0 {
		t.Fatalf("[0] encoded as % x", b0[5:])
	}
	if v, _, err := fresh.DecodeJSONView(ctx, b0); err != nil || v.(map[string]any)["x"] != "y" {
		t.Fatalf("first message: %v %v", v, err)
	}
	// Without the index array, as @kafkajs/confluent-schema-registry 4.x
	// writes: read as the first message.
	bare := append(append([]byte{}, b0[:5]...), b0[6:]...)
	if v, _, err := fresh.DecodeJSONView(ctx, bare); err != nil || v.(map[string]any)["x"] != "y" {
		t.Fatalf("no message indexes: %v %v", v, err)
	}
	// Indexes naming no message, and a truncated message.
	bad := append(append([]byte{}, b[:5]...), 2, 40)
	if _, _, err := fresh.DecodeJSONView(ctx, bad); !errors.Is(err, serde.ErrUndecodable) {
		t.Fatalf("bad indexes: %v", err)
	}
	if _, _, err := fresh.DecodeJSONView(ctx, b[:len(b)-1]); !errors.Is(err, serde.ErrUndecodable) {
		t.Fatalf("truncated: %v", err)
	}
	// Unknown ids are errors; Avro records are left to Decode.
	if _, ok, err := fresh.DecodeJSONView(ctx, append(serde.AppendHeader(nil, 999), 1)); !ok || !errors.Is(err, serde.ErrUnknownSchemaID) {
		t.Fatalf("unknown id: %v %v", ok, err)
	}
	avroID, err := sd.Register(ctx, "a-value", schemaV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := fresh.DecodeJSONView(ctx, append(serde.AppendHeader(nil, avroID), 2, 0)); ok || err != nil {
		t.Fatalf("an Avro record: %v %v", ok, err)
	}
}

func TestMessageIndexes(t *testing.T) {
	for _, idx := range [][]int{{0}, {1}, {1, 0}, {3, 2, 1}} {
		b := serde.AppendMessageIndexes(nil, idx)
		got, rest, err := serde.ParseMessageIndexes(append(b, 9))
		if err != nil || len(rest) != 1 || len(got) != len(idx) {
			t.Fatalf("%v: %v %v %v", idx, got, rest, err)
		}
		for i := range idx {
			if got[i] != idx[i] {
				t.Fatalf("%v: got %v", idx, got)
			}
		}
	}
	for _, b := range [][]byte{{}, {1}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, {200, 1}} {
		if _, _, err := serde.ParseMessageIndexes(b); !errors.Is(err, serde.ErrBadMessageIndexes) {
			t.Fatalf("% x: %v", b, err)
		}
	}
}
