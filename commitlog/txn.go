package commitlog

// Transactions in the log: transactional batches (attribute bit 4) open a
// transaction for their producer at their base offset; a control batch
// (attribute bit 5) holding one commit or abort marker closes it. The last
// stable offset (LSO) is the first offset of the oldest open transaction, or
// the high watermark when none is open. Every aborted transaction is listed
// in the .txnindex file of the segment holding its abort marker, in Kafka's
// format (version int16 = 0, producer id int64, first offset int64, last
// offset int64 = the marker's offset, last stable offset int64; 34 bytes,
// big-endian), so that Kafka's DumpLogSegments reads it.
//
// Both the open transactions and the aborted list are rebuilt from the
// segments on every Open (recover scans every batch header anyway; only
// control batches are read whole), so neither can disagree with the log
// after a crash; the .txnindex files are rewritten from that scan.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sort"
)

const (
	attrTransactional = 0x10
	attrControl       = 0x20
	txnIndexEntrySize = 34
)

// Control record types (the key's second int16).
const (
	ControlAbort  = 0
	ControlCommit = 1
)

// AbortedTxn is one aborted transaction: its producer, its first offset and
// the offset of its abort marker (LastOffset), as Fetch's AbortedTransactions
// and Kafka's .txnindex carry them.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// BatchInfo is what a reader of stored batches needs of a batch header.
type BatchInfo struct {
	BaseOffset    int64
	LastOffset    int64
	ProducerID    int64
	ProducerEpoch int16
	Transactional bool
	Control       bool
}

// Info parses the header of a stored batch (as Read and NextBatch return it).
// ok is false when batch is shorter than a header.
func Info(batch []byte) (BatchInfo, bool) {
	if len(batch) < batchHeaderSize {
		return BatchInfo{}, false
	}
	h := parseHeader(batch)
	return BatchInfo{
		BaseOffset: h.base, LastOffset: h.last(), ProducerID: h.producerID, ProducerEpoch: h.epoch,
		Transactional: h.attrs&attrTransactional != 0, Control: h.attrs&attrControl != 0,
	}, true
}

// ControlType decodes the key of a control record (version int16, type int16):
// ControlAbort or ControlCommit. Other keys are an error.
func ControlType(key []byte) (int16, error) {
	if len(key) < 4 {
		return -1, fmt.Errorf("%w: control record key is %d bytes, need 4", ErrInvalidRecord, len(key))
	}
	if v := int16(binary.BigEndian.Uint16(key)); v < 0 {
		return -1, fmt.Errorf("%w: control record key version %d", ErrInvalidRecord, v)
	}
	t := int16(binary.BigEndian.Uint16(key[2:]))
	if t != ControlAbort && t != ControlCommit {
		return -1, fmt.Errorf("%w: control record type %d is not a transaction marker", ErrInvalidRecord, t)
	}
	return t, nil
}

// controlBatch builds a marker batch: one control record whose key is
// (version 0, type) and whose value is (version 0, coordinator epoch).
func controlBatch(pid int64, epoch int16, commit bool, coordinatorEpoch int32, nowMs int64) []byte {
	typ := uint16(ControlAbort)
	if commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), typ)
	val := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), uint32(coordinatorEpoch))
	b := encodeBatch(batchHeader{firstTs: nowMs, maxTs: nowMs, producerID: pid, epoch: epoch, baseSeq: -1},
		-1, []Record{{TimestampMs: nowMs, Key: key, Value: val}})
	binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional|attrControl)
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// AppendMarker appends a commit or abort marker for producer pid at epoch,
// closing its open transaction (if any) in this partition. A marker with an
// epoch older than the producer's is refused (ErrInvalidProducerEpoch); a
// newer epoch becomes the producer's, fencing batches of older epochs.
// A marker for a producer without an open transaction is still written, as
// Kafka does (a coordinator retrying after a crash writes it again).
func (l *Log) AppendMarker(pid int64, epoch int16, commit bool, coordinatorEpoch int32) (AppendResult, error) {
	if pid < 0 {
		return AppendResult{}, fmt.Errorf("%w: a marker needs a producer id", ErrInvalidRecord)
	}
	return l.appendBatch(controlBatch(pid, epoch, commit, coordinatorEpoch, l.now().UnixMilli()), true, true)
}

