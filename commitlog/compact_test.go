package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

func TestCompactKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 400; o.Now = func() time.Time { return now } })
	// 60 records over 5 keys, in batches of 3, some compressed; key k4's last
	// record is a tombstone.
	want := map[string]string{}
	for i := 0; i < 60; i += 3 {
		var recs []Record
		for j := i; j < i+3; j++ {
			k := fmt.Sprintf("k%d", j%5)
			v := []byte(fmt.Sprintf("v%d", j))
			if j == 59 { // k4
				v = nil
			}
			recs = append(recs, Record{TimestampMs: now.UnixMilli(), Key: []byte(k), Value: v})
			want[k] = string(v)
		}
		mustAppend(t, l, EncodeBatch(now.UnixMilli(), recs))
	}
	mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: now.UnixMilli(), Codec: batchtest.Zstd, Values: []string{"unkeyed"}}))
	before := readAll(t, l)
	removed, err := l.Compact(24 * time.Hour)
	if err != nil || removed == 0 {
		t.Fatalf("Compact removed %d: %v", removed, err)
	}
	check := func(l *Log) {
		after := readAll(t, l)
		if len(after) != len(before)-removed {
			t.Fatalf("%d records after compaction, %d before, %d removed", len(after), len(before), removed)
		}
		last := map[string]Record{}
		prev := int64(-1)
		for _, r := range after {
			if r.Offset <= prev {
				t.Fatalf("offsets not increasing: %d after %d", r.Offset, prev)
			}
			prev = r.Offset
			if orig := before[r.Offset]; string(orig.Key) != string(r.Key) || string(orig.Value) != string(r.Value) {
				t.Fatalf("record at offset %d changed: %q=%q, was %q=%q", r.Offset, r.Key, r.Value, orig.Key, orig.Value)
			}
			if r.Key != nil {
				last[string(r.Key)] = r
			}
		}
		for k, v := range want {
			if string(last[k].Value) != v || (v == "" && last[k].Value != nil) {
				t.Fatalf("key %s: latest %q, want %q", k, last[k].Value, v)
			}
		}
		found := false
		for _, r := range after {
			found = found || r.Offset == 60 && string(r.Value) == "unkeyed"
		}
		if !found {
			t.Fatalf("the unkeyed record at offset 60 is gone")
		}
	}
	check(l)
	if r := mustAppend(t, l, batch("next")); r.BaseOffset != 61 {
		t.Fatalf("append after compaction at %d", r.BaseOffset)
	}
	before = append(before, Record{Offset: 61, Value: []byte("next")})
	l.Close()
	l2 := openLog(t, dir)
	check(l2)
	// With no delete retention left, the tombstone goes too.
	l2.now = func() time.Time { return now.Add(48 * time.Hour) }
	if _, err := l2.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, r := range readAll(t, l2) {
		if string(r.Key) == "k4" {
			t.Fatalf("expired tombstone for k4 still present at offset %d", r.Offset)
		}
	}
}

// keyedTxn is a transactional batch of producer pid at sequence seq holding
// key=value pairs ("k=v").
func keyedTxn(pid int64, epoch int16, seq int32, tsMs int64, kvs ...string) []byte {
	b := keyed(tsMs, kvs...)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSeq:], uint32(seq))
	binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional)
	return withCRC(b)
}

// keyed is a plain batch holding key=value pairs ("k=v").
func keyed(tsMs int64, kvs ...string) []byte {
	var recs []Record
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		recs = append(recs, Record{TimestampMs: tsMs, Key: []byte(k), Value: []byte(v)})
	}
	return EncodeBatch(tsMs, recs)
}

type storedBatch struct {
	info BatchInfo
	recs []Record
}

func storedBatches(t *testing.T, l *Log) []storedBatch {
	t.Helper()
	var out []storedBatch
	for off := l.StartOffset(); off < l.HighWatermark(); {
		data, err := l.Read(off, 1<<20)
		if err != nil || len(data) == 0 {
			t.Fatalf("read at %d: %v", off, err)
		}
		for {
			b, rest, next, ok := NextBatch(data)
			if !ok {
				break
			}
			info, _ := Info(b)
			recs, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, storedBatch{info, recs})
			off, data = next, rest
		}
	}
	return out
}

