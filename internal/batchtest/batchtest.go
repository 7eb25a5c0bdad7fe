// Package batchtest builds Kafka record batches v2 for tests, the way clients
// encode them (including every compression codec), so that tests of the log and
// the broker feed them real wire bytes.
package batchtest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Codec numbers as in the batch attributes. SnappyRaw is snappy without the
// xerial framing (what some non-Java clients send).
const (
	None      = 0
	Gzip      = 1
	Snappy    = 2
	Lz4       = 3
	Zstd      = 4
	SnappyRaw = 102
)

// Spec describes one batch.
type Spec struct {
	ProducerID  int64 // -1 for a non-idempotent batch
	Epoch       int16
	Sequence    int32
	TimestampMs int64    // first record's timestamp
	StepMs      int64    // added per record
	Codec       int      // one of the codec constants
	Values      []string // one record each; keys are nil
}

// Build encodes the batch with a valid CRC32C.
func Build(s Spec) []byte {
	var recs []byte
	for i, v := range s.Values {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, int64(i)*s.StepMs)
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, -1)
		body = binary.AppendVarint(body, int64(len(v)))
		body = append(body, v...)
		body = binary.AppendVarint(body, 0)
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	codec := s.Codec
	switch s.Codec {
	case Gzip:
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write(recs)
		w.Close()
		recs = b.Bytes()
	case Snappy:
		// xerial framing, as the Java client writes it
		var b bytes.Buffer
		b.Write([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1})
		enc := snappy.Encode(nil, recs)
		binary.Write(&b, binary.BigEndian, int32(len(enc)))
		b.Write(enc)
		recs = b.Bytes()
	case SnappyRaw:
		recs, codec = snappy.Encode(nil, recs), Snappy
	case Lz4:
		var b bytes.Buffer
		w := lz4.NewWriter(&b)
		w.Write(recs)
		w.Close()
		recs = b.Bytes()
	case Zstd:
		enc, _ := zstd.NewWriter(nil)
		recs = enc.EncodeAll(recs, nil)
	}
	n := int32(len(s.Values))
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec),
		LastOffsetDelta: n - 1, FirstTimestamp: s.TimestampMs, MaxTimestamp: s.TimestampMs + int64(n-1)*s.StepMs,
		ProducerID: s.ProducerID, ProducerEpoch: s.Epoch, FirstSequence: s.Sequence, NumRecords: n, Records: recs,
	}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}
