package commitlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Prealloc says how the active segment's file is grown ahead of the
// appends, so that the fdatasync an acknowledged produce waits for would have
// no file size or block allocation to commit to the filesystem's journal.
// Measured on ext4 over a virtio disk (docs/BENCHMARKS.md), neither way
// beat growing the file with the appends at a fixed produce rate: writing
// zeros doubles what reaches the device, and fallocate's unwritten extents
// still need a journal commit when the data first lands on them. Off is the
// default; the others stay for filesystems and devices where they pay.
type Prealloc int

const (
	// PreallocOff grows the file with every append (the default).
	PreallocOff Prealloc = iota
	// PreallocZero writes zeros ahead of the appends (in the background, a
	// step at a time, never where an append may be writing) and pushes them to
	// disk, so the blocks are allocated and written when the data lands on
	// them: an fdatasync then writes the data pages and nothing else.
	PreallocZero
	// PreallocFallocate reserves the space with fallocate(2), as Kafka's
	// file.preallocate does: no zeros written, but the filesystem still marks
	// each extent written on the first fdatasync that covers it.
	PreallocFallocate
)

// ParsePrealloc parses --preallocate: off, zero or fallocate.
func ParsePrealloc(s string) (Prealloc, error) {
	switch strings.ToLower(s) {
	case "off", "none", "":
		return PreallocOff, nil
	case "zero":
		return PreallocZero, nil
	case "fallocate":
		return PreallocFallocate, nil
	}
	return 0, fmt.Errorf("preallocate %q: valid values are off, zero and fallocate", s)
}

func (p Prealloc) String() string {
	return [...]string{"off", "zero", "fallocate"}[p]
}

// resolve is the mode a log uses: with FsyncNever there is no fsync to
// spare, so nothing is preallocated.
func (p Prealloc) resolve(fs FsyncPolicy) Prealloc {
	if fs.Mode == FsyncNever {
		return PreallocOff
	}
	return p
}

const (
	preallocMin  = 256 << 10 // the first step ahead of a young segment
	preallocMax  = 16 << 20  // never more than this ahead of the appends
	preallocStep = 256 << 10 // zeros written per hold of mu
	preallocUnit = 64 << 10  // the allocated end is a multiple of it
)

var zeros = make([]byte, preallocStep)

// preallocAhead is how far ahead of size the file should reach: as much as
// the segment already holds, between preallocMin and preallocMax, so that an
// idle partition costs little disk and a busy one extends rarely.
func preallocAhead(size int64) int64 { return min(max(size, preallocMin), preallocMax) }

// maybePreallocLocked starts the background extender when the appends came
// within half the wanted distance of the allocated end. l.mu must be held.
func (l *Log) maybePreallocLocked(s *segment) {
	if l.prealloc == PreallocOff || s.extending || l.closed || l.failed != nil {
		return
	}
	ahead := preallocAhead(s.size)
	if s.alloc-s.size >= ahead/2 || s.alloc >= l.cfg.SegmentBytes {
		return
	}
	s.extending = true
	l.bg.Add(1)
	go l.extend(s)
}

// extend grows s's file ahead of the appends, then exits. Zeros are written
// under mu and only at or beyond s.size, where no append is writing (appends
// write at s.size under mu): no byte of a batch is ever overwritten. A
// segment that stops being active (roll, Close) is trimmed back to its size
// by whoever made it inactive; extend then stops at its next step.
func (l *Log) extend(s *segment) {
	defer l.bg.Done()
	var err error
	defer func() {
		l.mu.Lock()
		s.extending = false
		if err != nil && l.prealloc != PreallocOff {
			// Not fatal: the file grows with the appends as it did before.
			l.prealloc = PreallocOff
			l.log.Warn("commitlog: preallocating segment space failed; appends grow the file instead", "dir", l.dir, "err", err)
		}
		l.mu.Unlock()
	}()
	l.mu.Lock()
	target := min(roundUp(s.size+preallocAhead(s.size), preallocUnit), l.cfg.SegmentBytes)
	mode := l.prealloc
	l.mu.Unlock()
	if mode == PreallocFallocate {
		l.mu.Lock()
		from, live := max(s.alloc, s.size), l.activeLocked(s)
		l.mu.Unlock()
		if !live || from >= target {
			return
		}
		// fallocate never changes bytes already written, so it may run while
		// appends go on; it extends the file size, which mu's holder re-trims
		// if the segment was rolled meanwhile.
		if err = fallocate(s.f, from, target-from); err != nil {
			return
		}
		l.mu.Lock()
		if l.activeLocked(s) {
			s.alloc = max(s.alloc, target)
		} else if !l.closed {
			s.f.Truncate(s.size)
		}
		l.mu.Unlock()
		return
	}
	begin := int64(-1)
	for {
		l.mu.Lock()
		if !l.activeLocked(s) {
			l.mu.Unlock()
			return
		}
		from := max(s.alloc, s.size)
		if from >= target {
			l.mu.Unlock()
			break
		}
		n := min(preallocStep, target-from)
		_, err = s.f.WriteAt(zeros[:n], from)
		if err == nil {
			s.alloc = from + n
		}
		l.mu.Unlock()
		if err != nil {
			return
		}
		if begin < 0 {
			begin = from
		}
		// Push the zeros out now, a step at a time, so that a group commit's
		// fdatasync finds at most one step of them still dirty.
		if err = withFd(s.f, func(fd int) error {
			return unix.SyncFileRange(fd, from, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}); err != nil {
			return
		}
	}
	if begin >= 0 {
		// Commit the new size and block allocation once, here, rather than in
		// the next fdatasync a producer waits for.
		err = withFd(s.f, unix.Fdatasync)
	}
}

// activeLocked reports whether s is still the log's active segment and the
// log is open. l.mu must be held.
func (l *Log) activeLocked(s *segment) bool {
	return !l.closed && l.failed == nil && len(l.segs) > 0 && l.active() == s
}

// trimLocked cuts the preallocated space off a segment that stops being
// active, so that closed segments are exactly their batches (as Kafka's
// trimToValidSize does) and Kafka's tools read them. l.mu must be held.
func (s *segment) trimLocked() error {
	if s.alloc <= s.size {
		return nil
	}
	if err := s.f.Truncate(s.size); err != nil {
		return fmt.Errorf("commitlog: trim preallocated space of %s: %w", s.f.Name(), err)
	}
	s.alloc = s.size
	return nil
}

func fallocate(f *os.File, off, n int64) error {
	return withFd(f, func(fd int) error {
		for {
			if err := unix.Fallocate(fd, 0, off, n); err != unix.EINTR {
				return err
			}
		}
	})
}

// withFd runs fn on f's descriptor, which cannot be closed (and its number
// reused) meanwhile; a file already closed (its segment deleted) is no error.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return nil // Control fails only on a closed file
	}
	return ferr
}

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// zeroTail reports whether every byte of f from pos to size is zero: the
// preallocated space after the last batch a crashed process wrote, which is
// the end of the log and not a torn batch.
func zeroTail(f *os.File, pos, size int64) bool {
	buf := make([]byte, min(size-pos, 1<<20))
	for pos < size {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		if n == 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return false
		}
		if !allZero(buf[:n]) {
			return false
		}
		pos += int64(n)
	}
	return true
}

func allZero(b []byte) bool {
	for len(b) >= len(zeros) {
		if !bytes.Equal(b[:len(zeros)], zeros) {
			return false
		}
		b = b[len(zeros):]
	}
	return bytes.Equal(b, zeros[:len(b)])
}
