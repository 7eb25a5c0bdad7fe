package exchangetest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Faults are the knobs every fake honours. Safe for concurrent use.
type Faults struct {
	mu          sync.Mutex
	stallUntil  time.Time
	refuseUntil time.Time
	skipBook    int
	corruptBook int
	restQueue   []restFault
	restDelay   time.Duration
	history     int
	restCalls   int
}

type restFault struct {
	status     int
	retryAfter time.Duration
}

// Stall makes every connection go silent (no data, no pongs) for d; the
// market goes on, and what it sends meanwhile is held back.
func (f *Faults) Stall(d time.Duration) { f.mu.Lock(); f.stallUntil = time.Now().Add(d); f.mu.Unlock() }

// StallUntil is when the current stall ends.
func (f *Faults) StallUntil() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.stallUntil }

// Refuse makes the WebSocket endpoint answer HTTP 503 for d (an outage).
func (f *Faults) Refuse(d time.Duration) {
	f.mu.Lock()
	f.refuseUntil = time.Now().Add(d)
	f.mu.Unlock()
}

// Refusing reports whether connections are refused now.
func (f *Faults) Refusing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Before(f.refuseUntil)
}

// SkipBook makes the fake apply the next book change of every symbol but
// not send it, so clients see a gap.
func (f *Faults) SkipBook() { f.mu.Lock(); f.skipBook++; f.mu.Unlock() }

// TakeBookSkip consumes one SkipBook; the fake calls it once per tick.
func (f *Faults) TakeBookSkip() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skipBook > 0 {
		f.skipBook--
		return true
	}
	return false
}

// CorruptBook makes the fake send the next book change of every symbol
// with one level's quantity wrong while its checksum is the true book's
// (or, with no level to spoil, a wrong checksum): what a checksum exists
// to catch. Only venues that checksum their books honour it.
func (f *Faults) CorruptBook() { f.mu.Lock(); f.corruptBook++; f.mu.Unlock() }

// TakeBookCorruption consumes one CorruptBook; the fake calls it once per tick.
func (f *Faults) TakeBookCorruption() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.corruptBook > 0 {
		f.corruptBook--
		return true
	}
	return false
}

// FailREST answers the next n REST calls with status (429, 418, 503),
// with a Retry-After header when retryAfter > 0.
func (f *Faults) FailREST(status, n int, retryAfter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.restQueue = append(f.restQueue, restFault{status, retryAfter})
	}
}

// SetRESTDelay slows every REST answer by d.
func (f *Faults) SetRESTDelay(d time.Duration) { f.mu.Lock(); f.restDelay = d; f.mu.Unlock() }

// LimitHistory makes the REST trade history keep only the last n trades of
// each symbol (0: the venue's own rule), to model an outage longer than
// the venue's memory.
func (f *Faults) LimitHistory(n int) { f.mu.Lock(); f.history = n; f.mu.Unlock() }

// History is the LimitHistory setting.
func (f *Faults) History() int { f.mu.Lock(); defer f.mu.Unlock(); return f.history }

// RESTCalls is how many REST requests the fake has been asked.
func (f *Faults) RESTCalls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.restCalls }

// REST applies the REST knobs to one request: it waits the delay and, for
// a queued failure, writes the error answer (body in the venue's JSON) and
// returns false.
func (f *Faults) REST(w http.ResponseWriter, errorBody func(status int) string) bool {
	f.mu.Lock()
	f.restCalls++
	delay := f.restDelay
	var fault *restFault
	if len(f.restQueue) > 0 {
		fault = &f.restQueue[0]
		f.restQueue = f.restQueue[1:]
	}
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if fault == nil {
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	if fault.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((fault.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(fault.status)
	w.Write([]byte(errorBody(fault.status)))
	return false
}