// values lists "k=v" for every data record, and "commit(pid)" or
// "abort(pid)" for every marker, in offset order.
func logContents(t *testing.T, l *Log) []string {
	t.Helper()
	var out []string
	for _, b := range storedBatches(t, l) {
		if b.info.Control {
			typ, _ := ControlType(b.recs[0].Key)
			out = append(out, fmt.Sprintf("%s(%d)", map[int16]string{ControlAbort: "abort", ControlCommit: "commit"}[typ], b.info.ProducerID))
			continue
		}
		for _, r := range b.recs {
			out = append(out, string(r.Key)+"="+string(r.Value))
		}
	}
	return out
}

// TestCompactTransactions: compaction counts committed transactional records
// like plain ones, drops aborted ones at once, keeps whole a transaction whose
// marker is not in the cleanable part yet, keeps a rewritten batch transactional, and removes a marker once its
// transaction is empty and delete.retention.ms has passed. A reopened log
// agrees on every record, on the open transactions and on the aborted list.
func TestCompactTransactions(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ms := now.UnixMilli()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 300; o.Now = func() time.Time { return now } })
	mustAppend(t, l, keyed(ms, "k1=a", "k6=old"))                   // 0-1 plain
	mustAppend(t, l, keyedTxn(7, 0, 0, ms, "k1=b", "k2=x", "k7=p")) // 2-4 committed
	mustMarker(t, l, 7, 0, true)                                    // 5
	mustAppend(t, l, keyedTxn(8, 0, 0, ms, "k1=c", "k3=y"))         // 6-7 aborted
	mustMarker(t, l, 8, 0, false)                                   // 8
	mustAppend(t, l, keyedTxn(8, 0, 2, ms, "k5=w"))                 // 9 committed
	mustMarker(t, l, 8, 0, true)                                    // 10
	mustAppend(t, l, keyedTxn(9, 0, 0, ms, "k2=z"))                 // 11, decided in the active segment
	mustAppend(t, l, keyed(ms, "k7=q"))                             // 12 supersedes k7=p
	for i := 0; i < 6; i++ {                                        // closes every segment above
		mustAppend(t, l, keyed(ms, fmt.Sprintf("f%d=%d", i, i)))
	}
	mustMarker(t, l, 9, 0, true)
	if err := l.WaitDurable(t.Context(), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got := l.AbortedTxns(0, l.HighWatermark()); len(got) != 1 || got[0].ProducerID != 8 {
		t.Fatalf("aborted before compaction: %+v", got)
	}
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	want := []string{"k6=old", "k1=b", "k2=x", "commit(7)", "abort(8)", "k5=w", "commit(8)", "k2=z", "k7=q"}
	got := logContents(t, l)
	if !slices.Equal(got[:len(want)], want) {
		t.Fatalf("after compaction:\n got %v\nwant %v", got[:min(len(got), len(want))], want)
	}
	for _, b := range storedBatches(t, l) {
		if len(b.recs) > 0 && string(b.recs[0].Key) == "k1" && !(b.info.Transactional && b.info.ProducerID == 7 && b.info.BaseOffset == 2 && b.info.LastOffset == 4) {
			t.Fatalf("the rewritten committed batch lost its header: %+v", b.info)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.txnindex")); len(m) != 1 {
		t.Fatalf("txnindex files before the abort marker expires: %v", m)
	}
	// Past delete.retention.ms the abort marker goes (its transaction is
	// empty); commit(7) holds k1=b and commit(8) is producer 8's last batch.
	later := now.Add(48 * time.Hour)
	l.now = func() time.Time { return later }
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	want = []string{"k6=old", "k1=b", "k2=x", "commit(7)", "k5=w", "commit(8)", "k2=z", "k7=q"}
	check := func(l *Log, when string) {
		t.Helper()
		got := logContents(t, l)
		if !slices.Equal(got[:len(want)], want) {
			t.Fatalf("%s:\n got %v\nwant %v", when, got[:min(len(got), len(want))], want)
		}
		if got := l.AbortedTxns(0, l.HighWatermark()); len(got) != 0 {
			t.Fatalf("%s: aborted transactions %+v, want none", when, got)
		}
		if got := l.OpenTxns(); len(got) != 0 {
			t.Fatalf("%s: open transactions %v", when, got)
		}
	}
	check(l, "after the abort marker expired")
	if m, _ := filepath.Glob(filepath.Join(dir, "*.txnindex")); len(m) != 0 {
		t.Fatalf("%v left for the removed abort marker", m)
	}
	l.Close()
	check(openLog(t, dir), "reopened")
}

// TestCompactStopsAtTheFirstUnstableOffset: while a transaction is open, a
// record after its first offset supersedes nothing, so a read_committed
// consumer (which reads up to there) still finds every key's latest value.
func TestCompactStopsAtTheFirstUnstableOffset(t *testing.T) {
	now := time.Now()
	ms := now.UnixMilli()
	l := openLog(t, t.TempDir(), func(o *Options) { o.Config.SegmentBytes = 300; o.Now = func() time.Time { return now } })
	mustAppend(t, l, keyed(ms, "k1=a", "k2=a")) // 0-1
	mustAppend(t, l, keyed(ms, "k2=b"))         // 2 supersedes k2=a
	for i := 0; i < 4; i++ {
		mustAppend(t, l, keyed(ms, fmt.Sprintf("f%d=%d", i, i)))
	}
	open := mustAppend(t, l, keyedTxn(5, 0, 0, ms, "k3=t")) // opens a transaction
	mustAppend(t, l, keyed(ms, "k1=later"))                 // above the first unstable offset
	for i := 4; i < 10; i++ {
		mustAppend(t, l, keyed(ms, fmt.Sprintf("f%d=%d", i, i)))
	}
	if got := l.LastStableOffset(); got != open.BaseOffset {
		t.Fatalf("LSO %d, want %d", got, open.BaseOffset)
	}
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	var below []string
	for _, r := range readAll(t, l) {
		if r.Offset < open.BaseOffset && !strings.HasPrefix(string(r.Key), "f") {
			below = append(below, string(r.Key)+"="+string(r.Value))
		}
	}
	if want := []string{"k1=a", "k2=b"}; !slices.Equal(below, want) {
		t.Fatalf("below the first unstable offset: %v, want %v", below, want)
	}
	// Once the transaction ends, k1=later supersedes k1=a.
	mustMarker(t, l, 5, 0, true)
	for i := 10; i < 16; i++ {
		mustAppend(t, l, keyed(ms, fmt.Sprintf("f%d=%d", i, i)))
	}
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, r := range readAll(t, l) {
		if string(r.Key) == "k1" && string(r.Value) == "a" {
			t.Fatal("k1=a outlived k1=later once the transaction ended")
		}
	}
}

// TestCompactKeepsAnEmptiedProducerBatchAsAHeader: a producer's last batch
// whose records are all superseded stays as a header with no records (as
// Kafka's cleaner leaves it): its offsets and sequence survive, recovery
// reads it, and the producer state rebuilt from it accepts the next sequence.
func TestCompactKeepsAnEmptiedProducerBatchAsAHeader(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ms := now.UnixMilli()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 300; o.Now = func() time.Time { return now } })
	idem := func(seq int32, kv string) []byte {
		b := keyed(ms, kv)
		binary.BigEndian.PutUint64(b[offProducerID:], 3)
		binary.BigEndian.PutUint32(b[offBaseSeq:], uint32(seq))
		return withCRC(b)
	}
	first := mustAppend(t, l, idem(0, "k1=a"))
	mustAppend(t, l, keyed(ms, "k1=b"))
	for i := 0; i < 6; i++ {
		mustAppend(t, l, keyed(ms, fmt.Sprintf("f%d=%d", i, i)))
	}
	if n, err := l.Compact(24 * time.Hour); err != nil || n == 0 {
		t.Fatalf("Compact removed %d: %v", n, err)
	}
	check := func(l *Log, when string) {
		t.Helper()
		b := storedBatches(t, l)[0]
		if b.info.BaseOffset != first.BaseOffset || b.info.LastOffset != first.LastOffset || b.info.ProducerID != 3 || len(b.recs) != 0 {
			t.Fatalf("%s: first batch %+v with %d records, want producer 3's header alone", when, b.info, len(b.recs))
		}
	}
	check(l, "compacted")
	end := l.EndOffset()
	l.Close()
	os.Remove(filepath.Join(dir, producersFile)) // the state is rebuilt from the batches
	l = openLog(t, dir)
	check(l, "reopened")
	if l.EndOffset() != end {
		t.Fatalf("recovery moved the end from %d to %d", end, l.EndOffset())
	}
	if _, err := l.Append(idem(5, "k1=gap")); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("sequence 5 after 0: %v, want ErrOutOfOrderSequence", err)
	}
	mustAppend(t, l, idem(1, "k1=c"))
}

