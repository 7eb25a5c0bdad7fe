package commitlog

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/poll"
)

// fileSize is the length of a segment file on disk.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// warnings collects the log's warnings.
type warnings struct{ bytes.Buffer }

func (w *warnings) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&w.Buffer, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestRecoveryTreatsPreallocatedZeroTailAsEnd: a log killed with its active
// segment preallocated ahead of the appends (a tail of zeros on disk) opens
// with every acknowledged record, no torn-tail warning, the file cut back to
// its batches, and appends going on at the right offset. Both ways of
// preallocating are checked.
func TestRecoveryTreatsPreallocatedZeroTailAsEnd(t *testing.T) {
	for _, mode := range []Prealloc{PreallocZero, PreallocFallocate} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, func(o *Options) { o.Preallocate = mode })
			var want []string
			for i := range 50 {
				v := fmt.Sprintf("record-%03d-%s", i, strings.Repeat("x", 500))
				mustAppend(t, l, batch(v))
				want = append(want, v)
			}
			seg := segmentName(dir, 0, ".log")
			logical := l.Size()
			poll.Until(t, 10*time.Second, "the segment to be preallocated past its batches", func() bool {
				return fileSize(t, seg) > logical
			})
			l.crash()
			img := dir
			if got := fileSize(t, segmentName(img, 0, ".log")); got <= logical {
				t.Fatalf("crash image segment is %d bytes, want a preallocated tail past %d", got, logical)
			}

			var w warnings
			r := openLog(t, img, func(o *Options) { o.Preallocate = mode; o.Logger = w.logger() })
			if w.Len() != 0 {
				t.Fatalf("recovery warned about a preallocated tail:\n%s", w.String())
			}
			if r.EndOffset() != 50 || r.HighWatermark() != 50 {
				t.Fatalf("recovered end %d, high watermark %d, want 50", r.EndOffset(), r.HighWatermark())
			}
			if got := fileSize(t, segmentName(img, 0, ".log")); got != logical {
				t.Fatalf("recovered segment is %d bytes on disk, want it cut to its batches (%d)", got, logical)
			}
			if res := mustAppend(t, r, batch("after")); res.BaseOffset != 50 {
				t.Fatalf("first append after recovery at offset %d, want 50", res.BaseOffset)
			}
			got := readAll(t, r)
			if len(got) != 51 {
				t.Fatalf("read %d records after recovery, want 51", len(got))
			}
			for i, v := range want {
				if string(got[i].Value) != v || got[i].Offset != int64(i) {
					t.Fatalf("record %d is %q at offset %d", i, got[i].Value, got[i].Offset)
				}
			}
		})
	}
}

// TestZeroTailWithDataAfterItIsATear: zeros followed by bytes that are not
// zero are a torn or damaged tail, not preallocation: cut with a warning.
func TestZeroTailWithDataAfterItIsATear(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	for i := range 5 {
		mustAppend(t, l, batch(fmt.Sprint(i)))
	}
	size := l.Size()
	l.crash()
	img := dir
	seg := segmentName(img, 0, ".log")
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size + 64<<10)
	f.WriteAt([]byte{0x42}, size+32<<10)
	f.Close()
	var w warnings
	r := openLog(t, img, func(o *Options) { o.Logger = w.logger() })
	if !strings.Contains(w.String(), "torn or corrupt") {
		t.Fatalf("want a torn-tail warning, got %q", w.String())
	}
	if r.EndOffset() != 5 || fileSize(t, seg) != size {
		t.Fatalf("end %d, file %d bytes; want 5 and %d", r.EndOffset(), fileSize(t, seg), size)
	}
}

// TestEarlierSegmentZeroTailKeepsLaterSegments: a roll's trim that did not
// reach the disk leaves zeros after an earlier segment's batches; the later
// segment starts right after them, so nothing after it is dropped.
func TestEarlierSegmentZeroTailKeepsLaterSegments(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 2000 })
	for i := range 40 {
		mustAppend(t, l, batch(fmt.Sprintf("%03d-%s", i, strings.Repeat("y", 100))))
	}
	if l.Segments() < 3 {
		t.Fatalf("%d segments, want at least 3", l.Segments())
	}
	l.crash()
	img := dir
	first := segmentName(img, 0, ".log")
	if err := os.Truncate(first, fileSize(t, first)+8192); err != nil {
		t.Fatal(err)
	}
	var w warnings
	r := openLog(t, img, func(o *Options) { o.Logger = w.logger() })
	if w.Len() != 0 {
		t.Fatalf("recovery warned:\n%s", w.String())
	}
	if r.EndOffset() != 40 || len(readAll(t, r)) != 40 {
		t.Fatalf("recovered end %d, want all 40 records", r.EndOffset())
	}
}

// TestPreallocatedSegmentsTrimmedWhenInactive: a rolled segment and the
// active one at Close are exactly their batches on disk (so Kafka's tools,
// which read a file to its end, see no zeros), and nothing is preallocated
// with PreallocOff or with fsync=never.
func TestPreallocatedSegmentsTrimmedWhenInactive(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet(), Config: Config{SegmentBytes: 64 << 10}, Preallocate: PreallocZero})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustAppend(t, l, batch(fmt.Sprintf("%03d-%s", i, strings.Repeat("z", 1000))))
	}
	if l.Segments() < 3 {
		t.Fatalf("%d segments, want several", l.Segments())
	}
	l.mu.RLock()
	sizes := map[string]int64{}
	for _, s := range l.segs[:len(l.segs)-1] {
		sizes[segmentName(dir, s.base, ".log")] = s.size
	}
	l.mu.RUnlock()
	for path, size := range sizes {
		if got := fileSize(t, path); got != size {
			t.Errorf("rolled segment %s is %d bytes on disk, its batches %d", filepath.Base(path), got, size)
		}
	}
	total := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, p := range segs {
		onDisk += fileSize(t, p)
	}
	if onDisk != total {
		t.Fatalf("segments hold %d bytes on disk after Close, their batches %d", onDisk, total)
	}

	for name, o := range map[string]Options{
		"off":         {Fsync: FsyncPolicy{Mode: FsyncAlways}, Preallocate: PreallocOff},
		"zero, never": {Fsync: FsyncPolicy{Mode: FsyncNever}, Preallocate: PreallocZero},
	} {
		d := t.TempDir()
		o.Dir, o.Logger = d, quiet()
		l, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			mustAppend(t, l, batch(fmt.Sprint(i)))
		}
		time.Sleep(50 * time.Millisecond) // give a preallocator that should not exist time to show
		if got, want := fileSize(t, segmentName(d, 0, ".log")), l.Size(); got != want {
			t.Errorf("%s: segment is %d bytes on disk, its batches %d", name, got, want)
		}
		l.Close()
	}
}

func TestParsePrealloc(t *testing.T) {
	for in, want := range map[string]Prealloc{"": PreallocOff, "zero": PreallocZero, "fallocate": PreallocFallocate, "off": PreallocOff} {
		if got, err := ParsePrealloc(in); err != nil || got != want {
			t.Errorf("ParsePrealloc(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePrealloc("sometimes"); err == nil || !strings.Contains(err.Error(), "valid values") {
		t.Errorf("ParsePrealloc(sometimes) = %v", err)
	}
}
