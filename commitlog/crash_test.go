package commitlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// crash abandons the log the way a killed process does: no flush, no index
// writes, no producer snapshot. The page cache keeps what was written.
func (l *Log) crash() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.bg.Wait()
	l.mu.Lock()
	l.closeFiles()
	l.mu.Unlock()
}

func TestCrashRecoveryWithoutClose(t *testing.T) {
	// Each damage gets the segment and the end of its batches: the file on
	// disk may go on past it with preallocated zeros, as a crash leaves it.
	for name, damage := range map[string]func(t *testing.T, path string, end int64){
		"clean crash": func(*testing.T, string, int64) {},
		"torn write": func(t *testing.T, p string, end int64) {
			if err := os.Truncate(p, end-7); err != nil {
				t.Fatal(err)
			}
		},
		"garbage appended": func(t *testing.T, p string, end int64) {
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt(bytes.Repeat([]byte{0xab}, 100), end)
			f.Close()
		},
		"zeros appended": func(t *testing.T, p string, end int64) {
			// Indistinguishable from preallocated space: the end, no warning.
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt(make([]byte, 4096), end)
			f.Close()
		},
		"flipped CRC byte of last batch": func(t *testing.T, p string, end int64) {
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			// The last batch is batch("9") with the same size as the others.
			pos := end - int64(len(batch("9"))) + offCRC
			var b [1]byte
			f.ReadAt(b[:], pos)
			f.WriteAt([]byte{b[0] ^ 0x01}, pos)
			f.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, func(o *Options) { o.Config.IndexIntervalBytes = 100 })
			for i := range 10 {
				mustAppend(t, l, batch(fmt.Sprint(i)))
			}
			end := l.Size()
			l.crash()
			seg := filepath.Join(dir, "00000000000000000000.log")
			damage(t, seg, end)
			var logs bytes.Buffer
			l2 := openLog(t, dir, func(o *Options) {
				o.Config.IndexIntervalBytes = 100
				o.Logger = slogTo(&logs)
			})
			want := 10
			if strings.Contains(name, "torn") || strings.Contains(name, "flipped") {
				want = 9
			}
			warns := strings.Count(logs.String(), "level=WARN")
			clean := name == "clean crash" || name == "zeros appended"
			if clean && warns != 0 || !clean && warns != 1 {
				t.Fatalf("%d warnings, log: %s", warns, logs.String())
			}
			if !clean {
				for _, k := range []string{"dir=", "segment=00000000000000000000.log", fmt.Sprintf("offset=%d", want), "bytes_cut="} {
					if !strings.Contains(logs.String(), k) {
						t.Fatalf("warning lacks %s: %s", k, logs.String())
					}
				}
			}
			recs := readAll(t, l2)
			if len(recs) != want || l2.EndOffset() != int64(want) {
				t.Fatalf("after recovery: %d records, end %d; want %d", len(recs), l2.EndOffset(), want)
			}
			for i, r := range recs {
				if string(r.Value) != fmt.Sprint(i) {
					t.Fatalf("record %d holds %q", i, r.Value)
				}
			}
			if r := mustAppend(t, l2, batch("next")); r.BaseOffset != int64(want) {
				t.Fatalf("append after recovery at %d", r.BaseOffset)
			}
			l2.Close()
			verifyIndexes(t, dir, 100)
		})
	}
}

