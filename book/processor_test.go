package book

import (
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/serde"
)

// ExactlyOnce is read by other goroutines (a pipeline's snapshot) while a
// batch holds p.mu waiting for the brokers; it must not wait for that lock.
func TestExactlyOnceDoesNotWaitForABatch(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Serde: serde.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	p.eosShown.Store(true)
	p.mu.Lock() // a batch in progress
	defer p.mu.Unlock()
	if !poll.Returns(t, 5*time.Second, "ExactlyOnce while a batch holds the lock", p.ExactlyOnce) {
		t.Fatal("ExactlyOnce is false for a builder in exactly-once mode")
	}
}
