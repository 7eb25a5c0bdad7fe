package commitlog

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

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