// verifyIndexes checks every segment's .index and .timeindex the way Kafka's
// DumpLogSegments --verify-index-only does: each offset entry names the last
// offset of the batch at its position, each time entry names a batch's last
// offset and that batch's largest record timestamp, timestamps increase, and
// the offset entries are exactly those Kafka would write.
func verifyIndexes(t *testing.T, dir string, interval int64) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no segments")
	}
	for _, p := range logs {
		base := strings.TrimSuffix(p, ".log")
		data, _ := os.ReadFile(p)
		idx, err := os.ReadFile(base + ".index")
		if err != nil {
			t.Fatal(err)
		}
		tix, err := os.ReadFile(base + ".timeindex")
		if err != nil {
			t.Fatal(err)
		}
		var segBase int64
		fmt.Sscanf(filepath.Base(base), "%d", &segBase)
		type b struct {
			pos, last, maxTs int64
		}
		var batches []b
		var want []byte
		since := int64(0)
		for pos := int64(0); pos < int64(len(data)); {
			h := parseHeader(data[pos:])
			recs, err := Records(data[pos : pos+h.size()])
			if err != nil {
				t.Fatal(err)
			}
			mx := int64(-1)
			for _, r := range recs {
				mx = max(mx, r.TimestampMs)
			}
			batches = append(batches, b{pos, h.last(), mx})
			if since > interval {
				want = binary.BigEndian.AppendUint32(want, uint32(h.last()-segBase))
				want = binary.BigEndian.AppendUint32(want, uint32(pos))
				since = 0
			}
			since += h.size()
			pos += h.size()
		}
		if !bytes.Equal(idx, want) {
			t.Fatalf("%s.index holds %x, Kafka would write %x", base, idx, want)
		}
		for i := 0; i < len(idx); i += 8 {
			rel, pos := int64(binary.BigEndian.Uint32(idx[i:])), int64(binary.BigEndian.Uint32(idx[i+4:]))
			found := false
			for _, bt := range batches {
				found = found || bt.pos == pos && bt.last == segBase+rel
			}
			if !found {
				t.Fatalf("%s.index entry %d (%d@%d) names no batch", base, i/8, rel, pos)
			}
		}
		if len(tix)%12 != 0 {
			t.Fatalf("%s.timeindex is %d bytes", base, len(tix))
		}
		prev := int64(-1)
		for i := 0; i < len(tix); i += 12 {
			ts, rel := int64(binary.BigEndian.Uint64(tix[i:])), int64(binary.BigEndian.Uint32(tix[i+8:]))
			if ts <= prev {
				t.Fatalf("%s.timeindex not increasing at entry %d", base, i/12)
			}
			prev = ts
			found := false
			for _, bt := range batches {
				found = found || bt.last == segBase+rel && bt.maxTs == ts
			}
			if !found {
				t.Fatalf("%s.timeindex entry %d (%d, %d) matches no batch", base, i/12, ts, rel)
			}
		}
	}
}

func TestIndexesKafkaCompatibleAndRebuilt(t *testing.T) {
	dir := t.TempDir()
	cfg := func(o *Options) { o.Config.SegmentBytes = 4000; o.Config.IndexIntervalBytes = 200 }
	l := openLog(t, dir, cfg)
	for i := range 120 {
		// Timestamps go up and down: the time index keeps only increases.
		ts := int64(1000 + 10*i - 25*(i%3))
		mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: ts, StepMs: 3, Values: []string{"v", fmt.Sprint(i)}}))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	verifyIndexes(t, dir, 200)
	snapshotFiles := func() map[string][]byte {
		m := map[string][]byte{}
		for _, ext := range []string{"*.index", "*.timeindex"} {
			ps, _ := filepath.Glob(filepath.Join(dir, ext))
			for _, p := range ps {
				m[p], _ = os.ReadFile(p)
			}
		}
		return m
	}
	before := snapshotFiles()
	if len(before) < 6 {
		t.Fatalf("expected several segments, have %d index files", len(before))
	}
	// Delete some, damage others: Open rebuilds them identically.
	i := 0
	for p := range before {
		switch i % 3 {
		case 0:
			os.Remove(p)
		case 1:
			os.WriteFile(p, []byte("junk"), 0o644)
		}
		i++
	}
	l2 := openLog(t, dir, cfg)
	for i := range 240 {
		off, ts, found, err := l2.OffsetForTimestamp(int64(900 + 5*i))
		if err != nil {
			t.Fatal(err)
		}
		// Brute force over every record.
		wantOff, wantTs := int64(-1), int64(-1)
		for _, r := range readAll(t, l2) {
			if r.TimestampMs >= int64(900+5*i) {
				wantOff, wantTs = r.Offset, r.TimestampMs
				break
			}
		}
		if found != (wantOff >= 0) || off != wantOff || ts != wantTs {
			t.Fatalf("OffsetForTimestamp(%d) = %d@%d %v, brute force %d@%d", 900+5*i, off, ts, found, wantOff, wantTs)
		}
	}
	l2.Close()
	after := snapshotFiles()
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Fatalf("%s rebuilt as %x, was %x", p, after[p], b)
		}
	}
}

