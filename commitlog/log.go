package commitlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
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

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.SegmentBytes == 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs == 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.RetentionMs == 0 {
		c.RetentionMs = d.RetentionMs
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = d.RetentionBytes
	}
	if c.IndexIntervalBytes == 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	return c
}

// ParseFsyncPolicy parses "always", "never" or "interval=<duration>".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) {
	switch {
	case s == "always":
		return FsyncPolicy{Mode: FsyncAlways}, nil
	case s == "never":
		return FsyncPolicy{Mode: FsyncNever}, nil
	case strings.HasPrefix(s, "interval="):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "interval="))
		if err != nil || d <= 0 {
			return FsyncPolicy{}, fmt.Errorf("%q: the interval must be a positive duration such as interval=100ms", s)
		}
		return FsyncPolicy{Mode: FsyncInterval, Interval: d}, nil
	default:
		return FsyncPolicy{}, fmt.Errorf("%q: use always, never or interval=<duration> (e.g. interval=100ms)", s)
	}
}

const (
	producersFile   = "tickertape-producers.json"
	startOffsetFile = "tickertape-log-start-offset"
)

// Log is one partition's durable log. All methods are safe for concurrent use.
type Log struct {
	dir   string
	fsync FsyncPolicy
	epoch int32
	log   *slog.Logger
	now   func() time.Time

	mu        sync.RWMutex // guards everything below; taken after the broker's locks
	cfg       Config
	segs      []*segment // ascending base offsets; the last one is active
	end       int64      // next offset to assign
	start     int64      // log start offset
	producers map[int64]*producerState
	changed   chan struct{} // closed when the high watermark moves; nil until asked for
	closed    bool

	flushSem chan struct{} // one fsync at a time (group commit); never taken under mu
	durable  atomic.Int64  // offsets below it are fsynced
	fsyncs   atomic.Int64  // fsync rounds done, for tests and metrics
}

// Open opens or creates the log in opts.Dir and recovers it: every segment's
// batch framing is checked, the last segment's batches are CRC-checked, a torn
// or corrupt tail is truncated (with one warning), and indexes are rebuilt.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("commitlog: no directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("commitlog: %w", err)
	}
	l := &Log{
		dir: opts.Dir, fsync: opts.Fsync, epoch: opts.LeaderEpoch, log: opts.Logger, now: opts.Now,
		cfg: opts.Config.withDefaults(), producers: map[int64]*producerState{}, flushSem: make(chan struct{}, 1),
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("commitlog: recover %s: %w", opts.Dir, err)
	}
	l.durable.Store(l.end)
	return l, nil
}

func (l *Log) recover() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp") || strings.HasSuffix(name, ".deleted"):
			os.Remove(filepath.Join(l.dir, name))
		case strings.HasSuffix(name, ".log") && len(name) == 24:
			b, err := strconv.ParseInt(strings.TrimSuffix(name, ".log"), 10, 64)
			if err == nil {
				bases = append(bases, b)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	if raw, err := os.ReadFile(filepath.Join(l.dir, startOffsetFile)); err == nil {
		l.start, _ = strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	}
	l.end = l.start
	if len(bases) > 0 {
		l.end = bases[0]
		if bases[0] > l.start {
			l.start = bases[0]
		}
	}
	for i, base := range bases {
		last := i == len(bases)-1
		f, err := os.OpenFile(segmentName(l.dir, base, ".log"), os.O_RDWR, 0o644)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		s := &segment{base: base, next: base, f: f, maxTs: -1, created: st.ModTime()}
		if base < l.end {
			f.Close()
			return fmt.Errorf("segment %d overlaps the previous one (ends at %d)", base, l.end)
		}
		good, scanErr := scanSegment(f, st.Size(), base, last, func(h batchHeader, pos int64, _ []byte) {
			s.addIndex(h, pos, l.cfg.IndexIntervalBytes)
			s.next = h.last() + 1
		})
		s.size, s.synced = good, good
		l.segs = append(l.segs, s)
		l.end = s.next
		if scanErr != nil || good < st.Size() {
			l.log.Warn("truncating a torn or corrupt log tail",
				"dir", l.dir, "segment", filepath.Base(f.Name()), "offset", s.next,
				"bytes_cut", st.Size()-good, "reason", scanErr)
			if err := f.Truncate(good); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			// Later segments cannot follow a hole.
			for _, later := range bases[i+1:] {
				for _, ext := range []string{".log", ".index", ".timeindex"} {
					os.Remove(segmentName(l.dir, later, ext))
				}
			}
			last = true
			rebuildIndexes(l.dir, s)
			break
		}
		if last || !indexesMatch(l.dir, s) {
			rebuildIndexes(l.dir, s)
		} else {
			s.idxOut, s.timeOut = len(s.index), len(s.times)
		}
	}
	if len(l.segs) == 0 {
		if err := l.addSegment(l.start); err != nil {
			return err
		}
	}
	if l.start > l.end {
		l.start = l.end
	}
	return l.loadProducers()
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
	return true
}

