package commitlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// BenchmarkAppend appends batches of 16 records of 1 KiB: from one goroutine,
// and from many (each waiting for durability under fsync=always, which shows
// group commit as appends/fsync).
func BenchmarkAppend(b *testing.B) {
	vals := make([]string, 16)
	for i := range vals {
		vals[i] = strings.Repeat("x", 1024)
	}
	raw := batchtest.Build(batchtest.Spec{ProducerID: -1, Values: vals})
	for _, c := range []struct {
		name     string
		mode     FsyncMode
		parallel int // goroutines per GOMAXPROCS; 0 = one goroutine
	}{
		{"fsync=never/serial", FsyncNever, 0},
		{"fsync=never/parallel", FsyncNever, 1},
		{"fsync=always/serial", FsyncAlways, 0},
		{"fsync=always/parallel", FsyncAlways, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Fsync: FsyncPolicy{Mode: c.mode}, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			appendOne := func() {
				r, err := l.Append(raw)
				if err == nil {
					err = l.WaitDurable(context.Background(), r.LastOffset+1)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			if c.parallel == 0 {
				for b.Loop() {
					appendOne()
				}
			} else {
				b.SetParallelism(c.parallel)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						appendOne()
					}
				})
			}
			if c.mode == FsyncAlways {
				b.ReportMetric(float64(b.N)/float64(max(l.fsyncs.Load(), 1)), "appends/fsync")
			}
		})
	}
}

// BenchmarkRawPwrite is the floor Append is measured against: the same bytes
// written with one pwrite each and nothing else.
func BenchmarkRawPwrite(b *testing.B) {
	raw := make([]byte, 16*1024+1000)
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(raw)))
	var pos int64
	for b.Loop() {
		if _, err := f.WriteAt(raw, pos); err != nil {
			b.Fatal(err)
		}
		pos += int64(len(raw))
	}
}

// BenchmarkDurableAppendPrealloc appends 16 KiB batches one at a time, each
// waiting for its fsync, with each way of growing the segment file: the
// latency of an acknowledged append is one fsync, so p50/p99 show what the
// filesystem adds for a growing file. Run with -count to alternate modes.
func BenchmarkDurableAppendPrealloc(b *testing.B) {
	vals := make([]string, 16)
	for i := range vals {
		vals[i] = strings.Repeat("x", 1024)
	}
	raw := batchtest.Build(batchtest.Spec{ProducerID: -1, Values: vals})
	for _, mode := range []Prealloc{PreallocOff, PreallocFallocate, PreallocZero} {
		b.Run("preallocate="+mode.String(), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet(), Preallocate: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetBytes(int64(len(raw)))
			lats := make([]time.Duration, 0, 4096)
			for b.Loop() {
				t := time.Now()
				r, err := l.Append(raw)
				if err == nil {
					err = l.WaitDurable(context.Background(), r.LastOffset+1)
				}
				if err != nil {
					b.Fatal(err)
				}
				lats = append(lats, time.Since(t))
			}
			slices.Sort(lats)
			b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkCompactSegment cleans a log of two closed 16 MiB segments of 1 KiB
// keyed records where 100 keys of the first were written again in the
// second, so nearly all of the first is kept and it is rewritten: B/op shows
// what a pass holds in memory.
func BenchmarkCompactSegment(b *testing.B) {
	b.ReportAllocs()
	val := make([]byte, 1000)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		now := time.Now()
		l, err := Open(Options{Dir: b.TempDir(), Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet(),
			Config: Config{SegmentBytes: 16 << 20}, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		var recs []Record
		put := func(key string) {
			recs = append(recs, Record{TimestampMs: now.UnixMilli(), Key: []byte(key), Value: val})
			if len(recs) == 64 {
				if _, err := l.Append(EncodeBatch(now.UnixMilli(), recs)); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
			}
		}
		for k := 0; k < 24<<10; k++ {
			put(fmt.Sprint("k", k))
		}
		for k := 0; k < 100; k++ { // supersede 100 records of the first segment
			put(fmt.Sprint("k", k))
		}
		for k := 0; l.segs[len(l.segs)-1].base == l.segs[1].base; k++ { // until the second segment closes
			put(fmt.Sprint("f", k))
		}
		if err := l.WaitDurable(context.Background(), l.EndOffset()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := l.Compact(time.Hour); err != nil || n == 0 {
			b.Fatalf("Compact removed %d: %v", n, err)
		}
		b.StopTimer()
		l.Close()
	}
}
