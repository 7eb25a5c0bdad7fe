package commitlog

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Region is a span of one segment file that holds whole record batches, for
// a caller that sends them to a socket without copying (sendfile). File is a
// duplicate of the segment's descriptor, owned by the caller: it stays valid
// (and keeps naming the same bytes) when retention deletes the segment or
// compaction replaces it, until the caller closes it. A Region with Len 0
// holds no file.
type Region struct {
	File *os.File
	Pos  int64 // file position of the first batch
	Len  int64 // bytes, a whole number of batches
	Next int64 // the offset after the last batch in the region
}

// Close releases the region's descriptor. It is safe on an empty region and
// more than once.
func (r *Region) Close() error {
	if r.File == nil {
		return nil
	}
	err := r.File.Close()
	r.File = nil
	return err
}

// Bytes reads the region into memory (the copying path: TLS connections and
// small fetches). It does not close the region.
func (r *Region) Bytes() ([]byte, error) {
	if r.Len == 0 {
		return []byte{}, nil
	}
	out := make([]byte, r.Len)
	if _, err := r.File.ReadAt(out, r.Pos); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("commitlog: read region of %s: %w", r.File.Name(), err)
	}
	return out, nil
}

// ReadRegion is Read that answers with the file region of the batches
// instead of their bytes, cut exactly as Read cuts (whole batches from the
// one holding offset, within maxBytes except for the first, KIP-74), and
// also before the first batch whose base offset is at or above stop (the high
// watermark, or a lower bound such as the last stable offset; stop above the
// high watermark means the high watermark). An empty region means nothing is
// readable at offset yet. Reads are bounded by the segment's logical size,
// never the file's (a preallocated file is longer than its log).
func (l *Log) ReadRegion(offset int64, maxBytes int, stop int64) (Region, error) {
	hw := l.HighWatermark()
	stop = min(stop, hw)
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Region{}, ErrClosed
	}
	if offset < l.start || offset > hw {
		start := l.start
		l.mu.RUnlock()
		return Region{}, fmt.Errorf("%w: offset %d is outside [%d, %d]", ErrOffsetOutOfRange, offset, start, hw)
	}
	if offset == hw {
		l.mu.RUnlock()
		return Region{}, nil
	}
	i := l.segmentIndex(offset)
	for i < len(l.segs)-1 && (l.segs[i].next <= offset || l.segs[i].size == 0) {
		i++
	}
	s := l.segs[i]
	size, pos, idx := s.size, s.posFor(offset), s.index // index entries are only appended (or the slice replaced)
	// Duplicate the descriptor while the lock keeps the segment open: the
	// copy names the same file even once retention closes and unlinks it.
	f, err := dupFile(s.f)
	l.mu.RUnlock()
	if err != nil {
		return Region{}, err
	}
	r, err := cutRegion(f, idx, pos, size, offset, int64(maxBytes), stop)
	if err != nil || r.Len == 0 {
		f.Close()
		if err != nil {
			return Region{}, l.readErr(err)
		}
		return Region{}, nil
	}
	r.File = f
	return r, nil
}

// cutRegion walks batch headers in f from pos (below size) to the batch that
// holds offset, then on to where Read would cut, skipping with the segment's
// index the batches that certainly fit.
func cutRegion(f *os.File, idx []indexEntry, pos, size, offset, maxBytes, stop int64) (Region, error) {
	var hdr [offFirstTs]byte
	from, first := int64(-1), int64(0)
	for pos+batchHeaderSize <= size {
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return Region{}, err
		}
		base := int64(binary.BigEndian.Uint64(hdr[offBaseOffset:]))
		n := int64(binary.BigEndian.Uint32(hdr[offLength:])) + 12
		last := base + int64(int32(binary.BigEndian.Uint32(hdr[offLastDelta:])))
		if base >= stop {
			return Region{}, nil
		}
		if last >= offset {
			from, first = pos, n
			break
		}
		pos += n
	}
	if from < 0 {
		return Region{}, nil
	}
	if first < batchHeaderSize || from+first > size {
		return Region{}, fmt.Errorf("%w: batch at position %d has length %d past the segment's %d bytes", ErrCorruptBatch, from, first, size)
	}
	want := max(first, min(maxBytes, size-from))
	end := first
	var last int64
	if _, err := f.ReadAt(hdr[:], from); err != nil {
		return Region{}, err
	}
	last = int64(binary.BigEndian.Uint64(hdr[offBaseOffset:])) + int64(int32(binary.BigEndian.Uint32(hdr[offLastDelta:])))
	// Every batch before an index entry k at or below the cut whose batch is
	// below stop is returned: start the walk at entry k-1 (a batch that ends
	// by entry k's position, so it is returned too and gives last), when that
	// is past the first batch. Reading one header per batch would cost a
	// syscall per batch of a large fetch.
	k := sort.Search(len(idx), func(k int) bool { return idx[k].pos > from+want }) - 1
	for k >= 1 && idx[k].last >= stop {
		k--
	}
	if k >= 1 && idx[k-1].pos >= from+first {
		end = idx[k-1].pos - from
	}
	for end+batchHeaderSize <= want {
		if _, err := f.ReadAt(hdr[:], from+end); err != nil {
			return Region{}, err
		}
		base := int64(binary.BigEndian.Uint64(hdr[offBaseOffset:]))
		n := int64(binary.BigEndian.Uint32(hdr[offLength:])) + 12
		if base >= stop || end+n > want || n < batchHeaderSize {
			break
		}
		last = base + int64(int32(binary.BigEndian.Uint32(hdr[offLastDelta:])))
		end += n
	}
	return Region{Pos: from, Len: end, Next: last + 1}, nil
}

// dupFile returns a second *os.File on f's open file description.
func dupFile(f *os.File) (*os.File, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: the segment was deleted while reading", ErrOffsetOutOfRange)
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("%w: the segment was deleted while reading", ErrOffsetOutOfRange)
	}
	if derr != nil {
		return nil, fmt.Errorf("commitlog: duplicate the descriptor of %s: %w", f.Name(), derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}
