package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// recrc makes b's length and CRC32C consistent again after a test edited it,
// so that validation gets past the header to the records.
func recrc(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func nowLimits() Limits {
	return Limits{NowMs: time.Now().UnixMilli(), TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: 3600000, MaxInflatedBytes: 1 << 20}
}

func TestValidateRecordsAcceptsEveryCodec(t *testing.T) {
	now := time.Now().UnixMilli()
	for _, codec := range []int{batchtest.None, batchtest.Gzip, batchtest.Snappy, batchtest.SnappyRaw, batchtest.Lz4, batchtest.Zstd} {
		b := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: now, StepMs: 3, Codec: codec, Values: []string{"a", "bb", strings.Repeat("c", 5000)}})
		if err := ValidateRecords(b, nowLimits()); err != nil {
			t.Errorf("codec %d: %v", codec, err)
		}
	}
}

func TestValidateRecordsRefusesLyingBatches(t *testing.T) {
	now := time.Now().UnixMilli()
	build := func(s batchtest.Spec) []byte {
		s.ProducerID = -1
		if s.TimestampMs == 0 {
			s.TimestampMs = now
		}
		return batchtest.Build(s)
	}
	one := build(batchtest.Spec{Values: []string{"x"}})
	twoClaimed := append([]byte(nil), one...) // header says 2 records, holds 1
	binary.BigEndian.PutUint32(twoClaimed[offLastDelta:], 1)
	binary.BigEndian.PutUint32(twoClaimed[offCount:], 2)
	huge := append([]byte(nil), one...) // 2^31-1 records claimed
	binary.BigEndian.PutUint32(huge[offLastDelta:], math.MaxInt32-1)
	binary.BigEndian.PutUint32(huge[offCount:], math.MaxInt32)
	gz := build(batchtest.Spec{Codec: batchtest.Gzip, Values: []string{"x", "y"}})
	garbage := append(append([]byte(nil), gz[:batchHeaderSize]...), 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3, 4, 5)
	trailing := append(append([]byte(nil), one...), 0)
	badOffset := build(batchtest.Spec{Values: []string{"x", "y"}})
	idx := bytes.LastIndex(badOffset[batchHeaderSize:], []byte{0, 0, 2}) // attrs 0, ts delta 0, offset delta 1 (zigzag 2)
	badOffset[batchHeaderSize+idx+2] = 4                                 // offset delta 2
	future := build(batchtest.Spec{TimestampMs: now + 2*3600000, Values: []string{"x"}})
	year2500 := build(batchtest.Spec{TimestampMs: 16725225600000, Values: []string{"x"}})
	maxTsLie := append([]byte(nil), one...)
	binary.BigEndian.PutUint64(maxTsLie[offMaxTs:], uint64(16725225600000))
	var zeros bytes.Buffer // a bomb: 8 MiB of zeros in one record, a few KiB on the wire
	zw := gzip.NewWriter(&zeros)
	body := []byte{0, 0, 0, 1}
	body = binary.AppendVarint(body, 8<<20)
	rec := binary.AppendVarint(nil, int64(len(body)+8<<20+1))
	zw.Write(append(rec, body...))
	zw.Write(make([]byte, 8<<20))
	zw.Write([]byte{0})
	zw.Close()
	bomb := append(append([]byte(nil), gz[:batchHeaderSize]...), zeros.Bytes()...)
	binary.BigEndian.PutUint32(bomb[offLastDelta:], 0)
	binary.BigEndian.PutUint32(bomb[offCount:], 1)
	binary.BigEndian.PutUint64(bomb[offMaxTs:], uint64(now))
	appendTime := append([]byte(nil), one...)
	binary.BigEndian.PutUint16(appendTime[offAttributes:], 0x08)
	idemNoSeq := batchtest.Build(batchtest.Spec{ProducerID: 7, Sequence: -1, TimestampMs: now, Values: []string{"x"}})

	compacted := nowLimits()
	compacted.KeyRequired = true
	for _, tc := range []struct {
		name string
		b    []byte
		lim  Limits
		want error
	}{
		{"count 2 holds 1", recrc(twoClaimed), nowLimits(), ErrInvalidRecord},
		{"count 2^31-1", recrc(huge), nowLimits(), ErrInvalidRecord},
		{"gzip garbage", recrc(garbage), nowLimits(), ErrCorruptBatch},
		{"bytes after the last record", recrc(trailing), nowLimits(), ErrInvalidRecord},
		{"offset delta skips", recrc(badOffset), nowLimits(), ErrInvalidRecord},
		{"an hour and more ahead", future, nowLimits(), ErrInvalidTimestamp},
		{"year 2500", year2500, nowLimits(), ErrInvalidTimestamp},
		{"MaxTimestamp lies", recrc(maxTsLie), nowLimits(), ErrInvalidTimestamp},
		{"decompression bomb", recrc(bomb), nowLimits(), ErrRecordTooLarge},
		{"LogAppendTime from a producer", recrc(appendTime), nowLimits(), ErrInvalidTimestamp},
		{"idempotent without a sequence", idemNoSeq, nowLimits(), ErrInvalidRecord},
		{"no key on a compacted topic", one, compacted, ErrInvalidRecord},
		{"bad CRC first", twoClaimed[:len(twoClaimed)-1], nowLimits(), ErrCorruptBatch},
	} {
		err := ValidateRecords(tc.b, tc.lim)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	old := build(batchtest.Spec{TimestampMs: 1, Values: []string{"x"}})
	if err := ValidateRecords(old, nowLimits()); err != nil {
		t.Errorf("an old timestamp with before.max.ms unlimited: %v", err)
	}
	lim := nowLimits()
	lim.TimestampBeforeMaxMs = 1000
	if err := ValidateRecords(old, lim); !errors.Is(err, ErrInvalidTimestamp) {
		t.Errorf("an old timestamp with before.max.ms=1000: %v", err)
	}
}

// BenchmarkValidateRecords is the cost produce pays per batch: 100 records
// of 100 bytes, uncompressed and zstd.
func BenchmarkValidateRecords(b *testing.B) {
	vals := make([]string, 100)
	for i := range vals {
		vals[i] = strings.Repeat(string(rune('a'+i%26)), 100)
	}
	for _, c := range []struct {
		name  string
		codec int
	}{{"none", batchtest.None}, {"zstd", batchtest.Zstd}, {"gzip", batchtest.Gzip}} {
		batch := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: time.Now().UnixMilli(), Codec: c.codec, Values: vals})
		b.Run(c.name, func(b *testing.B) {
			lim := nowLimits()
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			for b.Loop() {
				if err := ValidateRecords(batch, lim); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Issue 15 item 5: a stored batch that inflates far (written before produce
// validated records) costs a lookup by timestamp only what it reads: the
// record it wants comes first, and the rest is never inflated.
func TestOffsetForTimestampStreamsCompressedBatches(t *testing.T) {
	l := openLog(t, t.TempDir())
	now := time.Now().UnixMilli()
	first := []byte{0, 0, 0, 2} // attrs, ts delta 0, offset delta 0, key null (-1 = 1)
	first[3] = 1
	first = append(first, binary.AppendVarint(nil, 1)...)
	first = append(first, 'a', 0)
	first = append(binary.AppendVarint(nil, int64(len(first))), first...)
	const big = 300 << 20
	second := []byte{0, 2, 2, 1} // ts delta 1, offset delta 1, key null
	second = binary.AppendVarint(second, big)
	var z bytes.Buffer
	zw, _ := zstd.NewWriter(&z, zstd.WithEncoderLevel(zstd.SpeedFastest))
	zw.Write(first)
	zw.Write(binary.AppendVarint(nil, int64(len(second)+big+1)))
	zw.Write(second)
	zeros := make([]byte, 1<<20)
	for i := 0; i < big>>20; i++ {
		zw.Write(zeros)
	}
	zw.Write([]byte{0})
	zw.Close()
	b := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: now, StepMs: 1, Codec: batchtest.Zstd, Values: []string{"a", "b"}})
	b = recrc(append(b[:batchHeaderSize:batchHeaderSize], z.Bytes()...))
	if _, err := l.Append(b); err != nil { // the log checks only the header
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	off, ts, found, err := l.OffsetForTimestamp(now)
	runtime.ReadMemStats(&after)
	if err != nil || !found || off != 0 || ts != now {
		t.Fatalf("lookup: offset %d ts %d found %v err %v", off, ts, found, err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
		t.Fatalf("the lookup allocated %d MiB", grown>>20)
	}
}

// AppendChecked stores what CheckRecords accepted exactly as Append would
// (offsets assigned, the bytes read back the same); it refuses a Checked
// that CheckRecords did not make, and CheckRecords refuses what
// ValidateRecords refuses.
func TestAppendCheckedStoresWhatAppendWould(t *testing.T) {
	a, b := openLog(t, t.TempDir()), openLog(t, t.TempDir())
	for i := range 5 {
		batch := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: time.Now().UnixMilli(), StepMs: 1, Values: []string{fmt.Sprint("v", i), "w"}})
		ra, err := a.Append(append([]byte(nil), batch...))
		if err != nil {
			t.Fatal(err)
		}
		c, err := CheckRecords(batch, nowLimits())
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.AppendChecked(c)
		if err != nil {
			t.Fatal(err)
		}
		if ra.BaseOffset != rb.BaseOffset || ra.LastOffset != rb.LastOffset {
			t.Fatalf("batch %d: Append gave %+v, AppendChecked %+v", i, ra, rb)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	da, _ := a.Read(0, 1<<20)
	db, _ := b.Read(0, 1<<20)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Fatalf("the two logs hold different bytes (%d and %d)", len(da), len(db))
	}
	if _, err := b.AppendChecked(Checked{}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("a zero Checked: %v", err)
	}
	bad := batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: time.Now().UnixMilli(), Values: []string{"x"}})
	bad[len(bad)-1] ^= 1 // the CRC no longer matches
	if _, err := CheckRecords(bad, nowLimits()); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("a batch with a wrong CRC: %v", err)
	}
	if err := ValidateRecords(bad, nowLimits()); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("ValidateRecords of a batch with a wrong CRC: %v", err)
	}
}
