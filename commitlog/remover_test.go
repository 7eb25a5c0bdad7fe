package commitlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func bigFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// A file is cut down a step at a time at the rate, and deleted once empty.
func TestRemoverCutsAFileDownStepByStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "00000000000000000000.log"+DeletedSuffix)
	const size = 3*removeStep + 1000
	bigFile(t, path, size)
	r := NewRemover(10*removeStep, 1<<40, nil) // a step every 100 ms
	defer r.Close()
	r.Remove(path)
	// The first step is cut at once: it may be done by now.
	if files, bytes := r.Pending(); files != 1 || (bytes != size && bytes != size-removeStep) {
		t.Fatalf("pending after Remove: %d files, %d bytes; want 1, %d (or %d once the first step is cut)", files, bytes, size, size-removeStep)
	}
	var sizes []int64
	waitFor(t, "the file to go", func() bool {
		fi, err := os.Stat(path)
		if err != nil {
			return true
		}
		if len(sizes) == 0 || sizes[len(sizes)-1] != fi.Size() {
			sizes = append(sizes, fi.Size())
		}
		return false
	})
	// Seen shrinking through the steps (the first may be missed): never
	// deleted in one go.
	if len(sizes) < 3 || sizes[len(sizes)-1] != 1000 {
		t.Fatalf("sizes seen %v: want the file cut down by %d a step to 1000 before it went", sizes, removeStep)
	}
	for i := 1; i < len(sizes); i++ {
		if sizes[i-1]-sizes[i] != removeStep && sizes[i] != 1000 {
			t.Fatalf("sizes seen %v: a step freed other than %d", sizes, removeStep)
		}
	}
	waitFor(t, "pending to reach zero", func() bool { f, b := r.Pending(); return f == 0 && b == 0 })
}

// Past the backlog a file goes at once, so slow deleting never fills a disk.
func TestRemoverDeletesAtOncePastTheBacklog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log"+DeletedSuffix)
	bigFile(t, path, 3*removeStep)
	r := NewRemover(1, removeStep, nil) // one step a second at most, but 3 steps wait
	defer r.Close()
	began := time.Now()
	r.Remove(path)
	waitFor(t, "the file to go", func() bool { _, err := os.Stat(path); return os.IsNotExist(err) })
	if d := time.Since(began); d > 5*time.Second {
		t.Fatalf("a file over the backlog took %v to go", d)
	}
}

// Retention renames a dropped segment and leaves it to the Remover; a file
// the Remover had not finished when it stopped is deleted on the next open,
// and is never read as a segment.
func TestRetentionLeavesDroppedSegmentsToTheRemover(t *testing.T) {
	dir := t.TempDir()
	slow := NewRemover(1, 1<<40, nil) // far slower than the test
	// Segments over a step, so that the Remover cuts them down rather than
	// deleting them outright.
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = removeStep + 1<<20; o.Remover = slow })
	for i := range 24 {
		mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, Values: []string{fmt.Sprintf("value-%02d-%s", i, strings.Repeat("x", 1<<20))}}))
	}
	if len(l.segs) < 3 {
		t.Fatalf("%d segments; the test needs several", len(l.segs))
	}
	l.SetConfig(Config{SegmentBytes: removeStep + 1<<20, RetentionMs: -1, RetentionBytes: 8 << 20})
	n, err := l.ApplyRetention()
	if err != nil || n == 0 {
		t.Fatalf("ApplyRetention deleted %d segments: %v", n, err)
	}
	start := l.StartOffset()
	dropped := func() (names []string) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), DeletedSuffix) {
				names = append(names, e.Name())
			}
		}
		return names
	}
	if got := dropped(); len(got) != n {
		t.Fatalf("dropped files %v after retention deleted %d segments", got, n)
	}
	if _, err := os.Stat(segmentName(dir, 0, ".log")); !os.IsNotExist(err) {
		t.Fatalf("the first segment's live name still exists: %v", err)
	}
	l.Close()
	slow.Close()
	if len(dropped()) == 0 {
		t.Fatal("the stopped Remover left no dropped file behind: nothing for the reopen to prove")
	}

	fast := NewRemover(1<<40, 1<<40, nil)
	defer fast.Close()
	l2 := openLog(t, dir, func(o *Options) { o.Remover = fast })
	if l2.StartOffset() != start || readAll(t, l2)[0].Offset != start {
		t.Fatalf("after reopen: start %d, want %d", l2.StartOffset(), start)
	}
	waitFor(t, "the dropped files to go", func() bool { return len(dropped()) == 0 })
}

// Without a Remover (a log opened without one) a dropped file goes at once.
func TestNilRemoverDeletesAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log"+DeletedSuffix)
	bigFile(t, path, removeStep+1)
	var r *Remover
	r.Remove(path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a nil Remover left the file: %v", err)
	}
}
