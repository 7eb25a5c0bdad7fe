// Package poll is how tests wait for something to become true: they ask
// again every few milliseconds until a deadline, and fail with what they
// were waiting for, instead of sleeping a fixed time and then asserting.
package poll

import (
	"fmt"
	"time"
)

// TB is the part of testing.TB that Until uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Interval is how often Until asks again.
const Interval = 10 * time.Millisecond

// Until calls cond every Interval until it returns true, and fails t if
// that has not happened within timeout. what says what was awaited; state,
// if not nil, is called on failure to say how things stood.
func Until(t TB, timeout time.Duration, what string, cond func() bool, state ...func() string) {
	t.Helper()
	if err := Wait(timeout, cond); err != nil {
		extra := ""
		for _, s := range state {
			extra += "; " + s()
		}
		t.Fatalf("waited %s for %s%s", timeout, what, extra)
	}
}

// Wait calls cond every Interval until it returns true (nil) or timeout
// passes (an error).
func Wait(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(Interval)
	}
}

// Returns calls f in a goroutine and returns its result, failing t if f has
// not returned within d: for what must not wait (for a lock, a peer, I/O).
func Returns[T any](t TB, d time.Duration, what string, f func() T) T {
	t.Helper()
	got := make(chan T, 1)
	go func() { got <- f() }()
	select {
	case v := <-got:
		return v
	case <-time.After(d):
		t.Fatalf("%s: still waiting after %v", what, d)
		var zero T
		return zero
	}
}
