package serde

import (
	"context"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// FuzzDecode decodes arbitrary bytes with a known writer schema (cached, so
// no registry is needed): an error or a value, never a panic or a hang.
func FuzzDecode(f *testing.F) {
	writer := avro.MustParse(`{"type":"record","name":"T","fields":[{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"m","type":["null",{"type":"map","values":"bytes"}]}]}`)
	reader := avro.MustParse(`{"type":"record","name":"T","fields":[{"name":"id","type":"long"},{"name":"extra","type":"int","default":3}]}`)
	s := New(nil)
	s.schemas[1] = writer
	good, _ := s.AppendEncode(nil, 1, writer, map[string]any{"id": int64(5), "tags": []any{"a"}, "m": nil})
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize && b[0] == 0 {
			b[1], b[2], b[3], b[4] = 0, 0, 0, 1 // always the cached schema: no registry in a fuzz run
		}
		var m map[string]any
		_ = s.Decode(context.Background(), b, nil, &m)
		var r map[string]any
		_ = s.Decode(context.Background(), b, reader, &r)
	})
}

// FuzzDecodeProtobuf decodes arbitrary Protobuf payloads (message indexes
// and message) against a known schema: an error or a value, never a panic.
func FuzzDecodeProtobuf(f *testing.F) {
	fd, err := CompileProto("syntax = \"proto3\";\nmessage A { int64 a = 1; message B { repeated string s = 1; map<string, A> m = 2; } B b = 2; }", nil)
	if err != nil {
		f.Fatal(err)
	}
	s := New(nil)
	s.others[1] = &other{typ: sr.TypeProtobuf, proto: fd}
	f.Add([]byte{0, 0, 0, 0, 1, 0, 8, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 4, 0, 0, 10, 1, 'x'})
	f.Add([]byte{0, 0, 0, 0, 1, 2, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= HeaderSize && b[0] == 0 {
			b[1], b[2], b[3], b[4] = 0, 0, 0, 1
		}
		_, _, _ = s.DecodeJSONView(context.Background(), b)
	})
}
