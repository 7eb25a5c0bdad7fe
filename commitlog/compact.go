package commitlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Compact does log compaction (cleanup.policy=compact) on the closed segments:
// every keyed record that a later record with the same key supersedes is
// removed, and so are tombstones (null values) whose batch is older than
// deleteRetention. Offsets never change: a batch keeps its base and last
// offsets (gaps are allowed inside, as in Kafka); a batch whose records all
// survive is kept byte for byte, a partly cleaned one is rewritten
// uncompressed, and an emptied one is dropped unless it is its producer's
// latest batch (then its header stays with no records, as in Kafka, so
// idempotent retries are still recognised).
//
// Transactions are cleaned as Kafka's cleaner does: records of committed
// transactions count like any others (a rewritten batch keeps its
// transactional bit and producer fields); records of aborted transactions go
// at once and never supersede anything; a transaction whose marker is not in
// the cleanable segments yet is kept whole and supersedes nothing. A marker
// goes once no record of its transaction is left and it is older than
// deleteRetention (an abort marker takes its aborted-transaction entry with
// it), unless it is its producer's last batch.
// Each rewritten segment replaces the old file with an atomic rename. The
// active segment is never touched. It returns how many records it removed.
//
// Only closed segments that are wholly fsynced and below the first offset of
// an open transaction are read or cleaned, so a record is never removed in
// favour of one that a crash could still lose or that a read_committed
// consumer cannot read yet (Kafka's cleaner likewise stops below the active
// segment and the first unstable offset). A call that finds nothing
// new since the previous one (no segment closed, no tombstone old enough to
// drop) returns at once, so callers may call it on every retention tick.
//
// Cleaned segments are then merged, each run of consecutive ones whose bytes
// together fit in segment.bytes into the first of the run (Kafka's cleaner
// groups them the same way), so a compacted log does not keep a file, its
// indexes and an open descriptor for every segment it ever rolled.
//
// Compact holds the log's lock while it works, so appends wait; segments are
// bounded by segment.bytes.
func (l *Log) Compact(deleteRetention time.Duration) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	durable := l.durable.Load()
	// Closed, durable segments below the first offset of an open transaction
	// (Kafka's cleaner stops there too): a read_committed consumer reads up
	// to that offset, so a key's latest record below it must stay until the
	// records after it are decided.
	unstable := l.txn.firstUnstable()
	n := 0
	for n < len(l.segs)-1 && l.segs[n].next <= durable && (unstable < 0 || l.segs[n].next <= unstable) {
		n++
	}
	now := l.now()
	horizon := now.Add(-deleteRetention).UnixMilli()
	if n == 0 || (n == l.compactedSegs && (l.tombstoneTs == 0 || l.tombstoneTs >= horizon)) {
		return 0, nil
	}
	segs := l.segs[:n]
	sv, err := surveySegments(segs)
	if err != nil {
		return 0, err
	}
	c := &cleaning{survey: sv, horizon: horizon, remaining: map[int64]bool{}, droppedAborts: map[int64]bool{}}
	removed := 0
	l.tombstoneTs = 0
	for _, s := range segs {
		n, err := l.compactSegment(s, c)
		if err != nil {
			return removed, fmt.Errorf("commitlog: compact %s: %w", segmentName(l.dir, s.base, ".log"), err)
		}
		removed += n
	}
	merged, err := l.mergeSegmentsLocked(n)
	if err != nil {
		return removed, fmt.Errorf("commitlog: compact %s: merging segments: %w", l.dir, err)
	}
	if len(c.droppedAborts) > 0 {
		kept := l.txn.aborted[:0]
		for _, a := range l.txn.aborted {
			if !c.droppedAborts[a.LastOffset] {
				kept = append(kept, a)
			}
		}
		l.txn.aborted = kept
	}
	if len(c.droppedAborts) > 0 || merged < n { // entries left or moved into a merged segment
		l.writeTxnIndexes()
	}
	l.compactedSegs = merged
	return removed, nil
}

// survey is what compaction learns from the cleanable segments before it
// removes anything.
type survey struct {
	// latest is the offset of each key's latest record that counts: records
	// of plain batches and of committed transactions. An aborted record
	// never supersedes one, and neither does a record whose transaction is
	// not decided within the cleanable segments.
	latest map[string]int64
	// fate is ControlCommit or ControlAbort for every transactional data
	// batch (by base offset) whose marker is in the cleanable segments.
	fate map[int64]int16
	// lastOf is the base offset of each producer's last batch there.
	lastOf map[int64]int64
	// undecided holds the keys of records whose transaction is not decided
	// there: they are kept, so a tombstone of one of them must stay too,
	// or the record would come back.
	undecided map[string]bool
}