// AppendUnsequenced appends a batch written by the broker itself on behalf of
// a producer (TxnOffsetCommit's offsets in __consumer_offsets): it carries the
// producer id and epoch, and may be transactional, but has no sequence
// numbers (base sequence -1). Only the epoch is checked.
func (l *Log) AppendUnsequenced(batch []byte) (AppendResult, error) {
	if len(batch) >= batchHeaderSize && binary.BigEndian.Uint16(batch[offAttributes:])&attrControl != 0 {
		return AppendResult{}, fmt.Errorf("%w: use AppendMarker for control batches", ErrInvalidRecord)
	}
	return l.appendBatch(batch, true, false)
}

// EncodeProducerBatch is EncodeBatch with producer fields and no sequence,
// optionally transactional, for AppendUnsequenced.
func EncodeProducerBatch(timestampMs int64, pid int64, epoch int16, transactional bool, recs []Record) []byte {
	b := EncodeBatch(timestampMs, recs)
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(pid))
	binary.BigEndian.PutUint16(b[offEpoch:], uint16(epoch))
	if transactional {
		binary.BigEndian.PutUint16(b[offAttributes:], binary.BigEndian.Uint16(b[offAttributes:])|attrTransactional)
	}
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

// txnState is the log's transaction bookkeeping, guarded by Log.mu.
type txnState struct {
	open    map[int64]int64 // producer id -> first offset of its open transaction
	aborted []AbortedTxn    // by LastOffset
}

// firstUnstableLocked returns the first offset of the oldest open
// transaction, or -1.
func (t *txnState) firstUnstable() int64 {
	first := int64(-1)
	for _, f := range t.open {
		if first < 0 || f < first {
			first = f
		}
	}
	return first
}

// apply updates the state for one stored batch; markerType is the control
// record's type for control batches. It returns the aborted transaction an
// abort marker closed (ok false otherwise). end is the offset after the batch.
func (t *txnState) apply(h batchHeader, markerType int16) (AbortedTxn, bool) {
	if h.producerID < 0 || h.attrs&attrTransactional == 0 {
		return AbortedTxn{}, false
	}
	if h.attrs&attrControl == 0 {
		if _, ok := t.open[h.producerID]; !ok {
			t.open[h.producerID] = h.base
		}
		return AbortedTxn{}, false
	}
	first, wasOpen := t.open[h.producerID]
	delete(t.open, h.producerID)
	if markerType != ControlAbort || !wasOpen {
		return AbortedTxn{}, false
	}
	lso := t.firstUnstable()
	if lso < 0 {
		lso = h.last() + 1
	}
	a := AbortedTxn{ProducerID: h.producerID, FirstOffset: first, LastOffset: h.last(), LastStableOffset: lso}
	t.aborted = append(t.aborted, a)
	return a, true
}

// markerTypeOf reads the control record type of a control batch.
func markerTypeOf(raw []byte) (int16, error) {
	recs, err := Records(raw)
	if err != nil {
		return -1, err
	}
	if len(recs) != 1 {
		return -1, fmt.Errorf("%w: control batch with %d records", ErrInvalidRecord, len(recs))
	}
	return ControlType(recs[0].Key)
}

