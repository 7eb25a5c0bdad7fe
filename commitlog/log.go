package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultConfig returns Kafka's defaults for the per-partition settings.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 3600 * 1000,
		RetentionMs:        7 * 24 * 3600 * 1000,
		RetentionBytes:     -1,
		IndexIntervalBytes: 4096,
	}
}

// withDefaults fills zero values from DefaultConfig and clamps what the file
// format cannot hold: a segment's positions are int32 in the .index file.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = d.RetentionMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = d.RetentionBytes
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	return c
}

// ParseFsyncPolicy parses "always", "never" or "interval=<Go duration>".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	const valid = "valid forms are always, never and interval=<duration> (e.g. interval=100ms)"
	switch {
	case s == "always":
		return FsyncPolicy{Mode: FsyncAlways}, nil
	case s == "never":
		return FsyncPolicy{Mode: FsyncNever}, nil
	case strings.HasPrefix(s, "interval="):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "interval="))
		if err != nil || d <= 0 {
			return FsyncPolicy{}, fmt.Errorf("fsync policy %q: the interval must be a positive duration; %s", s, valid)
		}
		return FsyncPolicy{Mode: FsyncInterval, Interval: d}, nil
	default:
		return FsyncPolicy{}, fmt.Errorf("fsync policy %q: %s", s, valid)
	}
}

// Names of our own state files; they cannot collide with Kafka's extensions.
const (
	producersFile   = "tickertape-producers.json"
	startOffsetFile = "tickertape-log-start-offset"
)

// Log is one partition's durable log. All methods are safe for concurrent use.
type Log struct {
	dir     string
	fsync   FsyncPolicy
	onFsync func(FsyncRound)
	epoch   int32
	log     *slog.Logger
	now     func() time.Time

	mu        sync.RWMutex // guards everything down to failed
	cfg       Config
	segs      []*segment // ascending base offsets; the last one is active
	end       int64      // next offset to assign
	start     int64      // log start offset
	producers map[int64]*producerState
	txn       txnState      // open and aborted transactions (txn.go)
	changed   chan struct{} // closed when the high watermark moves; nil until asked for
	closed    bool
	dirDirty  bool     // a segment file was created or removed since the last directory fsync
	scratch   []byte   // Append's copy of the caller's batch, reused under mu
	failed    error    // sticky: an fsync failed, so what the page cache holds is unknown
	prealloc  Prealloc // resolved mode; set to PreallocOff if preallocating fails
	remover   *Remover // nil: dropped segments are deleted at once

	endA atomic.Int64 // copy of end, for lock-free reads

	flushSem chan struct{} // one fsync round at a time (group commit); taken before mu, never under it
	durable  atomic.Int64  // offsets below it are fsynced
	fsyncs   atomic.Int64  // fsync rounds done (tests)

	// Rolled segments are fsynced, and the producer snapshot taken at the roll
	// written, by one background goroutine at a time, so that the append that
	// rolls does not wait for an fsync of a whole segment.
	rollMu      sync.Mutex // leaf lock; may be taken under mu
	rollSegs    []rolled
	rollSnap    *snapshot
	rollRunning bool
	bg          sync.WaitGroup // the roll syncer; Close and Delete wait for it
	snapMu      sync.Mutex     // serializes producer snapshot writes
	snapAt      int64          // offset covered by the last snapshot written

	// Compaction's memory of its last pass (under mu): how many segments it
	// covered, and the oldest batch timestamp of a tombstone it kept (0: none).
	compactedSegs int
	tombstoneTs   int64
}

type rolled struct {
	s    *segment
	f    *os.File // s.f when queued, read under mu: compaction may replace s.f later
	size int64
}

