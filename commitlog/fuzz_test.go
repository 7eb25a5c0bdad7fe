package commitlog

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// FuzzRecovery writes arbitrary bytes as a segment file (after some valid
// batches) and opens the log: Open must not panic, what it keeps must be
// CRC-valid batches, and appends must go on.
func FuzzRecovery(f *testing.F) {
	second := batch("c")
	binary.BigEndian.PutUint64(second, 2) // offsets as the log assigned them
	good := append(batch("a", "b"), second...)
	f.Add([]byte{})
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(append(append([]byte(nil), good...), 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 100))
	f.Add(batchtest.Build(batchtest.Spec{ProducerID: 3, Codec: batchtest.Zstd, Values: []string{"z"}}))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		seg := append(append([]byte(nil), good...), tail...)
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000000.log"), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(Options{Dir: dir, Fsync: FsyncPolicy{Mode: FsyncNever}, Logger: quiet(), Config: Config{IndexIntervalBytes: 64}})
		if err != nil {
			return // refusing to open is a clear error, not a crash
		}
		defer l.crash() // no fsyncs: keeps the fuzzer fast
		if l.EndOffset() < 3 || l.StartOffset() != 0 {
			t.Fatalf("recovery lost the valid prefix: end %d", l.EndOffset())
		}
		data, err := l.Read(0, 1<<30)
		for err == nil && len(data) > 0 {
			n := int(binary.BigEndian.Uint32(data[8:])) + 12
			if _, verr := validateBatch(data[:n]); verr != nil {
				t.Fatalf("recovered log holds an invalid batch: %v", verr)
			}
			data = data[n:]
		}
		r, err := l.Append(batch("after"))
		if err != nil || r.BaseOffset != l.EndOffset()-1 {
			t.Fatalf("append after recovery: %+v %v", r, err)
		}
		if err := l.WaitDurable(context.Background(), r.LastOffset+1); err != nil {
			t.Fatal(err)
		}
		if data, err := l.Read(r.BaseOffset, 1); err != nil || binary.BigEndian.Uint64(data) != uint64(r.BaseOffset) {
			t.Fatalf("read back the append: %v", err)
		}
	})
}

// FuzzRecords decodes arbitrary bytes as a record batch: errors are fine, panics are not.
func FuzzRecords(f *testing.F) {
	for _, c := range []int{batchtest.None, batchtest.Gzip, batchtest.Snappy, batchtest.SnappyRaw, batchtest.Lz4, batchtest.Zstd} {
		f.Add(batchtest.Build(batchtest.Spec{ProducerID: -1, Codec: c, Values: []string{"hello", "world"}}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Records(b)
	})
}

// FuzzAppend feeds arbitrary bytes to Append: a bad batch is refused with an
// error and leaves the log as it was.
func FuzzAppend(f *testing.F) {
	f.Add(batch("x"))
	f.Add(batchtest.Build(batchtest.Spec{ProducerID: 1, Sequence: 5, Values: []string{"y"}}))
	l, err := Open(Options{Dir: f.TempDir(), Fsync: FsyncPolicy{Mode: FsyncNever}, Logger: quiet()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		before := l.EndOffset()
		r, err := l.Append(b)
		if err != nil && l.EndOffset() != before {
			t.Fatalf("a refused append moved the end offset from %d to %d", before, l.EndOffset())
		}
		if err == nil && !r.Duplicate && r.BaseOffset != before {
			t.Fatalf("appended at %d, end was %d", r.BaseOffset, before)
		}
	})
}

// FuzzValidateRecords feeds arbitrary record bytes behind a batch header
// whose length and CRC are made to match (so the fuzzer reaches the records):
// validation must not panic, and a batch it accepts must decode, through the
// reader every consumer of the log uses, to exactly the records its header
// declares, at consecutive offsets, with timestamps up to its MaxTimestamp.
func FuzzValidateRecords(f *testing.F) {
	for _, codec := range []int{batchtest.None, batchtest.Gzip, batchtest.Snappy, batchtest.Lz4, batchtest.Zstd} {
		b := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: 1000, StepMs: 1, Codec: codec, Values: []string{"a", "bc"}})
		f.Add(b[batchHeaderSize:], uint16(codec), int32(2), int64(1001))
	}
	f.Add([]byte{2, 0, 0, 0, 1, 1, 0, 0}, uint16(0), int32(2), int64(1000))
	f.Fuzz(func(t *testing.T, records []byte, attrs uint16, count int32, maxTs int64) {
		b := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: 1000, Values: []string{"x"}})[:batchHeaderSize]
		b = append(b, records...)
		binary.BigEndian.PutUint16(b[offAttributes:], attrs&0x07)
		binary.BigEndian.PutUint32(b[offLastDelta:], uint32(count-1))
		binary.BigEndian.PutUint32(b[offCount:], uint32(count))
		binary.BigEndian.PutUint64(b[offMaxTs:], uint64(maxTs))
		recrc(b)
		lim := Limits{NowMs: 5000, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: 3600000, MaxInflatedBytes: 1 << 20}
		if err := ValidateRecords(b, lim); err != nil {
			return
		}
		recs, err := Records(b)
		if err != nil {
			t.Fatalf("validation accepted a batch the reader cannot decode: %v", err)
		}
		if len(recs) != int(count) {
			t.Fatalf("accepted batch declares %d records, holds %d", count, len(recs))
		}
		for i, r := range recs {
			if r.Offset != int64(i) || r.TimestampMs > maxTs {
				t.Fatalf("record %d: offset %d, timestamp %d (max %d)", i, r.Offset, r.TimestampMs, maxTs)
			}
		}
	})
}

