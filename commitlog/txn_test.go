package commitlog

import (
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/tickertape/tickertape/internal/batchtest"
)

func txnBatch(pid int64, epoch int16, seq int32, vals ...string) []byte {
	b := batchtest.Build(batchtest.Spec{ProducerID: pid, Epoch: epoch, Sequence: seq, TimestampMs: 1000, Values: vals})
	binary.BigEndian.PutUint16(b[offAttributes:], binary.BigEndian.Uint16(b[offAttributes:])|attrTransactional)
	return withCRC(b)
}

func mustMarker(t *testing.T, l *Log, pid int64, epoch int16, commit bool) AppendResult {
	t.Helper()
	r, err := l.AppendMarker(pid, epoch, commit, 0)
	if err != nil {
		t.Fatalf("marker: %v", err)
	}
	return r
}

// Two producers interleave: 7 aborts, 8 commits. The LSO holds at the oldest
// open transaction, the abort is listed (and in .txnindex, Kafka's format),
// and all of it survives a crash and a reopen.
func TestTransactionsLSOAndAbortedIndex(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	mustAppend(t, l, batch("plain"))                     // 0
	a := mustAppend(t, l, txnBatch(7, 0, 0, "a1", "a2")) // 1-2
	mustAppend(t, l, txnBatch(8, 0, 0, "b1"))            // 3
	if got := l.LastStableOffset(); got != 1 {
		t.Fatalf("LSO with 7 open from 1: %d", got)
	}
	mustAppend(t, l, txnBatch(7, 0, 2, "a3")) // 4
	m7 := mustMarker(t, l, 7, 0, false)       // 5
	mustAppend(t, l, batch("plain2"))         // 6
	if err := l.WaitDurable(t.Context(), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got := l.LastStableOffset(); got != 3 {
		t.Fatalf("LSO with 8 open from 3: %d", got)
	}
	m8 := mustMarker(t, l, 8, 0, true) // 7
	if err := l.WaitDurable(t.Context(), l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got, hw := l.LastStableOffset(), l.HighWatermark(); got != hw || hw != 8 {
		t.Fatalf("LSO %d, HW %d: want both 8", got, hw)
	}
	want := []AbortedTxn{{ProducerID: 7, FirstOffset: a.BaseOffset, LastOffset: m7.BaseOffset, LastStableOffset: 3}}
	if got := l.AbortedTxns(0, 8); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted: %+v, want %+v", got, want)
	}
	if got := l.AbortedTxns(6, 8); got != nil {
		t.Fatalf("aborted from 6 (after the marker): %+v", got)
	}
	if got := l.AbortedTxns(0, 1); got != nil {
		t.Fatalf("aborted below 1: %+v", got)
	}
	raw, err := os.ReadFile(segmentName(dir, 0, ".txnindex"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseTxnIndex(raw); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf(".txnindex: %+v %v", got, err)
	}
	// The marker is a control batch with Kafka's record layout.
	data, err := l.Read(m8.BaseOffset, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := Info(data)
	recs, err := Records(data)
	if err != nil || !info.Control || !info.Transactional || info.ProducerID != 8 || len(recs) != 1 {
		t.Fatalf("marker batch: %+v %v %v", info, recs, err)
	}
	if typ, err := ControlType(recs[0].Key); err != nil || typ != ControlCommit || len(recs[0].Value) != 6 {
		t.Fatalf("marker record: type %d %v, value %x", typ, err, recs[0].Value)
	}
	// A stale epoch is fenced, for markers and for data.
	if _, err := l.AppendMarker(8, 2, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendMarker(8, 1, true, 0); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("stale marker: %v", err)
	}
	if _, err := l.Append(txnBatch(8, 1, 1, "zombie")); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("zombie batch: %v", err)
	}
	// An open transaction at a crash is still open after recovery.
	mustAppend(t, l, txnBatch(9, 0, 0, "open")) // 9
	l.crash()
	os.Remove(segmentName(dir, 0, ".txnindex")) // rebuilt from the log
	l2 := openLog(t, dir)
	if got := l2.AbortedTxns(0, 100); !reflect.DeepEqual(got, want) {
		t.Fatalf("aborted after reopen: %+v", got)
	}
	if got := l2.LastStableOffset(); got != 9 {
		t.Fatalf("LSO after reopen with 9 open: %d", got)
	}
	if raw2, err := os.ReadFile(segmentName(dir, 0, ".txnindex")); err != nil || string(raw2) != string(raw) {
		t.Fatalf(".txnindex not rebuilt: %x %v", raw2, err)
	}
	// Producer 8's sequences were not disturbed by the markers: epoch 2 starts at 0.
	if _, err := l2.Append(txnBatch(8, 2, 0, "b again")); err != nil {
		t.Fatalf("epoch 2 after markers: %v", err)
	}
	mustMarker(t, l2, 9, 0, false)
	if err := l2.WaitDurable(t.Context(), l2.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got := l2.LastStableOffset(); got != 10 { // 8 is open again from 10
		t.Fatalf("LSO: %d", got)
	}
}

func TestClientControlBatchRefused(t *testing.T) {
	l := openLog(t, t.TempDir())
	b := controlBatch(3, 0, true, 0, 1000)
	if _, err := l.Append(b); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("client marker: %v", err)
	}
	b = batchtest.Build(batchtest.Spec{ProducerID: -1, Values: []string{"x"}})
	binary.BigEndian.PutUint16(b[offAttributes:], attrTransactional)
	if _, err := l.Append(withCRC(b)); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("transactional without producer: %v", err)
	}
}

func FuzzTxnIndex(f *testing.F) {
	f.Add(appendTxnIndexEntry(nil, AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 5, LastStableOffset: 6}))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseTxnIndex(data)
		if err != nil {
			return
		}
		var back []byte
		for _, a := range got {
			back = appendTxnIndexEntry(back, a)
		}
		if string(back) != string(data) {
			t.Fatalf("round trip changed the index")
		}
	})
}

func FuzzControlType(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, key []byte) {
		typ, err := ControlType(key)
		if err == nil && typ != ControlAbort && typ != ControlCommit {
			t.Fatalf("type %d accepted", typ)
		}
	})
}
