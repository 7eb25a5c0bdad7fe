package commitlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openLog(t *testing.T, dir string, mod ...func(*Options)) *Log {
	t.Helper()
	o := Options{Dir: dir, Fsync: FsyncPolicy{Mode: FsyncAlways}, Logger: quiet()}
	for _, m := range mod {
		m(&o)
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func batch(values ...string) []byte {
	return batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: 1000, Values: values})
}

func mustAppend(t *testing.T, l *Log, b []byte) AppendResult {
	t.Helper()
	r, err := l.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitDurable(context.Background(), r.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	return r
}

// readAll reads every record from offset 0 through the public Read API.
func readAll(t *testing.T, l *Log) []Record {
	t.Helper()
	var out []Record
	for off := l.StartOffset(); off < l.HighWatermark(); {
		data, err := l.Read(off, 1<<20)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("read at %d returned nothing below the high watermark %d", off, l.HighWatermark())
		}
		for {
			b, rest, next, ok := NextBatch(data)
			if !ok {
				break
			}
			recs, err := Records(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				if r.Offset >= off {
					out = append(out, r)
				}
			}
			off, data = next, rest
		}
	}
	return out
}

func TestAppendReadRollReopen(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 1000 })
	for i := range 50 {
		r := mustAppend(t, l, batch(fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)))
		if r.BaseOffset != int64(2*i) || r.LastOffset != int64(2*i+1) {
			t.Fatalf("batch %d at %d-%d", i, r.BaseOffset, r.LastOffset)
		}
	}
	if len(l.segs) < 3 {
		t.Fatalf("expected segment rolls, have %d segments", len(l.segs))
	}
	check := func(l *Log) {
		recs := readAll(t, l)
		if len(recs) != 100 {
			t.Fatalf("read %d records, want 100", len(recs))
		}
		for i, r := range recs {
			want := fmt.Sprintf("%c%d", "ab"[i%2], i/2)
			if r.Offset != int64(i) || string(r.Value) != want {
				t.Fatalf("record %d: offset %d value %q, want %q", i, r.Offset, r.Value, want)
			}
		}
	}
	check(l)
	// A small maxBytes still returns the first whole batch (KIP-74), and only it.
	one, err := l.Read(10, 1)
	if err != nil || len(one) != len(batch("a5", "b5")) {
		t.Fatalf("Read with maxBytes 1: %d bytes, %v", len(one), err)
	}
	// Reading from the middle of a batch returns that batch.
	mid, _ := l.Read(11, 1)
	if binary.BigEndian.Uint64(mid) != 10 {
		t.Fatalf("batch holding offset 11 starts at %d", binary.BigEndian.Uint64(mid))
	}
	if _, err := l.Read(101, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past the end: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("Kafka segment file missing: %v", err)
		}
	}
	l2 := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 1000 })
	check(l2)
	if r := mustAppend(t, l2, batch("c")); r.BaseOffset != 100 {
		t.Fatalf("append after reopen at %d", r.BaseOffset)
	}
}