func TestReadAcrossSegmentsAndMaxBytes(t *testing.T) {
	l := openLog(t, t.TempDir(), func(o *Options) { o.Config.SegmentBytes = 500; o.Fsync = FsyncPolicy{Mode: FsyncNever} })
	size := len(batch("00"))
	for i := range 40 {
		mustAppend(t, l, batch(fmt.Sprintf("%02d", i)))
	}
	if len(l.segs) < 4 {
		t.Fatalf("%d segments", len(l.segs))
	}
	for off := int64(0); off < 40; off++ {
		for _, mb := range []int{0, size - 1, size, 2*size + 5, 1 << 20} {
			data, err := l.Read(off, mb)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) == 0 || len(data)%size != 0 || (len(data) > mb && len(data) != size) {
				t.Fatalf("Read(%d, %d) = %d bytes (batch size %d)", off, mb, len(data), size)
			}
			if got := int64(binary.BigEndian.Uint64(data)); got != off {
				t.Fatalf("Read(%d) starts at batch %d", off, got)
			}
			for p := 0; p < len(data); p += size {
				if _, err := validateBatch(data[p : p+size]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if data, err := l.Read(40, 100); data != nil || err != nil {
		t.Fatalf("Read at the high watermark: %d bytes, %v", len(data), err)
	}
	if _, err := l.Read(41, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read past the high watermark: %v", err)
	}
}

func TestIdempotenceSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	cfg := func(o *Options) { o.Config.SegmentBytes = 400 } // rolls write snapshots mid-way
	l := openLog(t, dir, cfg)
	b := func(pid int64, epoch int16, seq int32, vals ...string) []byte {
		return batchtest.Build(batchtest.Spec{ProducerID: pid, Epoch: epoch, Sequence: seq, Values: vals})
	}
	var firsts []AppendResult
	for i := range 20 {
		firsts = append(firsts, mustAppend(t, l, b(5, 2, int32(2*i), "a", "b")))
		mustAppend(t, l, b(6, 0, int32(i), "c"))
	}
	l.crash()
	l2 := openLog(t, dir, cfg)
	for i := 15; i < 20; i++ { // the last five batches are remembered
		d, err := l2.Append(b(5, 2, int32(2*i), "a", "b"))
		if err != nil || !d.Duplicate || d.BaseOffset != firsts[i].BaseOffset || d.LastOffset != firsts[i].LastOffset {
			t.Fatalf("retry of batch %d after crash: %+v %v (first %+v)", i, d, err, firsts[i])
		}
	}
	if _, err := l2.Append(b(5, 2, 41, "gap")); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap after crash: %v", err)
	}
	if _, err := l2.Append(b(5, 1, 40, "old epoch")); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("old epoch after crash: %v", err)
	}
	if r, err := l2.Append(b(6, 0, 20, "next")); err != nil || r.Duplicate {
		t.Fatalf("next sequence after crash: %+v %v", r, err)
	}
	if _, err := l2.Append(b(6, 1, 0, "new epoch")); err != nil {
		t.Fatalf("new epoch at 0: %v", err)
	}
}

func TestRollSyncsOldSegmentEvenWithFsyncNever(t *testing.T) {
	l := openLog(t, t.TempDir(), func(o *Options) { o.Config.SegmentBytes = 300; o.Fsync = FsyncPolicy{Mode: FsyncNever} })
	for i := range 20 {
		mustAppend(t, l, batch(fmt.Sprint(i)))
	}
	l.bg.Wait()
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.synced != s.size {
			t.Fatalf("rolled segment %d: %d of %d bytes synced", s.base, s.synced, s.size)
		}
	}
	if _, err := os.Stat(filepath.Join(l.dir, producersFile)); err != nil {
		t.Fatalf("no producer snapshot after rolls: %v", err)
	}
}

func TestChangedAndClose(t *testing.T) {
	l := openLog(t, t.TempDir(), func(o *Options) { o.Fsync = FsyncPolicy{Mode: FsyncInterval} })
	ch := l.Changed()
	l.Append(batch("x"))
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by an append in interval mode")
	}
	ch = l.Changed()
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Close")
	}
	if _, err := l.Append(batch("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.WaitDurable(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topic-0")
	l := openLog(t, dir)
	mustAppend(t, l, batch("x"))
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir still there: %v", err)
	}
	if _, err := l.Read(0, 10); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