func appendTxnIndexEntry(buf []byte, a AbortedTxn) []byte {
	buf = binary.BigEndian.AppendUint16(buf, 0)
	buf = binary.BigEndian.AppendUint64(buf, uint64(a.ProducerID))
	buf = binary.BigEndian.AppendUint64(buf, uint64(a.FirstOffset))
	buf = binary.BigEndian.AppendUint64(buf, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(buf, uint64(a.LastStableOffset))
}

// ParseTxnIndex decodes a .txnindex file.
func ParseTxnIndex(data []byte) ([]AbortedTxn, error) {
	if len(data)%txnIndexEntrySize != 0 {
		return nil, fmt.Errorf("%w: txnindex is %d bytes, not a multiple of %d", ErrCorruptBatch, len(data), txnIndexEntrySize)
	}
	out := make([]AbortedTxn, 0, len(data)/txnIndexEntrySize)
	for len(data) > 0 {
		if v := binary.BigEndian.Uint16(data); v != 0 {
			return nil, fmt.Errorf("%w: txnindex entry version %d", ErrCorruptBatch, v)
		}
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(data[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(data[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(data[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(data[26:])),
		}
		if a.FirstOffset < 0 || a.LastOffset < a.FirstOffset {
			return nil, fmt.Errorf("%w: txnindex entry with offsets %d-%d", ErrCorruptBatch, a.FirstOffset, a.LastOffset)
		}
		out = append(out, a)
		data = data[txnIndexEntrySize:]
	}
	return out, nil
}

// writeTxnIndexes rewrites every segment's .txnindex from the aborted list
// (removing it where a segment has none). Best effort: it is rebuilt on
// every Open.
func (l *Log) writeTxnIndexes() {
	for i, s := range l.segs {
		var buf []byte
		next := int64(1<<63 - 1)
		if i+1 < len(l.segs) {
			next = l.segs[i+1].base
		}
		for _, a := range l.txn.aborted {
			if a.LastOffset >= s.base && a.LastOffset < next {
				buf = appendTxnIndexEntry(buf, a)
			}
		}
		path := segmentName(l.dir, s.base, ".txnindex")
		if len(buf) == 0 {
			os.Remove(path)
			continue
		}
		if old, err := os.ReadFile(path); err == nil && string(old) == string(buf) {
			continue
		}
		if err := WriteFileAtomic(path, buf); err != nil {
			l.log.Warn("commitlog: writing a transaction index failed (it is rebuilt on the next start)", "path", path, "err", err)
		}
	}
}

// addTxnIndexEntryLocked appends one entry to the active segment's .txnindex.
func (l *Log) addTxnIndexEntryLocked(a AbortedTxn) {
	path := segmentName(l.dir, l.active().base, ".txnindex")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		_, err = f.Write(appendTxnIndexEntry(nil, a))
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		l.log.Warn("commitlog: writing a transaction index entry failed (it is rebuilt on the next start)", "path", path, "err", err)
	}
}

// LastStableOffset is the offset below which every transaction is decided:
// the first offset of the oldest open transaction, capped by the high
// watermark. read_committed consumers read up to it.
func (l *Log) LastStableOffset() int64 {
	hw := l.HighWatermark()
	l.mu.RLock()
	first := l.txn.firstUnstable()
	l.mu.RUnlock()
	if first >= 0 && first < hw {
		return first
	}
	return hw
}

// AbortedTxns lists the aborted transactions that may have records in
// [from, upTo): those whose abort marker is at or after from and whose first
// offset is below upTo, ordered by marker offset.
func (l *Log) AbortedTxns(from, upTo int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.txn.aborted), func(i int) bool { return l.txn.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range l.txn.aborted[i:] {
		if a.FirstOffset < upTo {
			out = append(out, a)
		}
	}
	return out
}

// OpenTxns returns the producers with an open transaction in this log and
// the first offset of each.
func (l *Log) OpenTxns() map[int64]int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make(map[int64]int64, len(l.txn.open))
	for k, v := range l.txn.open {
		out[k] = v
	}
	return out
}

// dropAbortedBeforeLocked forgets aborted transactions wholly below start
// (their segments are gone).
func (l *Log) dropAbortedBeforeLocked(start int64) {
	i := sort.Search(len(l.txn.aborted), func(i int) bool { return l.txn.aborted[i].LastOffset >= start })
	if i > 0 {
		l.txn.aborted = append([]AbortedTxn(nil), l.txn.aborted[i:]...)
	}
}