func TestValidationRefusesBadBatches(t *testing.T) {
	l := openLog(t, t.TempDir())
	good := batch("x", "y")
	flip := func(i int) []byte { b := append([]byte(nil), good...); b[i] ^= 0xff; return b }
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"short":          {good[:40], ErrCorruptBatch},
		"bad crc":        {flip(len(good) - 1), ErrCorruptBatch},
		"length":         {append(append([]byte(nil), good...), 0), ErrCorruptBatch},
		"magic":          {withCRC(flip(16)), ErrInvalidRecord},
		"count mismatch": {withCRC(func() []byte { b := append([]byte(nil), good...); b[60] = 5; return b }()), ErrInvalidRecord},
		"control":        {withCRC(func() []byte { b := append([]byte(nil), good...); b[22] |= 0x20; return b }()), ErrInvalidRecord},
	}
	for name, c := range cases {
		if _, err := l.Append(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	if l.EndOffset() != 0 {
		t.Fatalf("a refused batch moved the end offset to %d", l.EndOffset())
	}
}

func withCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

func TestRecoveryTruncatesTornTail(t *testing.T) {
	for name, damage := range map[string]func(path string){
		"torn write": func(p string) {
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-7)
		},
		"garbage appended": func(p string) {
			f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("not a batch at all, just bytes that a crash left behind........................"))
			f.Close()
		},
		"flipped byte in last batch": func(p string) {
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			st, _ := f.Stat()
			f.WriteAt([]byte{0xee}, st.Size()-3)
			f.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir)
			for i := range 10 {
				mustAppend(t, l, batch(fmt.Sprint(i)))
			}
			l.Close()
			seg := filepath.Join(dir, "00000000000000000000.log")
			damage(seg)
			os.Remove(filepath.Join(dir, "00000000000000000000.index"))
			l2 := openLog(t, dir)
			want := 10
			if name != "garbage appended" {
				want = 9
			}
			recs := readAll(t, l2)
			if len(recs) != want || l2.EndOffset() != int64(want) {
				t.Fatalf("after recovery: %d records, end %d; want %d", len(recs), l2.EndOffset(), want)
			}
			if r := mustAppend(t, l2, batch("next")); r.BaseOffset != int64(want) {
				t.Fatalf("append after recovery at %d", r.BaseOffset)
			}
			if _, err := os.Stat(filepath.Join(dir, "00000000000000000000.index")); err != nil {
				t.Fatal("index not rebuilt")
			}
		})
	}
}

func TestIdempotentProducerState(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	b := func(epoch int16, seq int32, vals ...string) []byte {
		return batchtest.Build(batchtest.Spec{ProducerID: 7, Epoch: epoch, Sequence: seq, Values: vals})
	}
	r0 := mustAppend(t, l, b(0, 0, "a", "b"))
	mustAppend(t, l, b(0, 2, "c"))
	dup, err := l.Append(b(0, 0, "a", "b"))
	if err != nil || !dup.Duplicate || dup.BaseOffset != r0.BaseOffset || dup.LastOffset != 1 {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	if _, err := l.Append(b(0, 5, "gap")); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := l.Append(b(1, 3, "new epoch, not 0")); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("new epoch at seq 3: %v", err)
	}
	mustAppend(t, l, b(1, 0, "epoch 1"))
	if _, err := l.Append(b(0, 3, "old epoch")); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	// Unknown producers may start anywhere.
	if _, err := l.Append(batchtest.Build(batchtest.Spec{ProducerID: 8, Sequence: 42, Values: []string{"x"}})); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// Clean reopen (snapshot) and crash reopen (no snapshot: rebuilt from batches).
	for _, crash := range []bool{false, true} {
		if crash {
			os.Remove(filepath.Join(dir, producersFile))
		}
		l2 := openLog(t, dir)
		if d, err := l2.Append(b(1, 0, "epoch 1")); err != nil || !d.Duplicate || d.BaseOffset != 3 {
			t.Fatalf("crash=%v: duplicate after reopen: %+v %v", crash, d, err)
		}
		if _, err := l2.Append(b(1, 2, "gap")); !errors.Is(err, ErrOutOfOrderSequence) {
			t.Fatalf("crash=%v: gap after reopen: %v", crash, err)
		}
		if _, err := l2.Append(batchtest.Build(batchtest.Spec{ProducerID: 8, Sequence: 43, Values: []string{"y"}})); err != nil {
			t.Fatalf("crash=%v: next sequence of producer 8: %v", crash, err)
		}
		l2.Close()
		os.Remove(filepath.Join(dir, producersFile))
		// Undo the extra append so both rounds start from the same log.
		l3 := openLog(t, dir)
		l3.Close()
	}
}

