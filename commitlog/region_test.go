package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// regionBytes reads a region and closes it.
func regionBytes(t *testing.T, r *Region) []byte {
	t.Helper()
	defer r.Close()
	b, err := r.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lastNext is the offset after the last batch of raw batches.
func lastNext(data []byte) int64 {
	next := int64(-1)
	for rest := data; ; {
		_, r, n, ok := NextBatch(rest)
		if !ok {
			return next
		}
		next, rest = n, r
	}
}

// cutAt is readCommitted's cut: the batches of data before the first whose
// base offset is at or above stop, and the offset after the last kept.
func cutAt(data []byte, stop int64) ([]byte, int64) {
	n, next := 0, int64(-1)
	for rest := data; ; {
		b, r, nx, ok := NextBatch(rest)
		if !ok {
			break
		}
		if info, _ := Info(b); info.BaseOffset >= stop {
			break
		}
		n, next, rest = n+len(b), nx, r
	}
	return data[:n], next
}

// TestReadRegionCutsAsRead compares ReadRegion with Read (cut at stop as
// read_committed cuts) for every offset, a spread of maxBytes and stops,
// over batches of varying size across segment rolls with a dense index,
// before and after compaction leaves gaps in the offsets.
func TestReadRegionCutsAsRead(t *testing.T) {
	now := time.Now()
	l := openLog(t, t.TempDir(), func(o *Options) {
		o.Config.SegmentBytes, o.Config.IndexIntervalBytes = 2000, 150
		o.Now = func() time.Time { return now }
	})
	for i := range 60 {
		var recs []Record
		for j := range 1 + i%4 {
			recs = append(recs, Record{TimestampMs: now.UnixMilli(), Key: []byte(fmt.Sprintf("k%d", (i+j)%7)), Value: []byte(fmt.Sprintf("v%03d-%d-%s", i, j, bytes.Repeat([]byte{'x'}, i*3%50)))})
		}
		mustAppend(t, l, EncodeBatch(now.UnixMilli(), recs))
	}
	if l.Segments() < 3 {
		t.Fatalf("want several segments, got %d", l.Segments())
	}
	compare := func(stage string) {
		hw := l.HighWatermark()
		for off := l.StartOffset(); off <= hw; off++ {
			for _, max := range []int{0, 1, 61, 100, 250, 700, 1999, 5000, 1 << 20} {
				for _, stop := range []int64{1 << 62, hw, off + 1, off + 5, off + 17, off} {
					data, err := l.Read(off, max)
					if err != nil {
						t.Fatal(err)
					}
					want, wantNext := cutAt(data, stop)
					r, err := l.ReadRegion(off, max, stop)
					if err != nil {
						t.Fatal(err)
					}
					next := r.Next
					got := regionBytes(t, &r)
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: offset %d max %d stop %d: region has %d bytes, Read %d", stage, off, max, stop, len(got), len(want))
					}
					if len(want) > 0 && next != wantNext {
						t.Fatalf("%s: offset %d max %d stop %d: Next %d, want %d", stage, off, max, stop, next, wantNext)
					}
				}
			}
		}
		if _, err := l.ReadRegion(hw+1, 100, 1<<62); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("past the end: %v", err)
		}
	}
	compare("appended")
	if n, err := l.Compact(time.Hour); err != nil || n == 0 {
		t.Fatalf("compaction removed %d records: %v", n, err)
	}
	compare("compacted")
}

// TestReadRegionStop: no batch whose base offset is at or above stop.
func TestReadRegionStop(t *testing.T) {
	l := openLog(t, t.TempDir())
	for i := range 10 {
		mustAppend(t, l, batch(fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i))) // offsets 2i, 2i+1
	}
	for stop := int64(0); stop <= 21; stop++ {
		r, err := l.ReadRegion(0, 1<<20, stop)
		if err != nil {
			t.Fatal(err)
		}
		next := r.Next
		data := regionBytes(t, &r)
		wantBatches := (stop + 1) / 2 // batches with base 2i < stop
		if wantBatches > 10 {
			wantBatches = 10
		}
		n := int64(0)
		for rest := data; ; {
			b, r, _, ok := NextBatch(rest)
			if !ok {
				break
			}
			if info, _ := Info(b); info.BaseOffset >= stop {
				t.Fatalf("stop %d: batch at %d returned", stop, info.BaseOffset)
			}
			n, rest = n+1, r
		}
		if n != wantBatches || n > 0 && next != 2*n {
			t.Fatalf("stop %d: %d batches (want %d), next %d", stop, n, wantBatches, next)
		}
	}
}

// TestRegionOutlivesRetentionAndCompaction: a region taken before its
// segment is deleted or rewritten still reads the bytes it named.
func TestRegionOutlivesRetentionAndCompaction(t *testing.T) {
	now := time.Now()
	l := openLog(t, t.TempDir(), func(o *Options) {
		o.Config.SegmentBytes = 400
		o.Now = func() time.Time { return now }
	})
	for i := range 40 {
		mustAppend(t, l, EncodeBatch(now.UnixMilli(), []Record{{TimestampMs: now.UnixMilli(), Key: []byte(fmt.Sprintf("k%d", i%3)), Value: []byte(fmt.Sprintf("value-%02d", i))}}))
	}
	want, err := l.Read(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.ReadRegion(0, 1<<20, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	mid := l.HighWatermark() / 2
	wantMid, _ := l.Read(mid, 1<<20)
	second, err := l.ReadRegion(mid, 1<<20, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Compact(time.Hour); err != nil {
		t.Fatal(err)
	}
	wantCompacted, _ := l.Read(0, 1<<20)
	third, err := l.ReadRegion(0, 1<<20, 1<<62) // of the rewritten file, which deletion closes
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRecords(l.HighWatermark() - 1); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() <= mid {
		t.Fatalf("start %d: the test needs the regions' segments deleted", l.StartOffset())
	}
	if got := regionBytes(t, &first); !bytes.Equal(got, want) {
		t.Fatalf("region of a deleted segment reads %d bytes, want the %d it named", len(got), len(want))
	}
	if got := regionBytes(t, &second); !bytes.Equal(got, wantMid) {
		t.Fatalf("region of a compacted then deleted segment reads other bytes")
	}
	if got := regionBytes(t, &third); !bytes.Equal(got, wantCompacted) {
		t.Fatalf("region of a deleted segment (compacted before) reads other bytes")
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.ReadRegion(0, 100, 1<<62); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("below the start after deletion: %v", err)
	}
}

// TestReadRegionBoundedByLogicalSize: bytes past the segment's logical size
// (a preallocated zero tail, or anything else) are never in a region.
func TestReadRegionBoundedByLogicalSize(t *testing.T) {
	l := openLog(t, t.TempDir())
	mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: 1000, Values: []string{"one"}}))
	l.mu.RLock()
	s := l.active()
	f, size := s.f, s.size
	l.mu.RUnlock()
	if _, err := f.WriteAt(make([]byte, 4096), size); err != nil { // a zero tail past the log
		t.Fatal(err)
	}
	r, err := l.ReadRegion(0, 1<<20, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if r.Len != size || r.Pos != 0 {
		t.Fatalf("region %d+%d, want 0+%d", r.Pos, r.Len, size)
	}
	r.Close()
}
