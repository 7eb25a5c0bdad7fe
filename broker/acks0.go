package broker

import (
	"sync"

	"github.com/tickertape/tickertape/commitlog"
)

// acksZeroSyncer makes acks=0 batches durable (and so visible to consumers,
// who read up to the fsynced end) without waiting for a later acked
// produce. Nobody waits for these writes, so one goroutine owned by the
// broker (bgWG) does the fsyncs: handlers only record the offset each log
// must reach, and a flood of acks=0 requests costs one pending entry per
// partition, not a goroutine per partition per request.
type acksZeroSyncer struct {
	mu      sync.Mutex
	pending map[*commitlog.Log]int64 // the offset each log must be durable to
	wake    chan struct{}            // capacity 1: there is work
}

func newAcksZeroSyncer() *acksZeroSyncer {
	return &acksZeroSyncer{pending: map[*commitlog.Log]int64{}, wake: make(chan struct{}, 1)}
}

// request asks for l to be durable up to end.
func (s *acksZeroSyncer) request(l *commitlog.Log, end int64) {
	s.mu.Lock()
	if end > s.pending[l] {
		s.pending[l] = end
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop is the owner; it returns when the broker's context is done.
func (b *Broker) acksZeroLoop() {
	defer b.bgWG.Done()
	s := b.acks0
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		work := s.pending
		s.pending = map[*commitlog.Log]int64{}
		s.mu.Unlock()
		for l, end := range work {
			// An error (the log failed or closed) is the log's own to report:
			// the next acked produce or read sees it.
			_ = l.WaitDurable(b.ctx, end)
		}
	}
}
