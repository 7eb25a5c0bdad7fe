package commitlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WaitDurable returns once every offset below offset is fsynced (FsyncAlways);
// other modes return at once. Concurrent callers share fsyncs (group commit):
// whoever gets the flush token fsyncs everything appended so far, and the
// callers queued behind it usually find themselves covered when they get it.
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
		if l.durable.Load() < offset { // a round that ran while we queued may cover us
			err = l.flushHeld(false)
		}
		<-l.flushSem
		if err != nil {
			return err
		}
	}
	return nil
}

// Flush fsyncs everything appended so far, writes the active segment's index
// entries, and advances the durable offset. The owner calls it every
// FsyncPolicy.Interval in FsyncInterval mode.
func (l *Log) Flush() error {
	l.flushSem <- struct{}{}
	defer func() { <-l.flushSem }()
	return l.flushHeld(true)
}

// flushHeld does one fsync round; the caller holds flushSem. The end offset is
// captured before the fsyncs and only that much is declared durable. mu is
// not held while the files are fsynced.
func (l *Log) flushHeld(indexes bool) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed != nil {
		l.mu.Unlock()
		return l.failed
	}
	target := l.end
	var work []rolled
	var bytes int64
	for _, s := range l.segs {
		if s.synced < s.size {
			work = append(work, rolled{s, s.f, s.size})
			bytes += s.size - s.synced
		}
	}
	dirSync := l.dirDirty
	l.dirDirty = false
	var idxErr error
	if indexes {
		idxErr = l.active().writeIndexes(l.dir)
	}
	l.mu.Unlock()

	began := time.Now()
	err := syncSegments(work)
	if err == nil && dirSync {
		if err = syncDir(l.dir); err != nil {
			err = fmt.Errorf("commitlog: fsync directory %s: %w", l.dir, err)
		}
	}
	l.fsyncs.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages; a
		// later fsync could succeed without them. Refuse to go on.
		if l.failed == nil {
			l.failed = fmt.Errorf("%w; the log refuses appends until it is reopened (recovery will check the files)", err)
		}
		return l.failed
	}
	for _, w := range work {
		w.s.synced = max(w.s.synced, w.size)
	}
	if l.onFsync != nil && len(work) > 0 {
		l.onFsync(FsyncRound{Duration: time.Since(began), Records: max(target-l.durable.Load(), 0), Bytes: bytes})
	}
	if target > l.durable.Load() {
		l.durable.Store(target)
		l.notifyLocked()
	}
	if idxErr != nil {
		return fmt.Errorf("commitlog: write index files of %s: %w", l.dir, idxErr)
	}
	return nil
}

// syncSegments fsyncs each file; a file closed meanwhile (its segment deleted
// by retention) needs no fsync.
func syncSegments(work []rolled) error {
	for _, w := range work {
		if err := w.f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			return fmt.Errorf("commitlog: fsync %s: %w", w.f.Name(), err)
		}
	}
	return nil
}

// syncRolled is the roll syncer: it fsyncs segments that stopped being active
// (with their index files and the directory) and then writes the producer
// snapshot taken at the roll. It exits when nothing is queued.
func (l *Log) syncRolled() {
	defer l.bg.Done()
	for {
		l.rollMu.Lock()
		work, snap := l.rollSegs, l.rollSnap
		l.rollSegs, l.rollSnap = nil, nil
		if len(work) == 0 && snap == nil {
			l.rollRunning = false
			l.rollMu.Unlock()
			return
		}
		l.rollMu.Unlock()

		err := syncSegments(work)
		for _, w := range work {
			if err == nil {
				err = syncFile(segmentName(l.dir, w.s.base, ".index"))
			}
			if err == nil {
				err = syncFile(segmentName(l.dir, w.s.base, ".timeindex"))
			}
		}
		if err == nil {
			err = syncDir(l.dir)
		}
		l.mu.Lock()
		if err != nil && !l.closed {
			if l.failed == nil {
				l.failed = fmt.Errorf("%w; the log refuses appends until it is reopened (recovery will check the files)", err)
			}
		} else if err == nil {
			for _, w := range work {
				w.s.synced = max(w.s.synced, w.size)
			}
		}
		l.mu.Unlock()
		if err == nil && snap != nil {
			if err := l.writeSnapshot(snap); err != nil && !errors.Is(err, os.ErrNotExist) {
				// Not fatal: the state is rebuilt from the batches on the next open.
				l.log.Warn("commitlog: writing the producer-state snapshot failed", "dir", l.dir, "err", err)
			}
		}
	}
}

// Close flushes, fsyncs, saves producer state and closes the files. It is
// idempotent; after it every method returns ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true // no new appends or rolls from here on
	l.mu.Unlock()
	l.bg.Wait()

	l.flushSem <- struct{}{}
	defer func() { <-l.flushSem }()
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	act := l.active()
	act.seal()
	if err := act.trimLocked(); err != nil {
		errs = append(errs, err)
	}
	if err := act.writeIndexes(l.dir); err != nil {
		errs = append(errs, err)
	}
	if l.failed != nil {
		errs = append(errs, l.failed)
	} else {
		for _, s := range l.segs {
			if s.synced < s.size {
				if err := s.f.Sync(); err != nil {
					errs = append(errs, fmt.Errorf("commitlog: fsync %s: %w", s.f.Name(), err))
				}
				s.synced = s.size
			}
		}
		if err := syncFile(segmentName(l.dir, act.base, ".index")); err != nil {
			errs = append(errs, err)
		}
		if err := syncFile(segmentName(l.dir, act.base, ".timeindex")); err != nil {
			errs = append(errs, err)
		}
		if err := syncDir(l.dir); err != nil {
			errs = append(errs, err)
		}
		if len(errs) == 0 {
			l.durable.Store(l.end)
			if snap, err := l.marshalProducersLocked(); err != nil {
				errs = append(errs, err)
			} else if err := l.writeSnapshot(snap); err != nil {
				errs = append(errs, err)
			}
		}
	}
	l.notifyLocked()
	l.closeFiles()
	return errors.Join(errs...)
}

// Delete closes the log without flushing and removes its directory. With a
// Remover the segment files are first moved up beside the directory (as
// "<dir>.<segment>.log.deleted", which the owner of the parent directory
// hands to a Remover again on its next start) and deleted at its rate.
func (l *Log) Delete() error {
	l.mu.Lock()
	l.closed = true
	l.notifyLocked()
	l.mu.Unlock()
	l.bg.Wait()
	l.flushSem <- struct{}{}
	defer func() { <-l.flushSem }()
	l.mu.Lock()
	l.closeFiles()
	l.mu.Unlock()
	if l.remover != nil {
		l.moveOutSegments()
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("commitlog: delete %s: %w", l.dir, err)
	}
	return nil
}

// moveOutSegments moves the log's segment files (and dropped ones) out of
// its directory, to be deleted by the Remover.
func (l *Log) moveOutSegments() {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return
	}
	parent, base := filepath.Dir(l.dir), filepath.Base(l.dir)
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), DeletedSuffix)
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		dst := filepath.Join(parent, base+"."+name+DeletedSuffix)
		if os.Rename(filepath.Join(l.dir, e.Name()), dst) == nil {
			l.remover.Remove(dst)
		}
	}
}
