package broker

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/poll"
)

// callbackGoroutines counts goroutines running a function whose name
// contains fn (a timer callback) and blocked on a mutex.
func callbackGoroutines(fn string, blocked bool) int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) && (!blocked || strings.Contains(g, "sync.(*Mutex).Lock")) {
			n++
		}
	}
	return n
}

// TestStaleSessionTimerDoesNotExpireAHeartbeat: a session timer that has
// fired and waits for the coordinator's lock while the member heartbeats
// must not expire the member (on the old code it did: the callback checked
// only that the member was still in the group).
func TestStaleSessionTimerDoesNotExpireAHeartbeat(t *testing.T) {
	tb := startBroker(t)
	co := tb.b.groups
	co.mu.Lock()
	g := co.getGroup("stale-session", true)
	m := &member{id: "m1", sessionTimeout: 20 * time.Millisecond, rebalanceTimeout: time.Minute}
	g.members[m.id], g.leader, g.generation = m, m.id, 1
	g.setState(groupStable)
	co.resetSessionLocked(g, m)
	// Keep the lock until the timer has fired and its callback waits for it.
	poll.Until(t, 10*time.Second, "the session timer to fire and wait for the lock", func() bool {
		return callbackGoroutines("resetSessionLocked.func", true) == 1
	})
	m.sessionTimeout = time.Minute
	co.resetSessionLocked(g, m) // the heartbeat that arrived in time
	co.mu.Unlock()
	poll.Until(t, 10*time.Second, "the stale callback to return", func() bool {
		return callbackGoroutines("resetSessionLocked.func", false) == 0
	})
	co.mu.Lock()
	defer co.mu.Unlock()
	if g.members["m1"] != m || g.state != groupStable {
		t.Fatalf("a member that heartbeated in time was expired by its previous session timer (state %v, members %d)", g.state, len(g.members))
	}
}

// TestStaleRebalanceTimerDoesNotEndTheNextRebalance: a rebalance timer that
// fired while the join completed by other means must not end the next
// rebalance early (which would expire members still rejoining).
func TestStaleRebalanceTimerDoesNotEndTheNextRebalance(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.NoGroupInitialRebalanceDelay = true })
	co := tb.b.groups
	co.mu.Lock()
	g := co.getGroup("stale-rebalance", true)
	m := &member{id: "m1", sessionTimeout: time.Minute, rebalanceTimeout: 20 * time.Millisecond}
	g.members[m.id], g.leader, g.generation = m, m.id, 1
	g.setState(groupStable)
	co.prepareRebalanceLocked(g, false)
	poll.Until(t, 10*time.Second, "the rebalance timer to fire and wait for the lock", func() bool {
		return callbackGoroutines("prepareRebalanceLocked.func", true) == 1
	})
	// Meanwhile that rebalance ended and the next one began, with a long timeout.
	g.setState(groupStable)
	m.rebalanceTimeout = time.Minute
	co.prepareRebalanceLocked(g, false)
	co.mu.Unlock()
	poll.Until(t, 10*time.Second, "the stale callback to return", func() bool {
		return callbackGoroutines("prepareRebalanceLocked.func", false) == 0
	})
	co.mu.Lock()
	defer co.mu.Unlock()
	if g.state != groupPreparingRebalance || g.members["m1"] != m {
		t.Fatalf("the previous rebalance's timer ended the next rebalance: state %v, members %d", g.state, len(g.members))
	}
}
