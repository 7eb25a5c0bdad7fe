package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// batchHeaderSize is the fixed header of a record batch v2 (RECORD_BATCH_OVERHEAD).
const batchHeaderSize = 61

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Byte offsets inside a record batch v2 header.
const (
	offBaseOffset  = 0
	offLength      = 8
	offLeaderEpoch = 12
	offMagic       = 16
	offCRC         = 17
	offAttributes  = 21
	offLastDelta   = 23
	offFirstTs     = 27
	offMaxTs       = 35
	offProducerID  = 43
	offEpoch       = 51
	offBaseSeq     = 53
	offCount       = 57
)

// batchHeader is the parsed fixed part of a batch.
type batchHeader struct {
	base       int64
	length     int32 // bytes after the Length field
	attrs      uint16
	lastDelta  int32
	firstTs    int64
	maxTs      int64
	producerID int64
	epoch      int16
	baseSeq    int32
	count      int32
}

func (h batchHeader) size() int64 { return int64(h.length) + 12 }
func (h batchHeader) last() int64 { return h.base + int64(h.lastDelta) }

func parseHeader(b []byte) batchHeader {
	return batchHeader{
		base:       int64(binary.BigEndian.Uint64(b[offBaseOffset:])),
		length:     int32(binary.BigEndian.Uint32(b[offLength:])),
		attrs:      binary.BigEndian.Uint16(b[offAttributes:]),
		lastDelta:  int32(binary.BigEndian.Uint32(b[offLastDelta:])),
		firstTs:    int64(binary.BigEndian.Uint64(b[offFirstTs:])),
		maxTs:      int64(binary.BigEndian.Uint64(b[offMaxTs:])),
		producerID: int64(binary.BigEndian.Uint64(b[offProducerID:])),
		epoch:      int16(binary.BigEndian.Uint16(b[offEpoch:])),
		baseSeq:    int32(binary.BigEndian.Uint32(b[offBaseSeq:])),
		count:      int32(binary.BigEndian.Uint32(b[offCount:])),
	}
}

// validateBatch checks a client batch: framing, magic, CRC and record counts.
func validateBatch(b []byte) (batchHeader, error) {
	if len(b) < batchHeaderSize {
		return batchHeader{}, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(b))
	}
	h := parseHeader(b)
	switch {
	case h.size() != int64(len(b)):
		return h, fmt.Errorf("%w: length field says %d bytes, batch has %d", ErrCorruptBatch, h.size(), len(b))
	case b[offMagic] != 2:
		return h, fmt.Errorf("%w: magic %d, only record batch v2 is stored", ErrInvalidRecord, b[offMagic])
	case binary.BigEndian.Uint32(b[offCRC:]) != crc32.Checksum(b[offAttributes:], castagnoli):
		return h, fmt.Errorf("%w: CRC32C mismatch", ErrCorruptBatch)
	case h.count < 1 || h.lastDelta != h.count-1:
		return h, fmt.Errorf("%w: %d records with last offset delta %d", ErrInvalidRecord, h.count, h.lastDelta)
	case h.attrs&attrTransactional != 0 && h.producerID < 0:
		return h, fmt.Errorf("%w: a transactional batch needs a producer id", ErrInvalidRecord)
	case h.attrs&attrControl != 0 && h.attrs&attrTransactional == 0:
		return h, fmt.Errorf("%w: a control batch must be transactional", ErrInvalidRecord)
	case h.attrs&0x07 > codecZstd:
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidRecord, h.attrs&0x07)
	}
	return h, nil
}

// indexEntry maps the last offset of a batch to the batch's file position, as
// Kafka's .index does (relative offset, position).
type indexEntry struct {
	last int64
	pos  int64
}

// timeEntry is one .timeindex entry: the largest timestamp seen so far in the
// segment and the last offset of the batch that carried it.
type timeEntry struct {
	ts   int64
	last int64
}

// segment is one .log file with its in-memory sparse indexes. Fields are
// guarded by Log.mu; f is safe for concurrent ReadAt and Sync.
type segment struct {
	base      int64
	next      int64 // offset after the last batch
	f         *os.File
	size      int64
	synced    int64 // bytes known fsynced
	index     []indexEntry
	times     []timeEntry
	idxOut    int // entries of index already written to the .index file
	timeOut   int
	sinceIx   int64     // bytes appended since the last index entry (Kafka's bytesSinceLastIndexEntry)
	maxTs     int64     // largest batch MaxTimestamp, -1 if none
	maxTsLast int64     // last offset of the batch holding maxTs
	maxTsAt   int64     // file position of the batch holding maxTs
	created   time.Time // time of the first append; zero while empty
	idxFiles  bool      // the .index and .timeindex files exist (possibly empty)
	alloc     int64     // the file is preallocated (zeros) up to here; <= size when not
	extending bool      // the preallocator is at work on it (prealloc.go)
}

func newSegment(base int64, f *os.File) *segment {
	return &segment{base: base, next: base, f: f, maxTs: -1, maxTsLast: -1}
}

func segmentName(dir string, base int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, ext))
}

