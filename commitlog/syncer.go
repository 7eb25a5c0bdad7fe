package commitlog

import (
	"context"
	"sync"
)

// A Syncer runs the fsync rounds of many logs together (FsyncAlways): a
// waiter that finds no round running fsyncs, in parallel, every log with
// data appended since its last round, and one round covers every partition
// a produce request wrote. Without it each log has rounds of its own, which
// drift apart under load: a request then waits for one partition's fsync
// that began after another's, and the filesystem commits its journal once
// per file rather than once per round.
type Syncer struct {
	flushSem chan struct{} // one round at a time; taken before mu
	mu       sync.Mutex    // guards dirty; may be taken under Log.mu
	dirty    map[*Log]struct{}
	spare    map[*Log]struct{}
}

// NewSyncer returns a Syncer for Options.Syncer.
func NewSyncer() *Syncer {
	return &Syncer{flushSem: make(chan struct{}, 1), dirty: map[*Log]struct{}{}, spare: map[*Log]struct{}{}}
}

// mark notes that l has data to fsync. l.mu is held.
func (s *Syncer) mark(l *Log) {
	s.mu.Lock()
	s.dirty[l] = struct{}{}
	s.mu.Unlock()
}

func (s *Syncer) waitDurable(ctx context.Context, l *Log, offset int64) error {
	for l.durable.Load() < offset {
		select {
		case s.flushSem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.durable.Load() < offset {
			s.roundHeld()
		}
		<-s.flushSem
		if l.durable.Load() >= offset {
			return nil
		}
		s.mu.Lock()
		_, queued := s.dirty[l]
		s.mu.Unlock()
		if !queued {
			// The round did not cover it (it failed, or l is closed): the
			// log's own round says why, or covers it.
			l.flushSem <- struct{}{}
			err := l.flushHeld(false)
			<-l.flushSem
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// roundHeld fsyncs every dirty log, in parallel. The caller holds flushSem.
func (s *Syncer) roundHeld() {
	s.mu.Lock()
	work := s.dirty
	s.dirty, s.spare = s.spare, nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for l := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.flushSem <- struct{}{}
			l.flushHeld(false) // a failure is sticky in l: its waiters get it
			<-l.flushSem
		}()
	}
	wg.Wait()
	clear(work)
	s.mu.Lock()
	s.spare = work
	s.mu.Unlock()
}