// Open opens or creates the log in opts.Dir and recovers it: every segment's
// batch framing is checked, the last segment's batches are CRC-checked, a torn
// or corrupt tail is truncated (with one warning), and indexes are rebuilt.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("commitlog: Options.Dir is empty")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: create %s: %w", opts.Dir, err)
	}
	l := &Log{
		dir: opts.Dir, fsync: opts.Fsync, onFsync: opts.OnFsync, epoch: opts.LeaderEpoch, log: opts.Logger, now: opts.Now,
		cfg: opts.Config.withDefaults(), producers: map[int64]*producerState{}, flushSem: make(chan struct{}, 1),
		txn:      txnState{open: map[int64]int64{}},
		snapAt:   -1,
		prealloc: opts.Preallocate.resolve(opts.Fsync),
		remover:  opts.Remover,
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("commitlog: recover %s: %w", opts.Dir, err)
	}
	// What a crashed process wrote may still be only in the page cache: make
	// it durable before calling it durable.
	if l.fsync.Mode != FsyncNever {
		act := l.active()
		if err := act.f.Sync(); err != nil {
			l.closeFiles()
			return nil, fmt.Errorf("commitlog: fsync %s: %w", act.f.Name(), err)
		}
		act.synced = act.size
	}
	l.endA.Store(l.end)
	l.durable.Store(l.end)
	return l, nil
}

func (l *Log) recover() error {
	entries, bases, logs, err := l.listSegments()
	if err != nil {
		return err
	}
	// Merges of compacted segments that a crash cut after their commit point.
	swapped := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".log"+swapSuffix) && len(name) == 24+len(swapSuffix) {
			if b, err := strconv.ParseInt(name[:20], 10, 64); err == nil && b >= 0 {
				if err := l.finishMerge(b, bases); err != nil {
					return fmt.Errorf("commitlog: finishing the merge of %s: %w", name, err)
				}
				swapped = true
			}
		}
	}
	if swapped {
		if entries, bases, logs, err = l.listSegments(); err != nil {
			return err
		}
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(l.dir, name)) // an interrupted atomic write
		case isDeleted(name):
			l.remover.Remove(filepath.Join(l.dir, name)) // dropped, not yet deleted when the broker stopped
		case (strings.HasSuffix(name, ".index") || strings.HasSuffix(name, ".timeindex") || strings.HasSuffix(name, ".txnindex")) && len(name) > 20 && !logs[name[:20]]:
			os.Remove(filepath.Join(l.dir, name)) // indexes of a segment that is gone
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	if raw, err := os.ReadFile(filepath.Join(l.dir, startOffsetFile)); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err == nil && v >= 0 {
			l.start = v
		}
	}
	l.end = l.start
	if len(bases) > 0 {
		l.end = bases[0]
		l.start = max(l.start, bases[0])
	}
	for i, base := range bases {
		last := i == len(bases)-1
		if base < l.end {
			return fmt.Errorf("segment %020d.log overlaps the previous segment, which ends at offset %d; move the overlapping file away", base, l.end)
		}
		f, err := os.OpenFile(segmentName(l.dir, base, ".log"), os.O_RDWR, 0o644)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		s := newSegment(base, f)
		firstTs := int64(-1)
		good, scanErr := scanSegment(f, st.Size(), base, last, func(h batchHeader, pos int64, _ []byte) {
			if pos == 0 {
				firstTs = h.maxTs
			}
			l.recoverTxn(f, h, pos)
			s.addIndex(h, pos, l.cfg.IndexIntervalBytes)
			s.next = h.last() + 1
		})
		s.size, s.synced = good, good
		if good > 0 {
			// Age for segment.ms: Kafka uses the first batch's timestamp; fall
			// back to the file's mtime when that is not plausible.
			s.created = st.ModTime()
			if firstTs > 0 && firstTs <= l.now().UnixMilli() {
				s.created = time.UnixMilli(firstTs)
			}
		}
		l.segs = append(l.segs, s)
		l.end = s.next
		if good < st.Size() && (last || bases[i+1] == s.next) && zeroTail(f, good, st.Size()) {
			// Preallocated space a crashed (or killed) process had not
			// filled yet: the end of the segment, not a tear (an earlier
			// segment's zeros count as its end only when the next segment
			// starts right after its last batch). Cut it so the file is
			// exactly its batches again.
			if err := f.Truncate(good); err != nil {
				return err
			}
			scanErr = nil
		} else if scanErr != nil || good < st.Size() {
			// Later segments cannot follow a hole.
			dropped := bases[i+1:]
			l.log.Warn("commitlog: truncating a torn or corrupt log tail",
				"dir", l.dir, "segment", filepath.Base(f.Name()), "offset", s.next,
				"bytes_cut", st.Size()-good, "later_segments_dropped", len(dropped), "reason", scanErr)
			// Open fsyncs the active segment afterwards (unless FsyncNever),
			// which makes the truncation durable too.
			if err := f.Truncate(good); err != nil {
				return err
			}
			for _, later := range dropped {
				removeSegmentFiles(l.dir, later)
			}
			if len(dropped) > 0 {
				if err := syncDir(l.dir); err != nil {
					return err
				}
			}
			rebuildIndexes(l.dir, s)
			break
		}
		if !last {
			s.seal()
		}
		if last || !indexesMatch(l.dir, s) {
			rebuildIndexes(l.dir, s)
		} else {
			s.idxOut, s.timeOut, s.idxFiles = len(s.index), len(s.times), true
		}
	}
	if len(l.segs) == 0 {
		if err := l.addSegment(l.start); err != nil {
			return err
		}
	}
	l.start = min(l.start, l.end)
	l.dropAbortedBeforeLocked(l.start)
	l.writeTxnIndexes()
	return l.loadProducers()
}

