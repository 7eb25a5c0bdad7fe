//go:build realkafka

package realkafka

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

// TestDumpLogSegmentsReadsOurSegments writes with every codec and an
// idempotent producer, then a committed and an aborted transaction, to the
// embedded broker, then has Kafka's own DumpLogSegments read the segment
// files (markers included) and the transaction index, and verify every batch.
func TestDumpLogSegmentsReadsOurSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: dir, Logger: quiet()}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := 0
	for _, codec := range []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.DefaultProduceTopic("dump"), kgo.AllowAutoTopicCreation(), kgo.ProducerBatchCompression(codec))
		if err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for i := range 200 {
			recs = append(recs, &kgo.Record{Key: []byte{byte(i)}, Value: []byte(strings.Repeat("v", i)), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want += len(recs)
		cl.Close()
	}
	tx, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.DefaultProduceTopic("dump"), kgo.TransactionalID("dump-tx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, commit := range []bool{true, false} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tx.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("in a transaction")}, &kgo.Record{Key: []byte("k"), Value: []byte("too")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
		want += 3 // two records and the marker
	}
	tx.Close()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "dump-0", "*.log"))
	if len(logs) == 0 {
		t.Fatal("no segment files")
	}
	out := script(t, append([]string{"java", "org.apache.kafka.tools.DumpLogSegments", "--deep-iteration", "--files"}, strings.Join(logs, ","))...)
	batches := regexp.MustCompile(`(?m)^baseOffset: .* isvalid: (\w+)`).FindAllStringSubmatch(out, -1)
	records := regexp.MustCompile(`(?m)^\| offset: \d+`).FindAllString(out, -1)
	for _, b := range batches {
		if b[1] != "true" {
			t.Fatalf("DumpLogSegments says a batch is invalid:\n%s", out)
		}
	}
	if len(batches) == 0 || len(records) != want {
		t.Fatalf("DumpLogSegments saw %d batches and %d records, want %d records:\n%.2000s", len(batches), len(records), want, out)
	}
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		if !strings.Contains(out, "compresscodec: "+codec) {
			t.Fatalf("no %s batch in the dump", codec)
		}
	}
	for _, marker := range []string{"endTxnMarker: COMMIT", "endTxnMarker: ABORT", "isTransactional: true", "isControl: true"} {
		if !strings.Contains(out, marker) {
			t.Fatalf("no %q in the dump:\n%.3000s", marker, out[max(0, len(out)-3000):])
		}
	}
	txnidx, _ := filepath.Glob(filepath.Join(dir, "dump-0", "*.txnindex"))
	if len(txnidx) != 1 {
		t.Fatalf("transaction index files: %v", txnidx)
	}
	if out := script(t, "java", "org.apache.kafka.tools.DumpLogSegments", "--files", txnidx[0]); !regexp.MustCompile(`producerId: \d+ firstOffset: 1003 lastOffset: 1005 lastStableOffset: 1006`).MatchString(out) {
		t.Fatalf("DumpLogSegments on the transaction index:\n%s", out)
	}
	idx, _ := filepath.Glob(filepath.Join(dir, "dump-0", "*index"))
	out = script(t, append([]string{"java", "org.apache.kafka.tools.DumpLogSegments", "--verify-index-only", "--files"}, strings.Join(idx, ","))...)
	if strings.Contains(out, "Mismatches") || strings.Contains(out, "Exception") || strings.Contains(out, "not in increasing order") {
		t.Fatalf("index verification:\n%s", out)
	}
	t.Logf("DumpLogSegments read %d batches, %d records, all valid; indexes verified", len(batches), len(records))
}