// FuzzCompact appends the operations its input spells (plain records and
// tombstones of four keys, transactional records of two producers, their
// commits and aborts), compacts, and checks that what a read_committed
// consumer makes of the log is unchanged: every key's latest value below the
// last stable offset. So are the LSO and the open transactions, after tombstones
// and markers expire too, and after a reopen; every batch left is valid.
func FuzzCompact(f *testing.F) {
	f.Add([]byte{0, 5, 2, 7, 3, 12, 4, 0, 1, 2, 3, 10, 17, 8})
	f.Add([]byte{2, 2, 7, 4, 0, 0, 5, 2, 3, 1, 6, 9, 14, 2})
	f.Add([]byte{0, 2, 12, 7, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 300 {
			ops = ops[:300]
		}
		dir := t.TempDir()
		now := time.Now()
		ms := now.UnixMilli()
		opts := Options{Dir: dir, Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet(), Config: Config{SegmentBytes: 200},
			Now: func() time.Time { return now }}
		l, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { l.Close() }()
		seq := map[int64]int32{}
		for i, b := range ops {
			kind, arg := b%5, int(b/5)
			key := fmt.Sprintf("k%d", arg%4)
			val := fmt.Sprintf("v%d", i)
			var err error
			switch kind {
			case 0:
				_, err = l.Append(keyed(ms, key+"="+val))
			case 1:
				_, err = l.Append(EncodeBatch(ms, []Record{{TimestampMs: ms, Key: []byte(key)}}))
			case 2:
				pid := int64(1 + arg%2)
				_, err = l.Append(keyedTxn(pid, 0, seq[pid], ms, fmt.Sprintf("k%d=%s", (arg/2)%4, val)))
				seq[pid]++
			case 3, 4:
				_, err = l.AppendMarker(int64(1+arg%2), 0, kind == 3, 0)
			}
			if err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
		}
		if err := l.WaitDurable(context.Background(), l.EndOffset()); err != nil {
			t.Fatal(err)
		}
		want, lso, open := committedView(t, l), l.LastStableOffset(), l.OpenTxns()
		check := func(l *Log, when string) {
			t.Helper()
			if got := committedView(t, l); !maps.Equal(got, want) {
				t.Fatalf("%s: read_committed view\n got %v\nwant %v", when, got, want)
			}
			if got := l.LastStableOffset(); got != lso {
				t.Fatalf("%s: LSO %d, want %d", when, got, lso)
			}
			if got := l.OpenTxns(); !maps.Equal(got, open) {
				t.Fatalf("%s: open transactions %v, want %v", when, got, open)
			}
		}
		if _, err := l.Compact(24 * time.Hour); err != nil {
			t.Fatal(err)
		}
		check(l, "compacted")
		now = now.Add(48 * time.Hour)
		if _, err := l.Compact(24 * time.Hour); err != nil {
			t.Fatal(err)
		}
		check(l, "compacted past delete.retention.ms")
		l.Close()
		if l, err = Open(opts); err != nil {
			t.Fatal(err)
		}
		check(l, "reopened")
	})
}

// committedView is what a read_committed consumer reading the whole log
// makes of it, Kafka's way: batches up to the LSO, skipping a producer's
// transactional batches from the first offset of each aborted transaction
// the log lists (in order of first offset) until that producer's abort marker; the latest value of each
// key (a tombstone deletes). Every batch read must be valid.
func committedView(t *testing.T, l *Log) map[string]string {
	t.Helper()
	lso := l.LastStableOffset()
	aborted := l.AbortedTxns(l.StartOffset(), lso)
	slices.SortFunc(aborted, func(a, b AbortedTxn) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) }) // as the consumer queues them
	skipping := map[int64]bool{}
	out := map[string]string{}
	prev := int64(-1)
	for off := l.StartOffset(); off < lso; {
		data, err := l.Read(off, 1<<20)
		if err != nil || len(data) == 0 {
			t.Fatalf("read at %d: %v", off, err)
		}
		for len(data) > 0 && off < lso {
			b, rest, next, ok := NextBatch(data)
			if !ok {
				break
			}
			h := parseHeader(b)
			if h.size() != int64(len(b)) || b[offMagic] != 2 || binary.BigEndian.Uint32(b[offCRC:]) != crc32.Checksum(b[offAttributes:], castagnoli) ||
				h.count < 0 || (h.count > 0 && h.lastDelta < h.count-1) {
				t.Fatalf("invalid batch at %d: %+v", off, h)
			}
			if h.base <= prev {
				t.Fatalf("batch at %d after one ending at %d", h.base, prev)
			}
			prev = h.last()
			for len(aborted) > 0 && aborted[0].FirstOffset <= h.last() {
				skipping[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			recs, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case h.attrs&attrControl != 0:
				if typ, _ := ControlType(recs[0].Key); typ == ControlAbort {
					delete(skipping, h.producerID)
				}
			case h.attrs&attrTransactional != 0 && skipping[h.producerID]:
			default:
				for _, r := range recs {
					if r.Offset >= lso {
						break
					}
					if r.Value == nil {
						delete(out, string(r.Key))
					} else {
						out[string(r.Key)] = string(r.Value)
					}
				}
			}
			off, data = next, rest
		}
	}
	return out
}
