package commitlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// numBatchesToRetain is how many recent batches per producer are remembered for
// de-duplication (Kafka's NUM_BATCHES_TO_RETAIN; clients keep at most 5 in flight).
const numBatchesToRetain = 5

type batchMeta struct {
	FirstSeq int32 `json:"first_seq"`
	LastSeq  int32 `json:"last_seq"`
	First    int64 `json:"first"`
	Last     int64 `json:"last"`
}

// producerState is what the log remembers of one idempotent producer.
type producerState struct {
	Epoch   int16       `json:"epoch"`
	Batches []batchMeta `json:"batches"` // oldest first
}

// lastSeq is the sequence of a batch's last record, wrapping after MaxInt32 as Kafka does.
func lastSeq(base, delta int32) int32 {
	if base > math.MaxInt32-delta {
		return delta - (math.MaxInt32 - base) - 1
	}
	return base + delta
}

func nextSeq(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

// check applies Kafka's idempotent-producer rules to a new batch. It returns the
// earlier batch when h is a duplicate of it. ps may be nil (unknown producer).
func (ps *producerState) check(h batchHeader) (*batchMeta, error) {
	if ps != nil && h.epoch < ps.Epoch {
		// Also when a marker bumped the epoch and no batch followed yet.
		return nil, fmt.Errorf("%w: epoch %d is older than the producer's current epoch %d", ErrInvalidProducerEpoch, h.epoch, ps.Epoch)
	}
	if ps == nil || len(ps.Batches) == 0 {
		return nil, nil // unknown producer (or expired state): accept any sequence
	}
	switch {
	case h.epoch > ps.Epoch:
		if h.baseSeq != 0 {
			return nil, fmt.Errorf("%w: a new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, h.epoch, h.baseSeq)
		}
		return nil, nil
	}
	ls := lastSeq(h.baseSeq, h.lastDelta)
	for i := range ps.Batches {
		if b := &ps.Batches[i]; b.FirstSeq == h.baseSeq && b.LastSeq == ls {
			return b, nil
		}
	}
	if want := nextSeq(ps.Batches[len(ps.Batches)-1].LastSeq); h.baseSeq != want {
		return nil, fmt.Errorf("%w: expected sequence %d, got %d", ErrOutOfOrderSequence, want, h.baseSeq)
	}
	return nil, nil
}

// record remembers a stored batch.
func (ps *producerState) record(h batchHeader) {
	if h.attrs&attrControl != 0 || h.baseSeq < 0 {
		// Markers and the broker's own batches carry no sequence: they only
		// move the epoch (a bumped epoch fences the older one).
		if h.epoch > ps.Epoch {
			ps.Epoch, ps.Batches = h.epoch, nil
		}
		return
	}
	if h.epoch != ps.Epoch {
		ps.Epoch, ps.Batches = h.epoch, nil
	}
	ps.Batches = append(ps.Batches, batchMeta{FirstSeq: h.baseSeq, LastSeq: lastSeq(h.baseSeq, h.lastDelta), First: h.base, Last: h.last()})
	if len(ps.Batches) > numBatchesToRetain {
		ps.Batches = ps.Batches[len(ps.Batches)-numBatchesToRetain:]
	}
}

type producerSnapshot struct {
	Version   int                      `json:"version"`
	Offset    int64                    `json:"offset"` // the state covers every batch below this offset
	Producers map[int64]*producerState `json:"producers"`
}

// snapshot is a marshalled producer-state snapshot covering offsets below at.
type snapshot struct {
	at  int64
	raw []byte
}

// marshalProducersLocked captures the producer state. l.mu must be held.
func (l *Log) marshalProducersLocked() (*snapshot, error) {
	raw, err := json.Marshal(producerSnapshot{Version: 1, Offset: l.end, Producers: l.producers})
	if err != nil {
		return nil, fmt.Errorf("commitlog: encode producer state: %w", err)
	}
	return &snapshot{at: l.end, raw: raw}, nil
}

// writeSnapshot writes a snapshot atomically unless a newer one is already on disk.
func (l *Log) writeSnapshot(s *snapshot) error {
	l.snapMu.Lock()
	defer l.snapMu.Unlock()
	if s.at < l.snapAt {
		return nil
	}
	if err := WriteFileAtomic(filepath.Join(l.dir, producersFile), s.raw); err != nil {
		return fmt.Errorf("commitlog: save producer state: %w", err)
	}
	l.snapAt = s.at
	return nil
}

// loadProducers restores producer state: the snapshot, then every batch after
// the offset it covers (all batches when there is no usable snapshot).
func (l *Log) loadProducers() error {
	from := int64(-1)
	raw, err := os.ReadFile(filepath.Join(l.dir, producersFile))
	if err == nil {
		var snap producerSnapshot
		if json.Unmarshal(raw, &snap) == nil && snap.Version == 1 && snap.Offset <= l.end && snap.Producers != nil {
			l.producers, from = snap.Producers, snap.Offset
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if from < 0 {
		l.producers, from = map[int64]*producerState{}, -1
	}
	for _, s := range l.segs {
		if s.next <= from {
			continue
		}
		_, err := scanSegment(s.f, s.size, s.base, false, func(h batchHeader, _ int64, _ []byte) {
			if h.producerID < 0 || h.base < from {
				return
			}
			ps := l.producers[h.producerID]
			if ps == nil {
				ps = &producerState{}
				l.producers[h.producerID] = ps
			}
			ps.record(h)
		})
		if err != nil {
			return fmt.Errorf("rebuild producer state: %w", err)
		}
	}
	return nil
}
