package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Record is one decoded record of a record batch.
type Record struct {
	Offset      int64
	TimestampMs int64
	Key         []byte // nil for a null key
	Value       []byte // nil for a null value (a tombstone)
	Headers     []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Codec numbers of the record batch attributes (bits 0-2).
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLz4    = 3
	codecZstd   = 4
)

// maxDecompressed bounds what one batch may inflate to, so a hostile batch
// cannot exhaust memory.
const maxDecompressed = 256 << 20

var zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxDecompressed))

var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func decompress(codec int, src []byte) ([]byte, error) {
	switch codec {
	case codecNone:
		return src, nil
	case codecGzip:
		r, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, err
		}
		return readCapped(r)
	case codecSnappy:
		return decodeSnappy(src, maxDecompressed)
	case codecLz4:
		return readCapped(lz4.NewReader(bytes.NewReader(src)))
	case codecZstd:
		return zstdDec.DecodeAll(src, nil)
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
}

func readCapped(r io.Reader) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, errors.New("decompressed batch too large")
	}
	return out, nil
}

// NextBatch splits the first whole batch off data, as Read returns it, and
// returns the offset after that batch: its base offset plus its last offset
// delta plus one. Readers must advance by this and not by the last record's
// offset, since compaction leaves batches whose last records are gone (as in
// Kafka). ok is false when data holds no whole batch.
func NextBatch(data []byte) (batch, rest []byte, next int64, ok bool) {
	if len(data) < batchHeaderSize {
		return nil, data, 0, false
	}
	n := int64(binary.BigEndian.Uint32(data[offLength:])) + 12
	if n < batchHeaderSize || n > int64(len(data)) {
		return nil, data, 0, false
	}
	next = int64(binary.BigEndian.Uint64(data[offBaseOffset:])) + int64(int32(binary.BigEndian.Uint32(data[offLastDelta:]))) + 1
	return data[:n], data[n:], next, true
}

// Records decodes every record of one raw record batch v2 (as stored: starting
// with the BaseOffset field), decompressing it if needed. It checks framing but
// not the CRC (see Append for validation).
func Records(batch []byte) ([]Record, error) {
	if len(batch) < batchHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(batch))
	}
	if batch[16] != 2 {
		return nil, fmt.Errorf("%w: magic %d", ErrInvalidRecord, batch[16])
	}
	base := int64(binary.BigEndian.Uint64(batch[0:]))
	attrs := binary.BigEndian.Uint16(batch[21:])
	firstTs := int64(binary.BigEndian.Uint64(batch[27:]))
	maxTs := int64(binary.BigEndian.Uint64(batch[35:]))
	count := int32(binary.BigEndian.Uint32(batch[57:]))
	if count < 0 || int64(count) > int64(len(batch))*maxDecompressed {
		return nil, fmt.Errorf("%w: record count %d", ErrCorruptBatch, count)
	}
	data, err := decompress(int(attrs&0x07), batch[batchHeaderSize:])
	if err != nil {
		return nil, fmt.Errorf("%w: decompress: %v", ErrCorruptBatch, err)
	}
	logAppend := attrs&0x08 != 0
	recs := make([]Record, 0, min(int(count), len(data)/7+1))
	for i := int32(0); i < count; i++ {
		length, n := binary.Varint(data)
		if n <= 0 || length < 0 || int64(len(data)-n) < length {
			return nil, fmt.Errorf("%w: record %d: bad length", ErrCorruptBatch, i)
		}
		body := data[n : n+int(length)]
		data = data[n+int(length):]
		r, err := parseRecord(body)
		if err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorruptBatch, i, err)
		}
		r.Offset += base
		if logAppend {
			r.TimestampMs = maxTs
		} else {
			r.TimestampMs += firstTs
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// recordReader is a sticky-error reader over one record body.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) bytes() []byte {
	n := r.varint()
	if r.err != nil || n < 0 {
		return nil
	}
	if n > int64(len(r.b)) {
		r.err = errors.New("field past the end of the record")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func parseRecord(body []byte) (Record, error) {
	if len(body) < 1 {
		return Record{}, errors.New("empty record")
	}
	r := &recordReader{b: body[1:]} // attributes byte is unused
	var rec Record
	rec.TimestampMs = r.varint()
	rec.Offset = r.varint()
	rec.Key = r.bytes()
	rec.Value = r.bytes()
	nh := r.varint()
	if r.err == nil && (nh < 0 || nh > int64(len(r.b))) {
		return Record{}, fmt.Errorf("header count %d", nh)
	}
	for i := int64(0); i < nh && r.err == nil; i++ {
		k := r.bytes()
		v := r.bytes()
		rec.Headers = append(rec.Headers, Header{Key: string(k), Value: v})
	}
	if r.err != nil {
		return Record{}, r.err
	}
	return rec, nil
}

// EncodeBatch builds an uncompressed, non-idempotent record batch v2 holding
// recs (their Offset fields are ignored; offsets are 0..n-1 relative), for the
// broker's own internal topics. The log assigns the base offset on Append.
func EncodeBatch(timestampMs int64, recs []Record) []byte {
	maxTs := timestampMs
	for i := range recs {
		recs[i].Offset = int64(i)
		maxTs = max(maxTs, recs[i].TimestampMs)
	}
	return encodeBatch(batchHeader{
		base: 0, lastDelta: int32(len(recs) - 1), firstTs: timestampMs, maxTs: maxTs,
		producerID: -1, epoch: -1, baseSeq: -1,
	}, -1, recs)
}

// encodeBatch writes an uncompressed batch with h's header fields (base offset,
// last offset delta, timestamps, producer fields; the timestamp-type bit of
// h.attrs and its transactional bit) holding recs at their own offsets, which may leave gaps, as after
// compaction.
func encodeBatch(h batchHeader, leaderEpoch int32, recs []Record) []byte {
	b := make([]byte, batchHeaderSize, batchHeaderSize+64*len(recs))
	for _, r := range recs {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, r.TimestampMs-h.firstTs)
		body = binary.AppendVarint(body, r.Offset-h.base)
		body = appendVarBytes(body, r.Key)
		body = appendVarBytes(body, r.Value)
		body = binary.AppendVarint(body, int64(len(r.Headers)))
		for _, hd := range r.Headers {
			body = appendVarBytes(body, []byte(hd.Key))
			body = appendVarBytes(body, hd.Value)
		}
		b = binary.AppendVarint(b, int64(len(body)))
		b = append(b, body...)
	}
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(h.base))
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(leaderEpoch))
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], h.attrs&(0x08|attrTransactional))
	binary.BigEndian.PutUint32(b[offLastDelta:], uint32(h.lastDelta))
	binary.BigEndian.PutUint64(b[offFirstTs:], uint64(h.firstTs))
	binary.BigEndian.PutUint64(b[offMaxTs:], uint64(h.maxTs))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(h.producerID))
	binary.BigEndian.PutUint16(b[offEpoch:], uint16(h.epoch))
	binary.BigEndian.PutUint32(b[offBaseSeq:], uint32(h.baseSeq))
	binary.BigEndian.PutUint32(b[offCount:], uint32(len(recs)))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func appendVarBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(b, -1)
	}
	return append(binary.AppendVarint(b, int64(len(v))), v...)
}