// listSegments reads the log's directory: its entries, the base offsets of
// its segments, and their names without extension.
func (l *Log) listSegments() ([]os.DirEntry, []int64, map[string]bool, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, nil, nil, err
	}
	var bases []int64
	logs := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".log") && len(name) == 24 {
			if b, err := strconv.ParseInt(strings.TrimSuffix(name, ".log"), 10, 64); err == nil && b >= 0 {
				bases = append(bases, b)
				logs[name[:20]] = true
			}
		}
	}
	return entries, bases, logs, nil
}

// recoverTxn replays one batch found by recovery into the transaction state.
func (l *Log) recoverTxn(f *os.File, h batchHeader, pos int64) {
	if h.producerID < 0 || h.attrs&attrTransactional == 0 {
		return
	}
	typ := int16(-1)
	if h.attrs&attrControl != 0 {
		raw, err := batchAt(f, pos)
		if err == nil {
			typ, err = markerTypeOf(raw)
		}
		if err != nil {
			l.log.Warn("commitlog: an unreadable transaction marker is taken as an abort", "dir", l.dir, "offset", h.base, "err", err)
			typ = ControlAbort
		}
	}
	l.txn.apply(h, typ)
}

// indexesMatch reports whether the .index and .timeindex files on disk hold
// exactly the entries rebuilt in memory.
func indexesMatch(dir string, s *segment) bool {
	idx, err1 := os.ReadFile(segmentName(dir, s.base, ".index"))
	tix, err2 := os.ReadFile(segmentName(dir, s.base, ".timeindex"))
	if err1 != nil || err2 != nil || len(idx) != 8*len(s.index) || len(tix) != 12*len(s.times) {
		return false
	}
	for i, e := range s.index {
		if int64(binary.BigEndian.Uint32(idx[8*i:])) != e.last-s.base || int64(binary.BigEndian.Uint32(idx[8*i+4:])) != e.pos {
			return false
		}
	}
	for i, e := range s.times {
		if int64(binary.BigEndian.Uint64(tix[12*i:])) != e.ts || int64(binary.BigEndian.Uint32(tix[12*i+8:])) != e.last-s.base {
			return false
		}
	}
	return true
}

func rebuildIndexes(dir string, s *segment) {
	os.Remove(segmentName(dir, s.base, ".index"))
	os.Remove(segmentName(dir, s.base, ".timeindex"))
	s.idxOut, s.timeOut, s.idxFiles = 0, 0, false
	s.writeIndexes(dir) // best effort: indexes are checked and rebuilt on every recovery
}

