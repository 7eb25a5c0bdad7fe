package commitlog

// Record validation before a client batch is stored, as Kafka's LogValidator
// does it: every record of the batch is walked (a compressed batch is inflated
// as a stream, never as a whole, and only up to a bound), so a batch whose
// header lies about its records never reaches the log, where it would break
// every reader after it.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Limits are the per-topic rules ValidateRecords applies.
type Limits struct {
	// NowMs is the broker's clock, against which timestamps are checked.
	NowMs int64
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms: how
	// far a CreateTime record's timestamp may lie behind or ahead of NowMs.
	// math.MaxInt64 means no limit. They are not applied with LogAppendTime.
	TimestampBeforeMaxMs, TimestampAfterMaxMs int64
	// LogAppendTime is message.timestamp.type=LogAppendTime.
	LogAppendTime bool
	// KeyRequired is set for compacted topics: every record needs a key.
	KeyRequired bool
	// MaxInflatedBytes bounds what a compressed batch may inflate to (0 = 256 MiB).
	MaxInflatedBytes int64
}

// Errors of ValidateRecords besides ErrCorruptBatch and ErrInvalidRecord.
var (
	ErrInvalidTimestamp = errors.New("commitlog: invalid timestamp")         // INVALID_TIMESTAMP (32)
	ErrRecordTooLarge   = errors.New("commitlog: record batch is too large") // RECORD_TOO_LARGE (10)
)

// minRecordBytes is the smallest encoded record: a length varint and six
// one-byte fields (attributes, timestamp delta, offset delta, key length, value
// length, header count).
const minRecordBytes = 7

// ValidateRecords checks one client record batch v2 the way Kafka's log
// validator does before storing it: the header (length, magic, CRC32C, offset
// range against the record count, no control or LogAppendTime batches from
// clients, a sequence for idempotent batches), then every record: its length,
// varints, offset delta (0, 1, 2, ...), header sizes, that the records fill
// the batch exactly, timestamps within lim's bounds, the header's MaxTimestamp
// equal to the largest record timestamp, and keys on compacted topics. The
// error wraps ErrCorruptBatch, ErrInvalidRecord, ErrInvalidTimestamp or
// ErrRecordTooLarge and says which record is wrong.
//
// Uncompressed batches are walked in place without allocating; compressed
// ones are inflated as a stream through a small buffer, so memory stays near
// the largest single record however far the batch would inflate.
func ValidateRecords(batch []byte, lim Limits) error {
	_, err := CheckRecords(batch, lim)
	return err
}

// Checked is a batch CheckRecords accepted, for AppendChecked.
type Checked struct {
	b []byte
	h batchHeader
}

// CheckRecords is ValidateRecords returning the batch it accepted, so that
// Log.AppendChecked stores it without checking its CRC32C a second time.
func CheckRecords(batch []byte, lim Limits) (Checked, error) {
	h, err := validateBatch(batch)
	if err != nil {
		return Checked{}, err
	}
	if err := validateRecordsOf(batch, h, lim); err != nil {
		return Checked{}, err
	}
	return Checked{batch, h}, nil
}

// validateRecordsOf checks batch's records and what ValidateRecords checks
// beyond validateBatch; h is batch's header.
func validateRecordsOf(batch []byte, h batchHeader, lim Limits) error {
	if h.producerID >= 0 && h.baseSeq < 0 {
		return fmt.Errorf("%w: sequence number %d in a batch of producer id %d", ErrInvalidRecord, h.baseSeq, h.producerID)
	}
	if h.attrs&0x08 != 0 {
		return fmt.Errorf("%w: producers must not set the LogAppendTime timestamp type", ErrInvalidTimestamp)
	}
	maxInflated := lim.MaxInflatedBytes
	if maxInflated <= 0 {
		maxInflated = maxDecompressed
	}
	payload := batch[batchHeaderSize:]
	codec := int(h.attrs & 0x07)
	if codec == codecNone {
		if int64(h.count) > int64(len(payload))/minRecordBytes {
			return fmt.Errorf("%w: the header declares %d records but the batch holds %d bytes of records", ErrInvalidRecord, h.count, len(payload))
		}
		src := sliceRecords{b: payload}
		return walkRecords(h, &src, lim)
	}
	if int64(h.count) > maxInflated/minRecordBytes {
		return fmt.Errorf("%w: the header declares %d records, more than %d bytes could inflate to", ErrRecordTooLarge, h.count, maxInflated)
	}
	rd, release, err := inflater(codec, payload, maxInflated)
	if errors.Is(err, errTooLarge) {
		return fmt.Errorf("%w: %v", ErrRecordTooLarge, err)
	}
	if err != nil {
		return fmt.Errorf("%w: %s data: %v", ErrCorruptBatch, codecName(codec), err)
	}
	defer release()
	src := streamRecords{r: rd, limit: maxInflated}
	return walkRecords(h, &src, lim)
}