// cleaning is the state of one compaction pass over the segments, in order.
type cleaning struct {
	survey
	horizon int64 // tombstones and markers older than this (ms) may go
	// remaining marks the producers with records left of the transaction
	// whose marker comes next: a marker goes only once none are left.
	remaining map[int64]bool
	// droppedAborts holds the offsets of the abort markers removed.
	droppedAborts map[int64]bool
}

// surveySegments reads the cleanable segments once: every key's latest
// record that counts and what became of each transaction.
func surveySegments(segs []*segment) (survey, error) {
	sv := survey{latest: map[string]int64{}, fate: map[int64]int16{}, lastOf: map[int64]int64{}, undecided: map[string]bool{}}
	type keyAt struct {
		key string
		off int64
	}
	type openTxn struct {
		batches []int64
		keys    []keyAt
	}
	see := func(k string, off int64) {
		if o, ok := sv.latest[k]; !ok || off > o {
			sv.latest[k] = off
		}
	}
	open := map[int64]*openTxn{}
	for _, s := range segs {
		err := eachBatch(s, func(h batchHeader, _ int64, _ []byte, recs []Record) {
			pid := h.producerID
			if pid >= 0 {
				sv.lastOf[pid] = h.base
			}
			switch {
			case h.attrs&attrControl != 0:
				t := open[pid]
				delete(open, pid)
				if t == nil || len(recs) != 1 {
					return
				}
				typ, err := ControlType(recs[0].Key)
				if err != nil || (typ != ControlCommit && typ != ControlAbort) {
					return // its batches stay undecided, and are kept whole
				}
				for _, b := range t.batches {
					sv.fate[b] = typ
				}
				if typ == ControlCommit {
					for _, k := range t.keys {
						see(k.key, k.off)
					}
				}
			case h.attrs&attrTransactional != 0:
				if pid < 0 {
					return // never decided: kept whole
				}
				t := open[pid]
				if t == nil {
					t = &openTxn{}
					open[pid] = t
				}
				t.batches = append(t.batches, h.base)
				for _, r := range recs {
					if r.Key != nil {
						t.keys = append(t.keys, keyAt{string(r.Key), r.Offset})
					}
				}
			default:
				for _, r := range recs {
					if r.Key != nil {
						see(string(r.Key), r.Offset)
					}
				}
			}
		})
		if err != nil {
			return survey{}, err
		}
	}
	for _, t := range open {
		for _, k := range t.keys {
			sv.undecided[k.key] = true
		}
	}
	return sv, nil
}

// eachBatch decodes every batch of a segment, stopping at the first error.
func eachBatch(s *segment, fn func(h batchHeader, pos int64, raw []byte, recs []Record)) error {
	var ferr error
	_, err := scanSegment(s.f, s.size, s.base, true, func(h batchHeader, pos int64, raw []byte) {
		if ferr != nil {
			return
		}
		recs, err := Records(raw)
		if err != nil {
			ferr = err
			return
		}
		fn(h, pos, raw, recs)
	})
	return errors.Join(err, ferr)
}

