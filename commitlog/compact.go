package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// Compact does log compaction (cleanup.policy=compact) on the closed segments:
// every keyed record that a later record with the same key supersedes is
// removed, and so are tombstones (null values) whose batch is older than
// deleteRetention. Offsets never change: a batch keeps its base and last
// offsets (gaps are allowed inside, as in Kafka); a batch whose records all
// survive is kept byte for byte, a partly cleaned one is rewritten
// uncompressed, and an emptied one is dropped unless it is its producer's
// latest batch (kept whole, so idempotent retries are still recognised).
// Each rewritten segment replaces the old file with an atomic rename. The
// active segment is never touched. It returns how many records it removed.
//
// Only closed segments that are wholly fsynced are read or cleaned, so a record
// is never removed in favour of one that a crash could still lose (Kafka's
// cleaner likewise stops below the active segment). A call that finds nothing
// new since the previous one (no segment closed, no tombstone old enough to
// drop) returns at once, so callers may call it on every retention tick.
//
// Compact holds the log's lock while it works, so appends wait; segments are
// bounded by segment.bytes. Segments are not merged.
func (l *Log) Compact(deleteRetention time.Duration) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	durable := l.durable.Load()
	n := 0 // closed, durable segments
	for n < len(l.segs)-1 && l.segs[n].next <= durable {
		n++
	}
	now := l.now()
	horizon := now.Add(-deleteRetention).UnixMilli()
	if n == 0 || (n == l.compactedSegs && (l.tombstoneTs == 0 || l.tombstoneTs >= horizon)) {
		return 0, nil
	}
	segs := l.segs[:n]
	// The latest offset of every key in the cleanable part.
	latest := map[string]int64{}
	for _, s := range segs {
		if err := eachRecord(s, func(h batchHeader, r Record) { latest[string(r.Key)] = r.Offset }); err != nil {
			return 0, err
		}
	}
	removed := 0
	l.tombstoneTs = 0
	for _, s := range segs {
		n, err := l.compactSegment(s, latest, horizon)
		if err != nil {
			return removed, fmt.Errorf("commitlog: compact %s: %w", segmentName(l.dir, s.base, ".log"), err)
		}
		removed += n
	}
	l.compactedSegs = n
	return removed, nil
}

// eachBatch decodes every batch of a segment, stopping at the first error.
func eachBatch(s *segment, fn func(h batchHeader, raw []byte, recs []Record)) error {
	var ferr error
	_, err := scanSegment(s.f, s.size, s.base, true, func(h batchHeader, _ int64, raw []byte) {
		if ferr != nil {
			return
		}
		recs, err := Records(raw)
		if err != nil {
			ferr = err
			return
		}
		fn(h, raw, recs)
	})
	return errors.Join(err, ferr)
}

// eachRecord calls fn with every keyed record of a segment.
func eachRecord(s *segment, fn func(h batchHeader, r Record)) error {
	return eachBatch(s, func(h batchHeader, _ []byte, recs []Record) {
		if h.attrs&(attrTransactional|attrControl) != 0 {
			return // transactional batches and markers are kept whole (see compactSegment)
		}
		for _, r := range recs {
			if r.Key != nil {
				fn(h, r)
			}
		}
	})
}

func (l *Log) compactSegment(s *segment, latest map[string]int64, horizon int64) (int, error) {
	var out []byte
	removed := 0
	err := eachBatch(s, func(h batchHeader, raw []byte, recs []Record) {
		if h.attrs&(attrTransactional|attrControl) != 0 {
			// Rewriting would drop the transactional bit or a marker; the
			// cleaner keeps them (Kafka removes them only once the whole
			// transaction is below the cleaning point, which we do not do).
			out = append(out, raw...)
			return
		}
		kept := recs[:0:0]
		for _, r := range recs {
			superseded := r.Key != nil && latest[string(r.Key)] != r.Offset
			tombstone := r.Key != nil && r.Value == nil
			expired := tombstone && h.maxTs < horizon
			if !superseded && !expired {
				kept = append(kept, r)
				if tombstone && (l.tombstoneTs == 0 || h.maxTs < l.tombstoneTs) {
					l.tombstoneTs = max(h.maxTs, 1)
				}
			}
		}
		removed += len(recs) - len(kept)
		switch {
		case len(kept) == len(recs), len(kept) == 0 && l.isLatestProducerBatch(h):
			if len(kept) == 0 {
				removed -= len(recs)
			}
			out = append(out, raw...)
		case len(kept) == 0:
		default:
			out = append(out, encodeBatch(h, int32(binary.BigEndian.Uint32(raw[offLeaderEpoch:])), kept)...)
		}
	})
	if err != nil || removed == 0 {
		return 0, err
	}
	path := segmentName(l.dir, s.base, ".log")
	tmp := path + ".cleaned.tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return 0, err
	}
	if _, err := f.Write(out); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, err
	}
	syncDir(l.dir)
	// The old handle is not closed: a reader that took it before this point
	// still reads the old (unlinked, equally valid) file, and os.File's
	// finalizer closes it once no reader holds it. Closing it here would turn
	// such a read into OFFSET_OUT_OF_RANGE and reset the client's position.
	ns := newSegment(s.base, f)
	if _, err := scanSegment(f, int64(len(out)), s.base, false, func(h batchHeader, pos int64, _ []byte) {
		ns.addIndex(h, pos, l.cfg.IndexIntervalBytes)
		ns.next = h.last() + 1
	}); err != nil {
		return 0, err
	}
	ns.seal()
	// next shrinks when trailing batches went, so readers move on to the next segment.
	s.f, s.size, s.synced, s.next = f, int64(len(out)), int64(len(out)), ns.next
	s.index, s.times, s.sinceIx = ns.index, ns.times, ns.sinceIx
	s.maxTs, s.maxTsLast, s.maxTsAt = ns.maxTs, ns.maxTsLast, ns.maxTsAt
	rebuildIndexes(l.dir, s)
	return removed, nil
}

// isLatestProducerBatch reports whether a batch is the last one its idempotent
// producer wrote, which compaction must keep.
func (l *Log) isLatestProducerBatch(h batchHeader) bool {
	if h.producerID < 0 {
		return false
	}
	ps := l.producers[h.producerID]
	return ps != nil && len(ps.Batches) > 0 && ps.Batches[len(ps.Batches)-1].Last == h.last()
}