// recordSource yields the records of a batch one at a time.
type recordSource interface {
	// next returns the next record's body; io.EOF when no byte is left.
	next() ([]byte, error)
	// empty reports whether nothing follows the last record read.
	empty() (bool, error)
}

type sliceRecords struct{ b []byte }

func (s *sliceRecords) next() ([]byte, error) {
	if len(s.b) == 0 {
		return nil, io.EOF
	}
	n, w := binary.Varint(s.b)
	if w <= 0 {
		return nil, errors.New("bad record length varint")
	}
	if n < 0 || n > int64(len(s.b)-w) {
		return nil, fmt.Errorf("record length %d runs past the end of the batch", n)
	}
	body := s.b[w : w+int(n)]
	s.b = s.b[w+int(n):]
	return body, nil
}

func (s *sliceRecords) empty() (bool, error) { return len(s.b) == 0, nil }

// streamRecords reads records from an inflating reader, bounded to limit bytes.
type streamRecords struct {
	r     *bufio.Reader
	buf   []byte
	read  int64
	limit int64
}

func (s *streamRecords) next() ([]byte, error) {
	n, err := binary.ReadVarint(s.r)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, fmt.Errorf("bad record length varint: %w", err)
	}
	var tmp [binary.MaxVarintLen64]byte
	s.read += int64(binary.PutVarint(tmp[:], n))
	if n < 0 {
		return nil, fmt.Errorf("record length %d", n)
	}
	if s.read+n > s.limit {
		return nil, errTooLarge
	}
	// Grow with what actually arrives, so a record that claims a large
	// length without the data to back it costs nothing.
	s.buf = s.buf[:0]
	for int64(len(s.buf)) < n {
		chunk := int(min(n-int64(len(s.buf)), 64<<10))
		if cap(s.buf)-len(s.buf) < chunk {
			s.buf = append(s.buf[:cap(s.buf)], make([]byte, chunk)...)[:len(s.buf)]
		}
		k, err := io.ReadFull(s.r, s.buf[len(s.buf):len(s.buf)+chunk])
		s.buf = s.buf[:len(s.buf)+k]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("record length %d runs past the end of the batch: %w", n, err)
		}
	}
	s.read += n
	body := s.buf
	if cap(s.buf) > 4<<20 {
		s.buf = nil // do not keep a huge buffer for the records after it
	}
	return body, nil
}

func (s *streamRecords) empty() (bool, error) {
	_, err := s.r.Peek(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

var errTooLarge = errors.New("inflated past the bound")

func walkRecords(h batchHeader, src recordSource, lim Limits) error {
	maxTs := int64(math.MinInt64)
	for i := int32(0); i < h.count; i++ {
		body, err := src.next()
		if err == io.EOF {
			return fmt.Errorf("%w: the header declares %d records but the batch holds %d", ErrInvalidRecord, h.count, i)
		}
		if err == errTooLarge {
			return fmt.Errorf("%w: record %d: the batch inflates past %d bytes", ErrRecordTooLarge, i, lim.maxInflated())
		}
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrCorruptBatch, i, err)
		}
		tsDelta, offDelta, hasKey, err := checkRecord(body)
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrInvalidRecord, i, err)
		}
		if offDelta != int64(i) {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, offDelta)
		}
		if lim.KeyRequired && !hasKey {
			return fmt.Errorf("%w: record %d has no key: a compacted topic cannot accept records without a key", ErrInvalidRecord, i)
		}
		ts := h.firstTs + tsDelta
		maxTs = max(maxTs, ts)
		if !lim.LogAppendTime && ts != -1 {
			if err := lim.checkTimestamp(ts); err != nil {
				return fmt.Errorf("%w: record %d: %v", ErrInvalidTimestamp, i, err)
			}
		}
	}
	if empty, err := src.empty(); err != nil {
		return fmt.Errorf("%w: after the last record: %v", ErrCorruptBatch, err)
	} else if !empty {
		return fmt.Errorf("%w: bytes follow the %d records the header declares", ErrInvalidRecord, h.count)
	}
	if !lim.LogAppendTime && h.maxTs != maxTs {
		return fmt.Errorf("%w: the batch's MaxTimestamp %d is not its records' largest timestamp %d", ErrInvalidTimestamp, h.maxTs, maxTs)
	}
	return nil
}