func (l *Log) compactSegment(s *segment, c *cleaning) (int, error) {
	path := segmentName(l.dir, s.base, ".log")
	out := &cleanedWriter{src: s.f, path: path + ".cleaned.tmp"}
	defer out.abandon()
	removed := 0
	noteExpiry := func(ts int64) { // something here may go once ts is past the horizon
		if l.tombstoneTs == 0 || ts < l.tombstoneTs {
			l.tombstoneTs = max(ts, 1)
		}
	}
	err := eachBatch(s, func(h batchHeader, pos int64, raw []byte, recs []Record) {
		pid := h.producerID
		leaderEpoch := int32(binary.BigEndian.Uint32(raw[offLeaderEpoch:]))
		if h.attrs&attrControl != 0 {
			// A marker goes once no record of its transaction is left and it
			// is older than delete.retention.ms, as in Kafka: a consumer
			// that read the transaction's records meanwhile still finds it.
			// A producer's last batch stays, for its epoch.
			empty := !c.remaining[pid] && c.lastOf[pid] != h.base && len(recs) == 1
			delete(c.remaining, pid)
			if empty {
				typ, err := ControlType(recs[0].Key)
				switch {
				case err != nil:
				case h.maxTs < c.horizon:
					if typ == ControlAbort {
						c.droppedAborts[h.last()] = true
					}
					removed++
					out.change(pos)
					return
				default:
					noteExpiry(h.maxTs)
				}
			}
			out.keep(pos, raw)
			return
		}
		if h.attrs&attrTransactional != 0 {
			fate, decided := c.fate[h.base]
			switch {
			case !decided: // its marker is not in the cleanable part yet
				c.remaining[pid] = true
				out.keep(pos, raw)
				return
			case fate == ControlAbort: // aborted records go at once, as in Kafka
				removed += len(recs)
				out.change(pos)
				if l.isLatestProducerBatch(h) {
					out.write(encodeBatch(h, leaderEpoch, nil))
				}
				return
			}
		}
		kept := recs[:0:0]
		for _, r := range recs {
			superseded := r.Key != nil && c.latest[string(r.Key)] != r.Offset
			tombstone := r.Key != nil && r.Value == nil
			expired := tombstone && h.maxTs < c.horizon && !c.undecided[string(r.Key)]
			if !superseded && !expired {
				kept = append(kept, r)
				if tombstone {
					noteExpiry(h.maxTs)
				}
			}
		}
		removed += len(recs) - len(kept)
		switch {
		case len(kept) == len(recs):
			out.keep(pos, raw)
		case len(kept) == 0 && !l.isLatestProducerBatch(h):
			out.change(pos)
		default:
			// Partly cleaned, or emptied but its producer's last batch: Kafka
			// keeps such a batch's header with no records, so the producer's
			// sequence is still known, and nothing it held comes back when a
			// tombstone that superseded it expires.
			out.change(pos)
			out.write(encodeBatch(h, leaderEpoch, kept))
		}
		if h.attrs&attrTransactional != 0 && len(kept) > 0 {
			c.remaining[pid] = true
		}
	})
	if err != nil || removed == 0 {
		return 0, err
	}
	f, size, err := out.finish()
	if err == nil {
		err = os.Rename(out.path, path)
	}
	if err != nil {
		return 0, err
	}
	out.f = nil // renamed: it is the segment now
	syncDir(l.dir)
	// The old handle is not closed: a reader that took it before this point
	// still reads the old (unlinked, equally valid) file, and os.File's
	// finalizer closes it once no reader holds it. Closing it here would turn
	// such a read into OFFSET_OUT_OF_RANGE and reset the client's position.
	ns, err := l.closedSegment(s.base, f, size)
	if err != nil {
		return 0, err
	}
	// next shrinks when trailing batches went, so readers move on to the next segment.
	s.f, s.size, s.synced, s.next = f, size, size, ns.next
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

// cleanedWriter writes the cleaned copy of a segment. Batches kept as they
// are cost nothing until the first change; then the unchanged prefix is
// copied file to file and the rest streams through a buffer, so a segment of
// up to segment.bytes never sits in memory whole.
type cleanedWriter struct {
	src    *os.File
	path   string
	f      *os.File
	bw     *bufio.Writer
	prefix int64 // bytes at the start of src kept as they are
	size   int64
	err    error
}

// keep takes the batch at pos unchanged.
func (w *cleanedWriter) keep(pos int64, raw []byte) {
	if w.f == nil && w.err == nil {
		w.prefix = pos + int64(len(raw))
		return
	}
	w.write(raw)
}

// change marks the batch at pos as rewritten or dropped.
func (w *cleanedWriter) change(pos int64) {
	if w.f != nil || w.err != nil {
		return
	}
	if w.f, w.err = os.OpenFile(w.path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644); w.err != nil {
		return
	}
	w.bw = bufio.NewWriterSize(w.f, 1<<20)
	var n int64
	n, w.err = io.Copy(w.bw, io.NewSectionReader(w.src, 0, min(w.prefix, pos)))
	w.size += n
}

// write appends bytes after a change.
func (w *cleanedWriter) write(b []byte) {
	if w.err != nil || w.f == nil {
		return
	}
	var n int
	n, w.err = w.bw.Write(b)
	w.size += int64(n)
}

// finish flushes and fsyncs the copy.
func (w *cleanedWriter) finish() (*os.File, int64, error) {
	if w.err == nil && w.f == nil {
		w.err = errors.New("nothing was changed")
	}
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	if w.err == nil {
		w.err = w.f.Sync()
	}
	return w.f, w.size, w.err
}

// abandon removes a copy that did not become the segment.
func (w *cleanedWriter) abandon() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.path)
	}
}

// mergeSegmentsLocked merges the runs of consecutive segments among the first
// n whose sizes add up to at most segment.bytes (and whose offsets stay within
// an index's 32-bit reach). It returns how many segments the first n became.
func (l *Log) mergeSegmentsLocked(n int) (int, error) {
	limit := int64(l.cfg.SegmentBytes)
	out := make([]*segment, 0, n)
	for i := 0; i < n; {
		j, size := i+1, l.segs[i].size
		for j < n && size+l.segs[j].size <= limit && max(l.segs[j].next, l.segs[j].base+1)-1-l.segs[i].base <= math.MaxInt32 {
			size += l.segs[j].size
			j++
		}
		if j-i == 1 {
			out = append(out, l.segs[i])
			i = j
			continue
		}
		m, err := l.mergeRun(l.segs[i:j])
		if err != nil {
			l.segs = append(out, l.segs[i:]...)
			return len(out), err
		}
		out = append(out, m)
		i = j
	}
	if len(out) < n {
		l.segs = append(out, l.segs[n:]...)
	}
	return len(out), nil
}

