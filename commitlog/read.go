package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
)

// segmentIndex returns the index in l.segs of the segment holding offset (the
// last one whose base is <= offset, or the first). l.mu must be held.
func (l *Log) segmentIndex(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}

// Read returns whole batches starting with the one that holds offset. See api.go.
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	if offset < l.start || offset > hw {
		start := l.start
		l.mu.RUnlock()
		return nil, fmt.Errorf("%w: offset %d is outside [%d, %d]", ErrOffsetOutOfRange, offset, start, hw)
	}
	if offset == hw {
		l.mu.RUnlock()
		return nil, nil
	}
	i := l.segmentIndex(offset)
	for i < len(l.segs)-1 && (l.segs[i].next <= offset || l.segs[i].size == 0) { // skip segments that end before offset (or that compaction emptied)
		i++
	}
	s := l.segs[i]
	f, size, pos := s.f, s.size, s.posFor(offset)
	l.mu.RUnlock()

	// Find the batch holding offset: at most about index.interval.bytes of
	// batch headers from the index position.
	var hdr [offFirstTs]byte
	from, first := int64(-1), int64(0)
	for pos+batchHeaderSize <= size {
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return nil, l.readErr(err)
		}
		base := int64(binary.BigEndian.Uint64(hdr[offBaseOffset:]))
		n := int64(binary.BigEndian.Uint32(hdr[offLength:])) + 12
		last := base + int64(int32(binary.BigEndian.Uint32(hdr[offLastDelta:])))
		if base >= hw {
			return nil, nil
		}
		if last >= offset {
			from, first = pos, n
			break
		}
		pos += n
	}
	if from < 0 {
		return nil, nil
	}
	// One read for the whole answer, then cut it at a batch boundary within
	// maxBytes and the high watermark. The first batch is whole even when it is
	// bigger than maxBytes (KIP-74).
	want := max(first, min(int64(maxBytes), size-from))
	out := make([]byte, want)
	if _, err := f.ReadAt(out, from); err != nil {
		return nil, l.readErr(err)
	}
	end := first
	for end+batchHeaderSize <= want {
		base := int64(binary.BigEndian.Uint64(out[end+offBaseOffset:]))
		n := int64(binary.BigEndian.Uint32(out[end+offLength:])) + 12
		if base >= hw || end+n > want {
			break
		}
		end += n
	}
	return out[:end], nil
}

func (l *Log) readErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%w: the segment was deleted while reading", ErrOffsetOutOfRange)
	}
	return fmt.Errorf("commitlog: read: %w", err)
}

// batchAt reads the whole batch at a file position.
func batchAt(f *os.File, pos int64) ([]byte, error) {
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[offLength:])) + 12
	if n < batchHeaderSize {
		return nil, fmt.Errorf("%w: batch at position %d has length %d", ErrCorruptBatch, pos, n)
	}
	raw := make([]byte, n)
	_, err := f.ReadAt(raw, pos)
	return raw, err
}

// segView is what a lookup needs of a segment once mu is released.
type segView struct {
	f         *os.File
	pos, size int64
	maxTs     int64
	maxTsAt   int64
}

// OffsetForTimestamp finds the first record (in offset order, below the high
// watermark and at or above the log start offset) whose timestamp is >= tsMs,
// as ListOffsets does. found is false when there is none.
func (l *Log) OffsetForTimestamp(tsMs int64) (offset int64, timestamp int64, found bool, err error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return -1, -1, false, ErrClosed
	}
	start := l.start
	var list []segView
	for _, s := range l.segs[l.segmentIndex(start):] {
		if s.maxTs >= tsMs {
			list = append(list, segView{f: s.f, pos: s.posForTime(tsMs), size: s.size})
		}
	}
	l.mu.RUnlock()
	var hdr [batchHeaderSize]byte
	for _, s := range list {
		for pos := s.pos; pos+batchHeaderSize <= s.size; {
			if _, err := s.f.ReadAt(hdr[:], pos); err != nil {
				return -1, -1, false, l.readErr(err)
			}
			h := parseHeader(hdr[:])
			if h.base >= hw {
				return -1, -1, false, nil
			}
			if h.maxTs >= tsMs && h.last() >= start {
				raw, err := batchAt(s.f, pos)
				if err != nil {
					return -1, -1, false, l.readErr(err)
				}
				offset, timestamp = -1, -1
				err = recordTimes(raw, func(off, ts int64) bool {
					if ts >= tsMs && off >= start {
						offset, timestamp = off, ts
						return false
					}
					return true
				})
				if err != nil {
					return -1, -1, false, fmt.Errorf("commitlog: batch at offset %d: %w", h.base, err)
				}
				if offset >= 0 {
					return offset, timestamp, true, nil
				}
			}
			pos += h.size()
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the offset and timestamp of the record with the largest
// timestamp below the high watermark (ListOffsets -3); the earliest such record
// on ties. found is false for an empty log.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64, found bool, err error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return -1, -1, false, ErrClosed
	}
	var views []segView
	for _, s := range l.segs[l.segmentIndex(l.start):] {
		if s.base >= hw {
			break
		}
		v := segView{f: s.f, size: s.size, maxTs: s.maxTs, maxTsAt: s.maxTsAt, pos: -1}
		if s.next > hw {
			v.pos = 0 // the cached maximum may lie above the high watermark: scan
		}
		views = append(views, v)
	}
	l.mu.RUnlock()
	bestTs, bestAt, bestF := int64(-1), int64(-1), (*os.File)(nil)
	for _, v := range views {
		if v.pos < 0 {
			if v.maxTs > bestTs {
				bestTs, bestAt, bestF = v.maxTs, v.maxTsAt, v.f
			}
			continue
		}
		var hdr [batchHeaderSize]byte
		for pos := int64(0); pos+batchHeaderSize <= v.size; {
			if _, err := v.f.ReadAt(hdr[:], pos); err != nil {
				return -1, -1, false, l.readErr(err)
			}
			h := parseHeader(hdr[:])
			if h.base >= hw {
				break
			}
			if h.maxTs > bestTs {
				bestTs, bestAt, bestF = h.maxTs, pos, v.f
			}
			pos += h.size()
		}
	}
	if bestF == nil {
		return -1, -1, false, nil
	}
	raw, err := batchAt(bestF, bestAt)
	if err != nil {
		return -1, -1, false, l.readErr(err)
	}
	bo, bt := int64(-1), int64(-1)
	err = recordTimes(raw, func(off, ts int64) bool {
		if ts > bt {
			bo, bt = off, ts
		}
		return ts < bestTs // the batch's MaxTimestamp: nothing later can beat it
	})
	if err != nil {
		return -1, -1, false, fmt.Errorf("commitlog: batch at position %d: %w", bestAt, err)
	}
	return bo, bt, bo >= 0, nil
}