func rebuildIndexes(dir string, s *segment) {
	os.Remove(segmentName(dir, s.base, ".index"))
	os.Remove(segmentName(dir, s.base, ".timeindex"))
	s.idxOut, s.timeOut = 0, 0
	s.writeIndexes(dir) // best effort: indexes are rebuilt on every recovery anyway
}

// addSegment creates a new empty active segment. l.mu must be held.
func (l *Log) addSegment(base int64) error {
	f, err := os.OpenFile(segmentName(l.dir, base, ".log"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if l.fsync.Mode != FsyncNever {
		syncDir(l.dir)
	}
	l.segs = append(l.segs, &segment{base: base, next: base, f: f, maxTs: -1, created: l.now()})
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
	h, err := validateBatch(batch)
	if err != nil {
		return AppendResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return AppendResult{}, ErrClosed
	}
	var ps *producerState
	if h.producerID >= 0 {
		ps = l.producers[h.producerID]
		if dup, err := ps.check(h); err != nil {
			return AppendResult{}, err
		} else if dup != nil {
			return AppendResult{BaseOffset: dup.First, LastOffset: dup.Last, LogAppendTimeMs: -1, LogStartOffset: l.start, Duplicate: true}, nil
		}
	}
	act := l.active()
	if act.size > 0 && (act.size+int64(len(batch)) > l.cfg.SegmentBytes || l.now().Sub(act.created) >= time.Duration(l.cfg.SegmentMs)*time.Millisecond) {
		if err := l.roll(); err != nil {
			return AppendResult{}, err
		}
		act = l.active()
	}
	buf := make([]byte, len(batch))
	copy(buf, batch)
	binary.BigEndian.PutUint64(buf[offBaseOffset:], uint64(l.end))
	binary.BigEndian.PutUint32(buf[offLeaderEpoch:], uint32(l.epoch))
	res := AppendResult{BaseOffset: l.end, LastOffset: l.end + int64(h.lastDelta), LogAppendTimeMs: -1}
	if l.cfg.LogAppendTime {
		now := l.now().UnixMilli()
		binary.BigEndian.PutUint16(buf[offAttributes:], h.attrs|0x08)
		binary.BigEndian.PutUint64(buf[offMaxTs:], uint64(now))
		binary.BigEndian.PutUint32(buf[offCRC:], crc32.Checksum(buf[offAttributes:], castagnoli))
		res.LogAppendTimeMs = now
	}
	if _, err := act.f.WriteAt(buf, act.size); err != nil {
		// Cut whatever part of the batch reached the file so the log stays well formed.
		act.f.Truncate(act.size)
		return AppendResult{}, fmt.Errorf("commitlog: write %s: %w", act.f.Name(), err)
	}
	stored := parseHeader(buf)
	act.addIndex(stored, act.size, l.cfg.IndexIntervalBytes)
	act.size += int64(len(buf))
	act.next = res.LastOffset + 1
	l.end = act.next
	if h.producerID >= 0 {
		if ps == nil {
			ps = &producerState{}
			l.producers[h.producerID] = ps
		}
		ps.record(stored)
	}
	res.LogStartOffset = l.start
	if l.fsync.Mode != FsyncAlways {
		l.notifyLocked()
	}
	return res, nil
}

// roll closes the active segment for appends and starts a new one. l.mu held.
func (l *Log) roll() error {
	act := l.active()
	if err := act.writeIndexes(l.dir); err != nil {
		return fmt.Errorf("commitlog: write indexes: %w", err)
	}
	if l.fsync.Mode != FsyncNever {
		syncFile(segmentName(l.dir, act.base, ".index"))
		syncFile(segmentName(l.dir, act.base, ".timeindex"))
	}
	if err := l.addSegment(l.end); err != nil {
		return fmt.Errorf("commitlog: roll: %w", err)
	}
	return l.saveProducersLocked()
}

// notifyLocked wakes everyone waiting on Changed. l.mu must be held.
func (l *Log) notifyLocked() {
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// Changed returns a channel closed the next time the high watermark advances
// (or the log closes).
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

// WaitDurable returns once every offset below offset is fsynced (FsyncAlways);
// other modes return at once. Concurrent callers share fsyncs.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	if l.fsync.Mode != FsyncAlways {
		return nil
	}
	for l.durable.Load() < offset {
		select {
		case l.flushSem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		var err error
		if l.durable.Load() < offset { // a flush that ran while we queued may cover us
			err = l.flushHeld()
		}
		<-l.flushSem
		if err != nil {
			return err
		}
	}
	return nil
}

// Flush fsyncs everything appended so far and advances the durable offset.
func (l *Log) Flush() error {
	l.flushSem <- struct{}{}
	defer func() { <-l.flushSem }()
	return l.flushHeld()
}

// flushHeld does one fsync round; the caller holds flushSem.
func (l *Log) flushHeld() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	target := l.end
	type pending struct {
		s    *segment
		f    *os.File
		size int64
	}
	var work []pending
	for _, s := range l.segs {
		if s.synced < s.size {
			work = append(work, pending{s, s.f, s.size})
		}
	}
	act := l.active()
	idxErr := act.writeIndexes(l.dir)
	l.mu.Unlock()
	for _, w := range work {
		if err := w.f.Sync(); err != nil {
			if errors.Is(err, os.ErrClosed) { // deleted by retention meanwhile
				continue
			}
			return fmt.Errorf("commitlog: fsync %s: %w", w.f.Name(), err)
		}
	}
	l.fsyncs.Add(1)
	l.mu.Lock()
	for _, w := range work {
		if w.s.synced < w.size {
			w.s.synced = w.size
		}
	}
	if target > l.durable.Load() {
		l.durable.Store(target)
		l.notifyLocked()
	}
	l.mu.Unlock()
	if idxErr != nil {
		l.log.Warn("writing index files failed (they are rebuilt on restart)", "dir", l.dir, "err", idxErr)
	}
	return nil
}

// Fsyncs reports how many fsync rounds the log has done.
func (l *Log) Fsyncs() int64 { return l.fsyncs.Load() }

// HighWatermark is the offset below which consumers may read.
func (l *Log) HighWatermark() int64 {
	if l.fsync.Mode == FsyncAlways {
		return l.durable.Load()
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

// EndOffset is the next offset to be assigned.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

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

// segmentFor returns the segment holding offset. l.mu must be held.
func (l *Log) segmentFor(offset int64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	if i == 0 {
		return l.segs[0]
	}
	return l.segs[i-1]
}

// Read returns whole batches starting with the one that holds offset. See api.go.
func (l *Log) Read(offset int64, maxBytes int) ([]byte, error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, ErrClosed
	}
	if offset < l.start || offset > hw {
		l.mu.RUnlock()
		return nil, fmt.Errorf("%w: offset %d is outside [%d, %d]", ErrOffsetOutOfRange, offset, l.start, hw)
	}
	if offset == hw {
		l.mu.RUnlock()
		return nil, nil
	}
	s := l.segmentFor(offset)
	for s.next <= offset { // the segment ends before offset: move to the next one
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > s.base })
		if i == len(l.segs) {
			l.mu.RUnlock()
			return nil, nil
		}
		s = l.segs[i]
	}
	// Start at the last index entry whose batch ends before offset.
	pos := int64(0)
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].last >= offset })
	if i > 0 {
		pos = s.index[i-1].pos
	}
	f, size := s.f, s.size
	l.mu.RUnlock()

	// Read one chunk from the index position and walk the batch headers in
	// memory: one pread for the common case instead of one per batch.
	chunk := int64(maxBytes) + int64(l.cfg.IndexIntervalBytes) + batchHeaderSize
	chunk = max(min(chunk, size-pos), 0)
	buf := make([]byte, chunk)
	if _, err := f.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
		return nil, l.readErr(err)
	}
	from, to := int64(-1), int64(-1)
	for at := int64(0); at+offCount <= int64(len(buf)); {
		base := int64(binary.BigEndian.Uint64(buf[at+offBaseOffset:]))
		n := int64(binary.BigEndian.Uint32(buf[at+offLength:])) + 12
		last := base + int64(int32(binary.BigEndian.Uint32(buf[at+offLastDelta:])))
		if base >= hw {
			break
		}
		if last >= offset {
			if from < 0 {
				from = at
			} else if at+n-from > int64(maxBytes) {
				break
			}
			to = at + n
		}
		at += n
	}
	if from < 0 {
		return nil, nil
	}
	if to <= int64(len(buf)) {
		out := make([]byte, to-from)
		copy(out, buf[from:to])
		return out, nil
	}
	// The first batch is larger than the chunk (KIP-74: it is returned whole).
	out := make([]byte, to-from)
	if _, err := f.ReadAt(out, pos+from); err != nil {
		return nil, l.readErr(err)
	}
	return out, nil
}