// addIndex records a batch appended at pos, exactly as Kafka's LogSegment.append
// does, so that our index files match what Kafka itself would write: an entry
// (batch last offset, batch position) once more than interval bytes were
// appended since the previous entry, and a time entry (max timestamp so far,
// its batch's last offset) at the same moments if the timestamp grew.
func (s *segment) addIndex(h batchHeader, pos int64, interval int32) {
	if h.maxTs > s.maxTs {
		s.maxTs, s.maxTsLast, s.maxTsAt = h.maxTs, h.last(), pos
	}
	if s.sinceIx > int64(interval) {
		s.index = append(s.index, indexEntry{last: h.last(), pos: pos})
		s.maybeAddTime()
		s.sinceIx = 0
	}
	s.sinceIx += h.size()
}

func (s *segment) maybeAddTime() {
	if s.maxTs >= 0 && (len(s.times) == 0 || s.maxTs > s.times[len(s.times)-1].ts) {
		s.times = append(s.times, timeEntry{ts: s.maxTs, last: s.maxTsLast})
	}
}

// seal adds the final time-index entry Kafka writes when a segment stops
// being active (onBecomeInactiveSegment), so that the last entry of a closed
// segment's .timeindex is its largest timestamp.
func (s *segment) seal() { s.maybeAddTime() }

// posFor returns the file position to start scanning from for offset: that of
// the last index entry whose batch ends at or before offset, or 0.
func (s *segment) posFor(offset int64) int64 {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].last > offset })
	if i == 0 {
		return 0
	}
	return s.index[i-1].pos
}

// posForTime returns a file position before the first batch whose
// MaxTimestamp may be >= ts: every batch before it has a smaller timestamp.
func (s *segment) posForTime(ts int64) int64 {
	i := sort.Search(len(s.times), func(i int) bool { return s.times[i].ts >= ts })
	if i == 0 {
		return 0
	}
	return s.posFor(s.times[i-1].last)
}

// writeIndexes appends the index entries not yet in the .index/.timeindex files.
func (s *segment) writeIndexes(dir string) error {
	if s.idxOut < len(s.index) || !s.idxFiles {
		buf := make([]byte, 0, 8*(len(s.index)-s.idxOut))
		for _, e := range s.index[s.idxOut:] {
			buf = binary.BigEndian.AppendUint32(buf, uint32(e.last-s.base))
			buf = binary.BigEndian.AppendUint32(buf, uint32(e.pos))
		}
		if err := writeAtEnd(segmentName(dir, s.base, ".index"), int64(s.idxOut)*8, buf); err != nil {
			return err
		}
		s.idxOut = len(s.index)
	}
	if s.timeOut < len(s.times) || !s.idxFiles {
		buf := make([]byte, 0, 12*(len(s.times)-s.timeOut))
		for _, e := range s.times[s.timeOut:] {
			buf = binary.BigEndian.AppendUint64(buf, uint64(e.ts))
			buf = binary.BigEndian.AppendUint32(buf, uint32(e.last-s.base))
		}
		if err := writeAtEnd(segmentName(dir, s.base, ".timeindex"), int64(s.timeOut)*12, buf); err != nil {
			return err
		}
		s.timeOut = len(s.times)
	}
	s.idxFiles = true
	return nil
}

func writeAtEnd(path string, at int64, buf []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(at); err != nil {
		return err
	}
	_, err = f.WriteAt(buf, at)
	return err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// scan walks the batches of a segment file from position 0, calling fn for each
// well-formed batch (with its raw bytes when full is set). It returns the
// position after the last good batch and the reason it stopped early, if any.
func scanSegment(f *os.File, size int64, expectBase int64, full bool, fn func(h batchHeader, pos int64, raw []byte)) (int64, error) {
	var hdr [batchHeaderSize]byte
	pos := int64(0)
	next := expectBase
	for pos < size {
		if size-pos < batchHeaderSize {
			return pos, fmt.Errorf("%d trailing bytes are shorter than a batch header", size-pos)
		}
		if _, err := f.ReadAt(hdr[:], pos); err != nil {
			return pos, err
		}
		h := parseHeader(hdr[:])
		switch {
		case hdr[offMagic] != 2:
			return pos, fmt.Errorf("batch at position %d has magic %d", pos, hdr[offMagic])
		case h.length < batchHeaderSize-12 || pos+h.size() > size:
			return pos, fmt.Errorf("batch at position %d has length %d past the end of the file", pos, h.length)
		case h.base < next || h.lastDelta < 0 || h.count < 0 || h.last()-expectBase > math.MaxInt32:
			// (A batch of no records is compaction's: a producer's last
			// batch keeps its header, as Kafka's cleaner keeps it.)
			return pos, fmt.Errorf("batch at position %d has offsets %d-%d, expected a start at %d or later", pos, h.base, h.last(), next)
		}
		var raw []byte
		if full {
			raw = make([]byte, h.size())
			if _, err := f.ReadAt(raw, pos); err != nil && !errors.Is(err, io.EOF) {
				return pos, err
			}
			if binary.BigEndian.Uint32(raw[offCRC:]) != crc32.Checksum(raw[offAttributes:], castagnoli) {
				return pos, fmt.Errorf("batch at offset %d (position %d) fails its CRC32C check", h.base, pos)
			}
		}
		fn(h, pos, raw)
		next = h.last() + 1
		pos += h.size()
	}
	return pos, nil
}
