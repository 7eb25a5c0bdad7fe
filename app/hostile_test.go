package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/batchtest"
)

// TestLyingBatchInSchemasDoesNotBrickAStart: a batch whose CRC is right but
// whose header declares 2 records while it holds 1 (the broker refuses such a
// produce now, but a data directory written before that may hold one) sits in
// _schemas between two registrations. The next start must come up, keep
// both schemas and accept new registrations (issue 15, item 1).
func TestLyingBatchInSchemasDoesNotBrickAStart(t *testing.T) {
	dir := t.TempDir()
	start := func() *Stack {
		t.Helper()
		s, err := Start(Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: dir}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	register := func(s *Stack, subject, schema string) int {
		t.Helper()
		body := `{"schema": ` + jsonString(schema) + `}`
		resp, err := http.Post(s.RegistryURL()+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	s := start()
	if st := register(s, "a", `"string"`); st != 200 {
		t.Fatalf("register a: %d", st)
	}
	s.Close(context.Background())

	l, err := commitlog.Open(commitlog.Options{Dir: filepath.Join(dir, "_schemas-0")})
	if err != nil {
		t.Fatal(err)
	}
	b := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: time.Now().UnixMilli(), Values: []string{"one"}})
	binary.BigEndian.PutUint32(b[23:], 1) // last offset delta
	binary.BigEndian.PutUint32(b[57:], 2) // record count
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	if _, err := l.Append(b); err != nil {
		t.Fatal(err)
	}
	l.Close()

	begun := time.Now()
	s = start()
	defer s.Close(context.Background())
	if st := register(s, "b", `"long"`); st != 200 {
		t.Fatalf("register b after the lying batch: %d (after %s)", st, time.Since(begun))
	}
	resp, err := http.Get(s.RegistryURL() + "/subjects/a/versions/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a lost after the lying batch: %d", resp.StatusCode)
	}
}

func jsonString(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