func (l *Log) readErr(err error) error {
	if errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("%w: the segment was deleted while reading", ErrOffsetOutOfRange)
	}
	return fmt.Errorf("commitlog: read: %w", err)
}

// batchAt reads the whole batch at a file position.
func batchAt(f *os.File, pos int64) ([]byte, error) {
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], pos); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[offLength:])) + 12
	raw := make([]byte, n)
	_, err := f.ReadAt(raw, pos)
	return raw, err
}

// OffsetForTimestamp finds the first record with timestamp >= tsMs (ListOffsets).
func (l *Log) OffsetForTimestamp(tsMs int64) (int64, int64, bool, error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	var cand []*segment
	for _, s := range l.segs {
		if s.maxTs >= tsMs {
			cand = append(cand, s)
		}
	}
	start := l.start
	type seg struct {
		f    *os.File
		size int64
	}
	var list []seg
	for _, s := range cand {
		list = append(list, seg{s.f, s.size})
	}
	l.mu.RUnlock()
	var hdr [batchHeaderSize]byte
	for _, s := range list {
		for pos := int64(0); pos < s.size; {
			if _, err := s.f.ReadAt(hdr[:], pos); err != nil {
				return 0, 0, false, l.readErr(err)
			}
			h := parseHeader(hdr[:])
			if h.base >= hw {
				return -1, -1, false, nil
			}
			if h.maxTs >= tsMs && h.last() >= start {
				raw, err := batchAt(s.f, pos)
				if err != nil {
					return 0, 0, false, l.readErr(err)
				}
				recs, err := Records(raw)
				if err != nil {
					return 0, 0, false, err
				}
				for _, r := range recs {
					if r.TimestampMs >= tsMs && r.Offset >= start {
						return r.Offset, r.TimestampMs, true, nil
					}
				}
			}
			pos += h.size()
		}
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the record with the largest timestamp (ListOffsets -3).
func (l *Log) MaxTimestamp() (int64, int64, bool, error) {
	hw := l.HighWatermark()
	l.mu.RLock()
	var best *segment
	for _, s := range l.segs {
		if s.maxTs >= 0 && (best == nil || s.maxTs > best.maxTs) && s.base < hw {
			best = s
		}
	}
	if best == nil {
		l.mu.RUnlock()
		return -1, -1, false, nil
	}
	f, pos := best.f, best.maxTsAt
	l.mu.RUnlock()
	raw, err := batchAt(f, pos)
	if err != nil {
		return 0, 0, false, l.readErr(err)
	}
	recs, err := Records(raw)
	if err != nil {
		return 0, 0, false, err
	}
	bo, bt := int64(-1), int64(-1)
	for _, r := range recs {
		if r.TimestampMs > bt {
			bo, bt = r.Offset, r.TimestampMs
		}
	}
	return bo, bt, bo >= 0, nil
}

// DeleteRecords advances the log start offset (DeleteRecords API); -1 means
// the high watermark.
func (l *Log) DeleteRecords(before int64) (int64, error) {
	hw := l.HighWatermark()
	if before == -1 {
		before = hw
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if before < 0 || before > hw {
		return l.start, fmt.Errorf("%w: %d is outside [0, %d]", ErrOffsetOutOfRange, before, hw)
	}
	if before > l.start {
		if err := l.setStartLocked(before); err != nil {
			return l.start, err
		}
		l.deleteSegmentsLocked(func(s *segment, _ int64) bool { return s.next <= l.start })
	}
	return l.start, nil
}

func (l *Log) setStartLocked(start int64) error {
	if err := writeFileAtomic(filepath.Join(l.dir, startOffsetFile), []byte(strconv.FormatInt(start, 10)+"\n")); err != nil {
		return fmt.Errorf("commitlog: persist log start offset: %w", err)
	}
	l.start = start
	return nil
}

// deleteSegmentsLocked removes leading non-active segments while del says so;
// del gets the segment and the total size of the log before removing it.
func (l *Log) deleteSegmentsLocked(del func(s *segment, total int64) bool) int {
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	n := 0
	for len(l.segs) > 1 && del(l.segs[0], total) {
		s := l.segs[0]
		total -= s.size
		s.f.Close()
		for _, ext := range []string{".log", ".index", ".timeindex"} {
			os.Remove(segmentName(l.dir, s.base, ext))
		}
		l.segs = l.segs[1:]
		n++
	}
	if n > 0 && l.segs[0].base > l.start {
		if err := l.setStartLocked(l.segs[0].base); err != nil {
			l.log.Error("persisting the log start offset failed", "dir", l.dir, "err", err)
			l.start = l.segs[0].base
		}
	}
	return n
}

// ApplyRetention rolls the active segment when segment.ms has passed and
// deletes whole old segments by retention.ms and retention.bytes.
func (l *Log) ApplyRetention() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	now := l.now()
	act := l.active()
	if act.size > 0 && now.Sub(act.created) >= time.Duration(l.cfg.SegmentMs)*time.Millisecond {
		if err := l.roll(); err != nil {
			return 0, err
		}
	}
	cfg := l.cfg
	return l.deleteSegmentsLocked(func(s *segment, total int64) bool {
		if s.next <= l.start {
			return true
		}
		if cfg.RetentionMs >= 0 {
			ts := s.maxTs
			if ts < 0 {
				ts = s.created.UnixMilli()
			}
			if now.UnixMilli()-ts > cfg.RetentionMs {
				return true
			}
		}
		return cfg.RetentionBytes >= 0 && total-s.size >= cfg.RetentionBytes
	}), nil
}

// Close flushes, fsyncs, saves producer state and closes the files.
func (l *Log) Close() error {
	l.flushSem <- struct{}{}
	defer func() { <-l.flushSem }()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var errs []error
	if err := l.active().writeIndexes(l.dir); err != nil {
		errs = append(errs, err)
	}
	for _, s := range l.segs {
		if s.synced < s.size {
			if err := s.f.Sync(); err != nil {
				errs = append(errs, err)
			}
			s.synced = s.size
		}
	}
	if err := l.saveProducersLocked(); err != nil {
		errs = append(errs, err)
	}
	l.closed = true
	l.notifyLocked()
	l.closeFiles()
	return errors.Join(errs...)
}

func (l *Log) closeFiles() {
	for _, s := range l.segs {
		s.f.Close()
	}
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		l.notifyLocked()
		l.closeFiles()
	}
	l.mu.Unlock()
	return os.RemoveAll(l.dir)
}

// writeFileAtomic writes a small state file so that a crash leaves the old or the new content.
func writeFileAtomic(path string, data []byte) error {
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
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