// mergeRun writes the segments of run, in order, into one file that takes the
// first one's name. Its commit point is the rename of the fsynced file to
// <first>.log.swap: from there, Open finishes a merge a crash interrupted
// (finishMerge). The files it replaces are not closed, as in compactSegment:
// a reader that took one still reads it.
func (l *Log) mergeRun(run []*segment) (*segment, error) {
	first := run[0]
	path := segmentName(l.dir, first.base, ".log")
	tmp, swap := path+".merged.tmp", path+swapSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	var size int64
	for _, s := range run { // copied file to file: a run may be up to segment.bytes
		var n int64
		n, err = io.Copy(f, io.NewSectionReader(s.f, 0, s.size))
		size += n
		if err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, swap)
	}
	if err == nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		os.Remove(swap)
		return nil, err
	}
	for _, s := range run[1:] {
		removeSegmentFiles(l.dir, s.base)
	}
	if err := os.Rename(swap, path); err != nil {
		// The merged segment stays as the .swap; the next Open finishes it.
		f.Close()
		return nil, err
	}
	syncDir(l.dir)
	ns, err := l.closedSegment(first.base, f, size)
	if err != nil {
		return nil, err
	}
	ns.created = first.created
	rebuildIndexes(l.dir, ns)
	return ns, nil
}

// closedSegment indexes the size bytes of f, a fsynced segment file that
// compaction wrote, as a closed segment.
func (l *Log) closedSegment(base int64, f *os.File, size int64) (*segment, error) {
	ns := newSegment(base, f)
	if _, err := scanSegment(f, size, base, false, func(h batchHeader, pos int64, _ []byte) {
		ns.addIndex(h, pos, l.cfg.IndexIntervalBytes)
		ns.next = h.last() + 1
	}); err != nil {
		return nil, err
	}
	ns.seal()
	ns.size, ns.synced = size, size
	return ns, nil
}

// swapSuffix marks a merged segment written and fsynced, whose segments
// are not all gone yet (Kafka's name for it).
const swapSuffix = ".swap"

// segmentEnd is the offset after the last whole batch of a segment file.
func segmentEnd(dir string, base int64) (int64, error) {
	f, err := os.Open(segmentName(dir, base, ".log"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := base
	_, err = scanSegment(f, st.Size(), base, false, func(h batchHeader, _ int64, _ []byte) { end = h.last() + 1 })
	return end, err
}

// removeSegmentFiles deletes a segment's log and indexes.
func removeSegmentFiles(dir string, base int64) {
	for _, ext := range []string{".log", ".index", ".timeindex", ".txnindex"} {
		os.Remove(segmentName(dir, base, ext))
	}
}

// finishMerge completes a merge that a crash cut after its commit point: the
// segments whose offsets <base>.log.swap's batches cover wholly go, and the
// swap file becomes <base>.log. A segment file it covers only in part (past
// a tear in the swap file, which the fsync before its rename rules out short
// of damage) stays, and the swap file is cut where that segment begins, so
// nothing is lost that a file still holds. logs are the base offsets of the
// segment files present, in order.
func (l *Log) finishMerge(base int64, logs []int64) error {
	swap := segmentName(l.dir, base, ".log") + swapSuffix
	f, err := os.OpenFile(swap, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	type batchAt struct{ base, pos int64 }
	var batches []batchAt
	next := base
	good, scanErr := scanSegment(f, st.Size(), base, true, func(h batchHeader, pos int64, _ []byte) {
		batches = append(batches, batchAt{h.base, pos})
		next = h.last() + 1
	})
	if scanErr != nil || good < st.Size() {
		l.log.Warn("commitlog: a merged segment left by a crash is torn; keeping its whole batches", "dir", l.dir, "file", filepath.Base(swap), "bytes_cut", st.Size()-good, "reason", scanErr)
	}
	cut := good // bytes of the swap file kept
	var gone []int64
	for _, b := range logs {
		if b <= base || b >= next {
			continue
		}
		if end, err := segmentEnd(l.dir, b); err == nil && end <= next {
			gone = append(gone, b) // every batch it holds is in the swap file
			continue
		}
		for _, bt := range batches { // in part: it stays, and the swap file ends where it begins
			if bt.base >= b {
				cut = bt.pos
				break
			}
		}
		break
	}
	if cut < st.Size() {
		if err := f.Truncate(cut); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	for _, b := range gone {
		removeSegmentFiles(l.dir, b)
	}
	if err := os.Rename(swap, segmentName(l.dir, base, ".log")); err != nil {
		return err
	}
	l.log.Info("commitlog: finished merging segments after a crash", "dir", l.dir, "segment", filepath.Base(swap), "up_to_offset", next)
	return syncDir(l.dir)
}