// TestCompactMergesSegments: cleaned segments are merged up to segment.bytes,
// so the files on disk are few; records, reads from the middle and a reopen
// agree, and the log goes on taking appends and compactions.
func TestCompactMergesSegments(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ms := now.UnixMilli()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 1000; o.Now = func() time.Time { return now } })
	latest := map[string]int64{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("k%d", i%7)
		latest[k] = mustAppend(t, l, keyed(ms, fmt.Sprintf("%s=%d", k, i))).BaseOffset
	}
	segsBefore := len(l.segs)
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	logs := func() int {
		m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		return len(m)
	}
	if len(l.segs) > 3 || logs() != len(l.segs) {
		t.Fatalf("%d segments before compaction, %d after (%d .log files)", segsBefore, len(l.segs), logs())
	}
	check := func(l *Log, when string) {
		t.Helper()
		got := map[string]int64{}
		for _, r := range readAll(t, l) {
			if prev, ok := got[string(r.Key)]; ok && string(r.Key) != "k6" && prev >= r.Offset {
				t.Fatalf("%s: offsets out of order for %s", when, r.Key)
			}
			got[string(r.Key)] = r.Offset
		}
		if !maps.Equal(got, latest) {
			t.Fatalf("%s: latest offsets %v, want %v", when, got, latest)
		}
		for k, off := range latest { // reads that start at a kept record find it first
			data, err := l.Read(off, 1)
			if err != nil {
				t.Fatal(err)
			}
			b, _, _, _ := NextBatch(data)
			if info, _ := Info(b); info.BaseOffset > off || info.LastOffset < off {
				t.Fatalf("%s: read at %d (%s) returned the batch %d-%d", when, off, k, info.BaseOffset, info.LastOffset)
			}
		}
	}
	check(l, "merged")
	l.Close()
	l = openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 1000; o.Now = func() time.Time { return now } })
	check(l, "reopened")
	for i := 300; i < 400; i++ {
		k := fmt.Sprintf("k%d", i%7)
		latest[k] = mustAppend(t, l, keyed(ms, fmt.Sprintf("%s=%d", k, i))).BaseOffset
	}
	if _, err := l.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	check(l, "appended and compacted again")
	if logs() != len(l.segs) || len(l.segs) > 4 {
		t.Fatalf("%d segments, %d .log files", len(l.segs), logs())
	}
}