// addSegment creates a new empty active segment. l.mu must be held (or the
// log not yet shared).
func (l *Log) addSegment(base int64) error {
	for _, ext := range []string{".index", ".timeindex", ".txnindex"} {
		os.Remove(segmentName(l.dir, base, ext))
	}
	f, err := os.OpenFile(segmentName(l.dir, base, ".log"), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	l.dirDirty = true
	l.segs = append(l.segs, newSegment(base, f))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// Append validates one client record batch v2 and appends it. See api.go.
func (l *Log) Append(batch []byte) (AppendResult, error) {
	if len(batch) >= batchHeaderSize && binary.BigEndian.Uint16(batch[offAttributes:])&attrControl != 0 {
		return AppendResult{}, fmt.Errorf("%w: control batches cannot be produced", ErrInvalidRecord)
	}
	return l.appendBatch(batch, false, false)
}

// AppendOwned is Append for a batch the caller gives up: its BaseOffset and
// PartitionLeaderEpoch (and, with LogAppendTime, timestamp and CRC) are set
// in place instead of in a copy. The broker hands it produce requests'
// batches, which it reads into buffers of its own.
func (l *Log) AppendOwned(batch []byte) (AppendResult, error) {
	if len(batch) >= batchHeaderSize && binary.BigEndian.Uint16(batch[offAttributes:])&attrControl != 0 {
		return AppendResult{}, fmt.Errorf("%w: control batches cannot be produced", ErrInvalidRecord)
	}
	return l.appendBatch(batch, false, true)
}

// AppendChecked is AppendOwned for a batch CheckRecords accepted: its framing
// and CRC32C are not computed again (the caller must not change its bytes in
// between). The broker validates every produced batch before appending it;
// computing the CRC a second time took 5-6% of its CPU at peak produce.
func (l *Log) AppendChecked(c Checked) (AppendResult, error) {
	if c.b == nil {
		return AppendResult{}, fmt.Errorf("%w: no batch (use CheckRecords)", ErrInvalidRecord)
	}
	if c.h.attrs&attrControl != 0 {
		return AppendResult{}, fmt.Errorf("%w: control batches cannot be produced", ErrInvalidRecord)
	}
	return l.appendHeader(c.b, c.h, false, true)
}

// appendBatch appends a batch after validating its framing and CRC.
func (l *Log) appendBatch(batch []byte, unsequenced, owned bool) (AppendResult, error) {
	h, err := validateBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	return l.appendHeader(batch, h, unsequenced, owned)
}

// appendHeader appends a validated batch whose header is h. unsequenced
// batches (markers and the broker's own producer batches) are checked for
// their epoch only.
func (l *Log) appendHeader(batch []byte, h batchHeader, unsequenced, owned bool) (AppendResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendResult{}, ErrClosed
	}
	if l.failed != nil {
		return AppendResult{}, l.failed
	}
	var ps *producerState
	if h.producerID >= 0 && unsequenced {
		ps = l.producers[h.producerID]
		if ps != nil && h.epoch < ps.Epoch {
			return AppendResult{}, fmt.Errorf("%w: epoch %d is older than the producer's current epoch %d", ErrInvalidProducerEpoch, h.epoch, ps.Epoch)
		}
	} else if h.producerID >= 0 {
		ps = l.producers[h.producerID]
		if dup, err := ps.check(h); err != nil {
			return AppendResult{}, err
		} else if dup != nil {
			return AppendResult{BaseOffset: dup.First, LastOffset: dup.Last, LogAppendTimeMs: -1, LogStartOffset: l.start, Duplicate: true}, nil
		}
	}
	now := l.now()
	act := l.active()
	if act.size > 0 && (act.size+int64(len(batch)) > l.cfg.SegmentBytes ||
		now.Sub(act.created) >= time.Duration(l.cfg.SegmentMs)*time.Millisecond ||
		l.end+int64(h.lastDelta)-act.base > math.MaxInt32) {
		if err := l.rollLocked(); err != nil {
			return AppendResult{}, err
		}
		act = l.active()
	}
	buf := batch
	if !owned {
		if cap(l.scratch) < len(batch) {
			l.scratch = make([]byte, len(batch))
		}
		buf = l.scratch[:len(batch)]
		copy(buf, batch)
	}
	binary.BigEndian.PutUint64(buf[offBaseOffset:], uint64(l.end))
	binary.BigEndian.PutUint32(buf[offLeaderEpoch:], uint32(l.epoch))
	res := AppendResult{BaseOffset: l.end, LastOffset: l.end + int64(h.lastDelta), LogAppendTimeMs: -1}
	if l.cfg.LogAppendTime {
		ms := now.UnixMilli()
		binary.BigEndian.PutUint16(buf[offAttributes:], h.attrs|0x08)
		binary.BigEndian.PutUint64(buf[offMaxTs:], uint64(ms))
		binary.BigEndian.PutUint32(buf[offCRC:], crc32.Checksum(buf[offAttributes:], castagnoli))
		res.LogAppendTimeMs = ms
	}
	if _, err := act.f.WriteAt(buf, act.size); err != nil {
		// Cut whatever part of the batch reached the file so the log stays well formed.
		act.alloc = act.size
		if terr := act.f.Truncate(act.size); terr != nil {
			l.failed = fmt.Errorf("commitlog: %s is in an unknown state after a failed write (%v); reopen the log: %w", act.f.Name(), terr, err)
		}
		return AppendResult{}, fmt.Errorf("commitlog: write %s: %w", act.f.Name(), err)
	}
	stored := parseHeader(buf)
	if act.size == 0 {
		act.created = now
	}
	act.addIndex(stored, act.size, l.cfg.IndexIntervalBytes)
	act.size += int64(len(buf))
	act.next = res.LastOffset + 1
	l.end = act.next
	l.endA.Store(l.end)
	if h.producerID >= 0 {
		if ps == nil {
			ps = &producerState{}
			l.producers[h.producerID] = ps
		}
		ps.record(stored)
	}
	if stored.attrs&attrTransactional != 0 {
		typ := int16(-1)
		if stored.attrs&attrControl != 0 {
			typ, _ = markerTypeOf(buf) // our own marker: always readable
		}
		if a, ok := l.txn.apply(stored, typ); ok {
			l.addTxnIndexEntryLocked(a)
		}
	}
	res.LogStartOffset = l.start
	l.maybePreallocLocked(act)
	if l.fsync.Mode != FsyncAlways {
		l.notifyLocked()
	}
	return res, nil
}

// rollLocked makes a new active segment at the end offset. The old segment's
// indexes are written now; its fsync and a producer-state snapshot are left to
// the roll syncer. l.mu must be held.
func (l *Log) rollLocked() error {
	old := l.active()
	old.seal()
	if err := old.trimLocked(); err != nil {
		return err
	}
	if err := old.writeIndexes(l.dir); err != nil {
		return fmt.Errorf("commitlog: write indexes of %s: %w", old.f.Name(), err)
	}
	if err := l.addSegment(l.end); err != nil {
		return fmt.Errorf("commitlog: roll: %w", err)
	}
	snap, err := l.marshalProducersLocked()
	if err != nil {
		return err
	}
	l.rollMu.Lock()
	l.rollSegs = append(l.rollSegs, rolled{old, old.f, old.size})
	l.rollSnap = snap
	if !l.rollRunning {
		l.rollRunning = true
		l.bg.Add(1)
		go l.syncRolled()
	}
	l.rollMu.Unlock()
	return nil
}

// notifyLocked wakes everyone waiting on Changed. l.mu must be held.
func (l *Log) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// Changed returns a channel closed the next time the high watermark advances
// (or the log is closed or deleted).
func (l *Log) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c := make(chan struct{})
		close(c)
		return c
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.changed
}

// HighWatermark is the offset below which consumers may read: the fsynced end
// with FsyncAlways, the end of the log otherwise.
func (l *Log) HighWatermark() int64 {
	if l.fsync.Mode == FsyncAlways {
		return l.durable.Load()
	}
	return l.endA.Load()
}

// EndOffset is the next offset to be assigned.
func (l *Log) EndOffset() int64 { return l.endA.Load() }

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// Size is the total size of the segment files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Segments is the number of segment files (the active one included).
func (l *Log) Segments() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// LeaderEpoch is the epoch stamped into appended batches.
func (l *Log) LeaderEpoch() int32 { return l.epoch }

// Config returns the current settings.
func (l *Log) Config() Config {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cfg
}

// SetConfig changes the settings; they apply from the next append or retention run.
func (l *Log) SetConfig(c Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = c.withDefaults()
}

func (l *Log) closeFiles() {
	for _, s := range l.segs {
		s.f.Close()
	}
}

// WriteFileAtomic writes a small state file so that a crash leaves the old
// or the new content: a temp file beside it, fsync, rename, fsync of the
// directory. A failed write removes the temp file. The broker's catalogue
// and metadata files use it too: there is one implementation.
func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