func (lim Limits) maxInflated() int64 {
	if lim.MaxInflatedBytes <= 0 {
		return maxDecompressed
	}
	return lim.MaxInflatedBytes
}

func (lim Limits) checkTimestamp(ts int64) error {
	// Differences in uint64: both ends are int64, so the true distance fits.
	if ts < lim.NowMs && uint64(lim.NowMs)-uint64(ts) > uint64(lim.TimestampBeforeMaxMs) {
		return fmt.Errorf("timestamp %d is more than message.timestamp.before.max.ms=%d before the broker's time %d", ts, lim.TimestampBeforeMaxMs, lim.NowMs)
	}
	if ts > lim.NowMs && uint64(ts)-uint64(lim.NowMs) > uint64(lim.TimestampAfterMaxMs) {
		return fmt.Errorf("timestamp %d is more than message.timestamp.after.max.ms=%d after the broker's time %d", ts, lim.TimestampAfterMaxMs, lim.NowMs)
	}
	return nil
}

// checkRecord walks one record body without allocating: attributes,
// timestamp delta, offset delta, key, value, headers, and nothing after.
func checkRecord(body []byte) (tsDelta, offDelta int64, hasKey bool, err error) {
	if len(body) < 1 {
		return 0, 0, false, errors.New("empty record")
	}
	r := recordReader{b: body[1:]}
	tsDelta = r.varint()
	offDelta = r.varint()
	keyLen := r.varint()
	if r.err == nil {
		if keyLen < -1 || keyLen > int64(len(r.b)) {
			return 0, 0, false, fmt.Errorf("key length %d", keyLen)
		}
		hasKey = keyLen >= 0
		r.b = r.b[max(keyLen, 0):]
	}
	r.skipBytes("value", true)
	nh := r.varint()
	if r.err == nil && (nh < 0 || nh > int64(len(r.b))/2) {
		return 0, 0, false, fmt.Errorf("header count %d", nh)
	}
	for i := int64(0); i < nh && r.err == nil; i++ {
		r.skipBytes("header key", false)
		r.skipBytes("header value", true)
	}
	if r.err != nil {
		return 0, 0, false, r.err
	}
	if len(r.b) != 0 {
		return 0, 0, false, fmt.Errorf("%d bytes after the record's last field", len(r.b))
	}
	return tsDelta, offDelta, hasKey, nil
}

// skipBytes skips a varint-length field; -1 (null) is allowed when nullable.
func (r *recordReader) skipBytes(what string, nullable bool) {
	n := r.varint()
	if r.err != nil {
		return
	}
	switch {
	case n == -1 && nullable:
	case n < 0 || n > int64(len(r.b)):
		r.err = fmt.Errorf("%s length %d", what, n)
	default:
		r.b = r.b[n:]
	}
}