// TestOpenFinishesAnInterruptedMerge: a crash after a merged segment was
// fsynced and renamed to .swap, with some of the segments it replaces already
// deleted, is finished by Open; a torn .swap keeps its whole batches and the
// segments past them.
func TestOpenFinishesAnInterruptedMerge(t *testing.T) {
	for _, torn := range []bool{false, true} {
		t.Run(fmt.Sprintf("torn=%v", torn), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 300 })
			for i := 0; i < 40; i++ {
				mustAppend(t, l, batch(fmt.Sprintf("v%d", i)))
			}
			want := readAll(t, l)
			var bases []int64
			for _, s := range l.segs {
				bases = append(bases, s.base)
			}
			l.Close()
			if len(bases) < 6 {
				t.Fatalf("only %d segments", len(bases))
			}
			// The merge of segments 1-3 reached its commit point; segment 2 is
			// already gone.
			var swap []byte
			for _, b := range bases[1:4] {
				data, err := os.ReadFile(segmentName(dir, b, ".log"))
				if err != nil {
					t.Fatal(err)
				}
				swap = append(swap, data...)
			}
			if torn {
				swap = swap[:len(swap)-7] // the last batch of segment 3 is cut
			} else {
				removeSegmentFiles(dir, bases[2])
			}
			if err := os.WriteFile(segmentName(dir, bases[1], ".log")+swapSuffix, swap, 0o644); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir)
			if got := readAll(t, l); !reflect.DeepEqual(got, want) {
				t.Fatalf("after the interrupted merge: %d records, want %d", len(got), len(want))
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*"+swapSuffix)); len(m) != 0 {
				t.Fatalf("left behind: %v", m)
			}
			wantSegs := len(bases) - 2 // segments 1-3 became one
			if torn {
				wantSegs = len(bases) - 1 // segment 3 stays whole: the swap file lost a batch of it
			}
			if len(l.segs) != wantSegs {
				t.Fatalf("%d segments after finishing the merge, want %d", len(l.segs), wantSegs)
			}
		})
	}
}
