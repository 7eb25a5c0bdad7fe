package commitlog

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// DeleteRecords advances the log start offset to before (DeleteRecords API;
// -1 means the high watermark), persists it, and deletes the segments that lie
// wholly below it. It returns the new log start offset.
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
		if _, err := l.deleteSegmentsLocked(func(s *segment, _ int64) bool { return s.next <= l.start }); err != nil {
			return l.start, err
		}
	}
	return l.start, nil
}

// setStartLocked persists a new log start offset, then uses it. l.mu must be held.
func (l *Log) setStartLocked(start int64) error {
	if err := WriteFileAtomic(filepath.Join(l.dir, startOffsetFile), []byte(strconv.FormatInt(start, 10)+"\n")); err != nil {
		return fmt.Errorf("commitlog: persist log start offset: %w", err)
	}
	l.start = start
	return nil
}

// deleteSegmentsLocked removes leading non-active segments while del says so;
// del gets the segment and the total size of the log before removing it. The
// new start offset is persisted before any file goes. l.mu must be held.
func (l *Log) deleteSegmentsLocked(del func(s *segment, total int64) bool) (int, error) {
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	n := 0
	for n < len(l.segs)-1 && del(l.segs[n], total) {
		total -= l.segs[n].size
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if next := l.segs[n].base; next > l.start {
		if err := l.setStartLocked(next); err != nil {
			return 0, err
		}
	}
	for _, s := range l.segs[:n] {
		s.f.Close()
		name := segmentName(l.dir, s.base, ".log")
		if l.remover != nil && os.Rename(name, name+DeletedSuffix) == nil {
			l.remover.Remove(name + DeletedSuffix)
		} else {
			os.Remove(name)
		}
		for _, ext := range []string{".index", ".timeindex", ".txnindex"} {
			os.Remove(segmentName(l.dir, s.base, ext))
		}
	}
	l.segs = append([]*segment(nil), l.segs[n:]...)
	l.dropAbortedBeforeLocked(l.segs[0].base)
	l.compactedSegs = max(0, l.compactedSegs-n)
	l.dirDirty = true
	return n, nil
}

// ApplyRetention rolls the active segment when segment.ms has passed and it is
// not empty, then deletes whole non-active segments whose largest timestamp is
// older than retention.ms, and the oldest ones while the log is bigger than
// retention.bytes. It returns how many segments it deleted.
func (l *Log) ApplyRetention() (deleted int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	now := l.now()
	act := l.active()
	if act.size > 0 && now.Sub(act.created) >= time.Duration(l.cfg.SegmentMs)*time.Millisecond {
		if err := l.rollLocked(); err != nil {
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
	})
}
