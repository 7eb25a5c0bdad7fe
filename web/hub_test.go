package web

import "testing"

// A browser that stops reading is dropped once its queue is full; the
// publisher never waits for it, and the others keep receiving.
func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	h := newHub()
	slow := h.subscribe("m|x|y")
	fast := h.subscribe("m|x|y")
	got := 0
	const n = 10 * queueLen
	for i := 0; i < n; i++ {
		h.publish("m|x|y", "trades", []int{i}) // never blocks: the slow one is not reading
		select {
		case <-fast.ch: // the fast one reads everything
			got++
		default:
		}
		if i == queueLen {
			select {
			case <-slow.gone:
			default:
				t.Fatalf("the slow subscriber is still attached after %d frames it did not read", i+1)
			}
		}
	}
	if got != n {
		t.Fatalf("the reading subscriber got %d of %d frames", got, n)
	}
	if h.dropped.Load() != 1 || h.count.Load() != 1 {
		t.Fatalf("dropped %d, open %d; want 1 and 1", h.dropped.Load(), h.count.Load())
	}
}

// Browsers that come and go leave nothing behind, and nothing is
// coalesced or encoded for topics nobody watches.
func TestDisconnectsLeaveNothing(t *testing.T) {
	h := newHub()
	var subs []*subscriber
	for i := 0; i < 100; i++ {
		subs = append(subs, h.subscribe(healthTopic, "m|x|y", "c|x|y|1s", "s|y"))
	}
	for _, s := range subs {
		h.unsubscribe(s)
		h.unsubscribe(s) // twice is harmless
	}
	if n := h.count.Load(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
	if len(h.subs) != 0 {
		t.Fatalf("topics left: %v", h.subs)
	}
	h.coalesce("m|x|y", "book", 0, "x")
	if len(h.pending) != 0 {
		t.Fatal("a change was kept for a topic nobody watches")
	}
}

// Changes between flushes are coalesced: one frame per candle window and
// per event kind, trades batched.
func TestCoalescing(t *testing.T) {
	h := newHub()
	s := h.subscribe("c|x|y|1s", "m|x|y")
	for i := 0; i < 1000; i++ {
		h.coalesce("c|x|y|1s", "candle", int64(i%5), i) // five windows: the newest two go out
		h.coalesce("m|x|y", "book", 0, i)
		h.coalesce("m|x|y", "trades", 0, i)
	}
	h.flush()
	if n := len(s.ch); n != 4 { // two windows, one trades batch, one book
		t.Fatalf("%d frames after a flush, want 4", n)
	}
	h.flush()
	if n := len(s.ch); n != 4 {
		t.Fatalf("an empty flush sent %d frames", n-4)
	}
}
