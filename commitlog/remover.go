package commitlog

import (
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// DeletedSuffix marks a segment file that retention dropped and a Remover
// has yet to delete (Kafka's name for it). Open hands such files left by a
// crash or a shutdown to its Remover again.
const DeletedSuffix = ".deleted"

// removeStep is how much of a file one truncation frees.
const removeStep = 4 << 20

// A Remover deletes the segment files that retention drops, in the
// background and at a bounded rate: it cuts each file down by removeStep at
// a time and unlinks it when it is empty. On a filesystem mounted with
// `discard` the blocks of a deleted file are discarded at the next journal
// commit, and every fsync (so every ack with FsyncAlways) waits for that:
// deleting 2.5 GB at once stalled fdatasyncs for 90-270 ms over the next 6 s
// on ext4 over virtio (docs/BENCHMARKS.md), 16 MiB/s in 4 MiB steps did not.
// When more than the backlog is waiting, files go at once, so a log that
// drops data faster than the rate never fills the disk.
//
// One Remover serves every log of a broker (Options.Remover); without one a
// log deletes its files at once.
type Remover struct {
	rate    int64 // bytes a second
	backlog int64
	log     *slog.Logger

	mu      sync.Mutex
	queue   []queued
	pending int64 // bytes of the queued files not yet freed
	wake    chan struct{}
	done    chan struct{}
	closed  bool
	wg      sync.WaitGroup
}

type queued struct {
	path string
	size int64 // as queued; pending counts what of it is not freed yet
}

// NewRemover returns a running Remover that frees rate bytes a second (at
// least one step a second) until more than backlog bytes wait.
func NewRemover(rate, backlog int64, log *slog.Logger) *Remover {
	if log == nil {
		log = slog.Default()
	}
	r := &Remover{rate: max(rate, 1), backlog: backlog, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	r.wg.Add(1)
	go r.run()
	return r
}

// Remove queues path, a file no live name points to any more (renamed to
// end with DeletedSuffix), for deletion. A nil Remover, or one closed,
// deletes it at once.
func (r *Remover) Remove(path string) {
	if r == nil {
		os.Remove(path)
		return
	}
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		os.Remove(path)
		return
	}
	r.queue = append(r.queue, queued{path, size})
	r.pending += size
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Pending reports how many files and bytes wait to be freed.
func (r *Remover) Pending() (files int, bytes int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue), r.pending
}

// Close stops the Remover. Files still queued stay on disk under their
// DeletedSuffix names; the next Open of their log queues them again.
func (r *Remover) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
}

func (r *Remover) run() {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.mu.Unlock()
			select {
			case <-r.wake:
				continue
			case <-r.done:
				return
			}
		}
		q := r.queue[0]
		r.mu.Unlock()
		if !r.shrink(q) {
			return
		}
		r.mu.Lock()
		r.queue = r.queue[1:]
		r.mu.Unlock()
	}
}

// shrink truncates q's file step by step, pacing the steps, then unlinks
// it. It returns false when the Remover was closed meanwhile (the file stays,
// cut down so far, for the next Open).
func (r *Remover) shrink(q queued) bool {
	left := q.size // what of q.size pending still counts
	defer func() { r.freed(left) }()
	f, err := os.OpenFile(q.path, os.O_WRONLY, 0)
	if err != nil {
		if !os.IsNotExist(err) {
			r.log.Warn("commitlog: cannot open a dropped segment to cut it down; removing it at once", "file", q.path, "err", err)
			r.unlink(q.path)
		}
		return true
	}
	defer f.Close()
	size := left
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	for size > removeStep {
		r.mu.Lock()
		over := r.pending > r.backlog
		r.mu.Unlock()
		if over {
			break // behind: the rest goes at once
		}
		next := size - removeStep
		if err := f.Truncate(next); err != nil {
			break
		}
		r.freed(min(left, size-next))
		left -= min(left, size-next)
		size = next
		select {
		case <-time.After(time.Duration(removeStep * int64(time.Second) / r.rate)):
		case <-r.done:
			return false
		}
	}
	r.unlink(q.path)
	return true
}

func (r *Remover) unlink(path string) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		r.log.Warn("commitlog: deleting a dropped segment failed", "file", path, "err", err)
	}
}

func (r *Remover) freed(n int64) {
	r.mu.Lock()
	r.pending = max(0, r.pending-n)
	r.mu.Unlock()
}

// isDeleted reports whether a directory entry is a dropped segment file.
func isDeleted(name string) bool { return strings.HasSuffix(name, DeletedSuffix) }