func TestSequenceWrapsAtMaxInt32(t *testing.T) {
	if got := lastSeq(2147483646, 3); got != 1 {
		t.Fatalf("lastSeq wraps to %d, want 1", got)
	}
	if nextSeq(2147483647) != 0 {
		t.Fatal("nextSeq must wrap to 0")
	}
}

func TestOffsetForTimestampEveryCodec(t *testing.T) {
	for _, codec := range []int{batchtest.None, batchtest.Gzip, batchtest.Snappy, batchtest.SnappyRaw, batchtest.Lz4, batchtest.Zstd} {
		t.Run(fmt.Sprint(codec), func(t *testing.T) {
			l := openLog(t, t.TempDir())
			// Two batches of 5 records, timestamps 1000, 1010, ..., 1090.
			for i := range 2 {
				vals := []string{"a", "b", "c", "d", "e"}
				mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: int64(1000 + 50*i), StepMs: 10, Codec: codec, Values: vals}))
			}
			for _, c := range []struct{ ts, off, at int64 }{{0, 0, 1000}, {1000, 0, 1000}, {1001, 1, 1010}, {1040, 4, 1040}, {1041, 5, 1050}, {1090, 9, 1090}} {
				off, ts, found, err := l.OffsetForTimestamp(c.ts)
				if err != nil || !found || off != c.off || ts != c.at {
					t.Fatalf("OffsetForTimestamp(%d) = %d@%d found=%v err=%v; want %d@%d", c.ts, off, ts, found, err, c.off, c.at)
				}
			}
			if _, _, found, _ := l.OffsetForTimestamp(1091); found {
				t.Fatal("found a record after the last timestamp")
			}
			if off, ts, found, err := l.MaxTimestamp(); err != nil || !found || off != 9 || ts != 1090 {
				t.Fatalf("MaxTimestamp = %d@%d %v %v", off, ts, found, err)
			}
		})
	}
}

func TestLogAppendTimeRewritesWithValidCRC(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	l := openLog(t, t.TempDir(), func(o *Options) { o.Config.LogAppendTime = true; o.Now = func() time.Time { return now } })
	r := mustAppend(t, l, batch("a", "b"))
	if r.LogAppendTimeMs != now.UnixMilli() {
		t.Fatalf("log append time %d", r.LogAppendTimeMs)
	}
	data, _ := l.Read(0, 1<<20)
	if _, err := validateBatch(data); err != nil {
		t.Fatalf("stored batch invalid: %v", err)
	}
	recs, _ := Records(data)
	if recs[1].TimestampMs != now.UnixMilli() {
		t.Fatalf("record timestamp %d", recs[1].TimestampMs)
	}
}

func TestDeleteRecordsAndRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	clock := func() time.Time { return now }
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 300; o.Now = clock })
	for i := range 30 {
		mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: now.UnixMilli() - int64(30-i)*60_000, Values: []string{fmt.Sprintf("value-%02d-padding-padding", i)}}))
	}
	segsBefore := len(l.segs)
	start, err := l.DeleteRecords(7)
	if err != nil || start != 7 {
		t.Fatalf("DeleteRecords: %d %v", start, err)
	}
	if _, err := l.Read(6, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below start: %v", err)
	}
	if _, err := l.DeleteRecords(1000); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("delete past the end: %v", err)
	}
	if len(l.segs) >= segsBefore {
		t.Fatalf("no segment deleted below the start offset (%d segments)", len(l.segs))
	}
	// retention.ms: records older than 10 minutes go, whole segments at a time.
	l.SetConfig(Config{SegmentBytes: 300, RetentionMs: 10 * 60_000})
	if n, err := l.ApplyRetention(); err != nil || n == 0 {
		t.Fatalf("ApplyRetention by time deleted %d segments: %v", n, err)
	}
	if s := l.StartOffset(); s < 15 || s > 21 {
		t.Fatalf("start offset after time retention: %d", s)
	}
	// retention.bytes
	l.SetConfig(Config{SegmentBytes: 300, RetentionMs: -1, RetentionBytes: 400})
	l.ApplyRetention()
	if l.Size() > 400+300 {
		t.Fatalf("size %d after retention.bytes=400", l.Size())
	}
	start = l.StartOffset()
	l.Close()
	l2 := openLog(t, dir, func(o *Options) { o.Now = clock })
	if l2.StartOffset() != start || readAll(t, l2)[0].Offset != start {
		t.Fatalf("start offset after reopen %d, want %d", l2.StartOffset(), start)
	}
	// segment.ms rolls the active segment during retention.
	now = now.Add(8 * 24 * time.Hour)
	l3 := l2
	l3.SetConfig(Config{SegmentMs: 1000, RetentionMs: 1})
	segs := len(l3.segs)
	l3.ApplyRetention()
	if l3.StartOffset() != 30 || len(l3.segs) != 1 || segs < 1 {
		t.Fatalf("after segment.ms roll + retention: start %d, %d segments", l3.StartOffset(), len(l3.segs))
	}
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	l := openLog(t, t.TempDir())
	const writers, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r, err := l.Append(batch(fmt.Sprintf("%d-%d", w, i)))
				if err == nil {
					err = l.WaitDurable(context.Background(), r.LastOffset+1)
				}
				if err != nil {
					errs <- err
					return
				}
				if l.HighWatermark() <= r.LastOffset {
					errs <- fmt.Errorf("acked offset %d is above the high watermark %d", r.LastOffset, l.HighWatermark())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l.HighWatermark() != writers*each || l.EndOffset() != writers*each {
		t.Fatalf("hw %d end %d", l.HighWatermark(), l.EndOffset())
	}
	if n := l.fsyncs.Load(); n >= writers*each {
		t.Fatalf("%d fsyncs for %d appends: no group commit", n, writers*each)
	} else {
		t.Logf("%d appends, %d fsyncs", writers*each, n)
	}
}

func TestHighWatermarkWaitsForFsync(t *testing.T) {
	l := openLog(t, t.TempDir())
	ch := l.Changed()
	r, _ := l.Append(batch("x"))
	if l.HighWatermark() != 0 {
		t.Fatal("unflushed data is visible")
	}
	if data, _ := l.Read(0, 100); data != nil {
		t.Fatal("Read returned data above the high watermark")
	}
	l.WaitDurable(context.Background(), r.LastOffset+1)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not signalled after the high watermark moved")
	}
	never := openLog(t, t.TempDir(), func(o *Options) { o.Fsync = FsyncPolicy{Mode: FsyncNever} })
	never.Append(batch("y"))
	if never.HighWatermark() != 1 {
		t.Fatal("fsync=never: appended data must be visible at once")
	}
}

func TestParseFsyncPolicy(t *testing.T) {
	for in, want := range map[string]FsyncPolicy{
		"always": {Mode: FsyncAlways}, "never": {Mode: FsyncNever}, "interval=250ms": {Mode: FsyncInterval, Interval: 250 * time.Millisecond},
	} {
		if got, err := ParseFsyncPolicy(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "sometimes", "interval=", "interval=-1s", "interval=abc"} {
		if _, err := ParseFsyncPolicy(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEncodeBatchRoundTrip(t *testing.T) {
	in := []Record{
		{TimestampMs: 5000, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "h", Value: []byte("1")}}},
		{TimestampMs: 5007, Key: []byte("tomb"), Value: nil},
	}
	raw := EncodeBatch(5000, in)
	if _, err := validateBatch(raw); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, t.TempDir())
	mustAppend(t, l, raw)
	recs := readAll(t, l)
	if len(recs) != 2 || string(recs[0].Key) != "k" || string(recs[0].Headers[0].Value) != "1" || recs[1].Value != nil || recs[1].TimestampMs != 5007 || recs[1].Offset != 1 {
		t.Fatalf("round trip: %+v", recs)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
