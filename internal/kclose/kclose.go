// Package kclose bounds how long stopping a franz-go client may take.
//
// franz-go never fails a record it has sent to a broker that then went
// away: an idempotent or transactional producer cannot know whether the
// broker wrote it, so ProduceSync and Flush wait for that broker for ever,
// whatever their context says. A processor asked to stop while its brokers
// are gone would hang. Closing the client is the one thing that fails such
// records (ErrClientClosed); a Closer does that, once, either when the
// owner closes it or when a stop has taken longer than its grace.
package kclose

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// LeaveWait is how long Close waits for the group coordinator to take the
// member's leave before closing anyway.
const LeaveWait = 5 * time.Second

// Closer closes one client at most once.
type Closer struct {
	cl      *kgo.Client
	once    sync.Once
	forced  atomic.Bool
	closing chan struct{} // closed when Close begins
}

// New returns a Closer of cl.
func New(cl *kgo.Client) *Closer { return &Closer{cl: cl, closing: make(chan struct{})} }

// Lock takes mu for a rebalance callback (OnPartitionsAssigned, Revoked,
// Lost), or gives up and returns false once Close has begun. Closing a
// group client waits for its rebalance callbacks, and the owner may hold mu
// while it waits in a produce that only the close can fail: a callback that
// blocked on mu would deadlock the stop. A nil Closer just locks.
func (c *Closer) Lock(mu *sync.Mutex) bool {
	if c == nil {
		mu.Lock()
		return true
	}
	if mu.TryLock() {
		return true
	}
	// Wait in mu.Lock itself (fair: a waiter is not starved by an owner that
	// takes the lock again and again), from a goroutine we can walk away from.
	got := make(chan struct{})
	go func() { mu.Lock(); close(got) }()
	select {
	case <-got:
		return true
	case <-c.closing:
		go func() { <-got; mu.Unlock() }() // hand the lock back whenever it comes
		return false
	}
}

// Close allows a blocked rebalance, leaves the group (waiting at most
// LeaveWait), and closes the client, failing whatever is still in flight.
// It is safe to call more than once and from several goroutines.
func (c *Closer) Close() {
	c.once.Do(func() {
		close(c.closing)
		c.cl.AllowRebalance() // a poll may hold the rebalance (BlockRebalanceOnPoll)
		ctx, cancel := context.WithTimeout(context.Background(), LeaveWait)
		defer cancel()
		c.cl.LeaveGroupContext(ctx)
		c.cl.Close()
	})
}

// Forced reports whether Watch closed the client.
func (c *Closer) Forced() bool { return c.forced.Load() }

// Watch closes the client if it is still open grace after ctx is done,
// logging once why (what was in flight is not committed: a processor
// recomputes it from its committed position on the next start). The
// returned stop ends the watch; call it when the stop completed on its own.
func (c *Closer) Watch(ctx context.Context, grace time.Duration, log *slog.Logger, what string) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	done := false
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		t = time.AfterFunc(grace, func() {
			c.forced.Store(true)
			log.Warn(what+": the brokers did not answer while stopping; closing without committing the last batch (it is recomputed from the committed position on the next start)", "waited", grace)
			c.Close()
		})
	})
	return func() {
		stopAfter()
		mu.Lock()
		done = true
		if t != nil {
			t.Stop()
		}
		mu.Unlock()
	}
}