func codecName(codec int) string {
	switch codec {
	case codecGzip:
		return "gzip"
	case codecSnappy:
		return "snappy"
	case codecLz4:
		return "lz4"
	case codecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec %d", codec)
}

var (
	bufPool  = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
	zstdPool sync.Pool // *zstd.Decoder, single-goroutine, low memory
	gzipPool sync.Pool // *gzip.Reader
	lz4Pool  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
)

// inflater returns a buffered reader of src's decompressed bytes, never
// yielding more than limit+1 of them, and a function that returns the
// decoders to their pools.
func inflater(codec int, src []byte, limit int64) (*bufio.Reader, func(), error) {
	var r io.Reader
	var put func()
	switch codec {
	case codecGzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return nil, nil, err
		}
		r, put = zr, func() { gzipPool.Put(zr) }
	case codecSnappy:
		// Snappy states its decoded length up front: check it, then decode.
		out, err := decodeSnappy(src, limit)
		if err != nil {
			return nil, nil, err
		}
		r, put = bytes.NewReader(out), func() {}
	case codecLz4:
		lr := lz4Pool.Get().(*lz4.Reader)
		lr.Reset(bytes.NewReader(src))
		r, put = lr, func() { lz4Pool.Put(lr) }
	case codecZstd:
		zd, _ := zstdPool.Get().(*zstd.Decoder)
		if zd == nil {
			var err error
			zd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(uint64(maxDecompressed)))
			if err != nil {
				return nil, nil, err
			}
		}
		if err := zd.Reset(bytes.NewReader(src)); err != nil {
			zstdPool.Put(zd)
			return nil, nil, err
		}
		r, put = zd, func() { zd.Reset(nil); zstdPool.Put(zd) }
	default:
		return nil, nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	br := bufPool.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(r, limit+1))
	return br, func() { br.Reset(nil); bufPool.Put(br); put() }, nil
}

// decodeSnappy decodes raw or xerial-framed snappy, refusing output over limit.
func decodeSnappy(src []byte, limit int64) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialHeader) {
		n, err := snappy.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if int64(n) > limit {
			return nil, errTooLargeSnappy(limit)
		}
		return snappy.Decode(nil, src)
	}
	if len(src) < 16 {
		return nil, errors.New("truncated xerial snappy header")
	}
	src = src[16:]
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errors.New("truncated xerial snappy block length")
		}
		n := int(binary.BigEndian.Uint32(src))
		src = src[4:]
		if n < 0 || n > len(src) {
			return nil, errors.New("xerial snappy block length past the end")
		}
		dl, err := snappy.DecodedLen(src[:n])
		if err != nil {
			return nil, err
		}
		if int64(len(out)+dl) > limit {
			return nil, errTooLargeSnappy(limit)
		}
		block, err := snappy.Decode(nil, src[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, block...)
		src = src[n:]
	}
	return out, nil
}

func errTooLargeSnappy(limit int64) error {
	return fmt.Errorf("snappy data %w of %d bytes", errTooLarge, limit)
}

// inflateSlots bounds how many stored batches are inflated at once for
// lookups (ListOffsets by timestamp), so that concurrent lookups in
// compressed data cannot take the memory and CPU of everyone else.
var inflateSlots = make(chan struct{}, 2)

// recordTimes calls fn with the offset and timestamp of each record of a
// stored batch, in order, until fn returns false. A compressed batch is
// inflated as a stream, so the walk costs one record's memory and stops at
// the record fn wants.
func recordTimes(batch []byte, fn func(offset, ts int64) bool) error {
	if len(batch) < batchHeaderSize {
		return fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(batch))
	}
	h := parseHeader(batch)
	var src recordSource
	if codec := int(h.attrs & 0x07); codec == codecNone {
		src = &sliceRecords{b: batch[batchHeaderSize:]}
	} else {
		inflateSlots <- struct{}{}
		defer func() { <-inflateSlots }()
		rd, release, err := inflater(codec, batch[batchHeaderSize:], maxDecompressed)
		if err != nil {
			return fmt.Errorf("%w: %s data: %v", ErrCorruptBatch, codecName(codec), err)
		}
		defer release()
		src = &streamRecords{r: rd, limit: maxDecompressed}
	}
	for i := int32(0); i < h.count; i++ {
		body, err := src.next()
		if err != nil {
			return fmt.Errorf("%w: batch at offset %d, record %d: %v", ErrCorruptBatch, h.base, i, err)
		}
		r := recordReader{b: body}
		if len(body) > 0 {
			r.b = body[1:]
		}
		tsDelta := r.varint()
		offDelta := r.varint()
		if r.err != nil {
			return fmt.Errorf("%w: batch at offset %d, record %d: %v", ErrCorruptBatch, h.base, i, r.err)
		}
		ts := h.firstTs + tsDelta
		if h.attrs&0x08 != 0 {
			ts = h.maxTs
		}
		if !fn(h.base+offDelta, ts) {
			return nil
		}
	}
	return nil
}
