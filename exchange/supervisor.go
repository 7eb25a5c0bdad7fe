package exchange

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// SupervisorConfig configures a Supervisor; zero values take the defaults in
// NewSupervisor.
type SupervisorConfig struct {
	Connector    Connector
	Subscription Subscription
	// Handler receives every event, in order, from one goroutine. An error
	// stops Run.
	Handler func(context.Context, Event) error
	// StaleAfter is the watchdog: a session that delivers no frame at all
	// (not even a pong) for this long is closed and redialled. Default 45s.
	StaleAfter time.Duration
	// BackoffMin and BackoffMax bound the exponential reconnect backoff
	// (full jitter). Defaults 200ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// BackfillLimit is how many recent trades per symbol the REST backfill
	// asks for. Default 1000.
	BackfillLimit int
	// DedupeWindow is how many trade ids per symbol are remembered to drop
	// duplicates. Default 100000.
	DedupeWindow int
	Logger       *slog.Logger
}

// Counters are the supervisor's running totals, safe to read at any time.
type Counters struct {
	Connects, DialErrors, Disconnects, Stalls      atomic.Int64
	Trades, Tickers, BookUpdates                   atomic.Int64
	Duplicates                                     atomic.Int64
	Gaps, Resyncs, BookUpdatesDropped              atomic.Int64
	BackfillRuns, BackfillErrors, BackfilledTrades atomic.Int64
	BackfillIncomplete                             atomic.Int64
	FrameErrors                                    atomic.Int64
	Frames                                         atomic.Int64 // frames read (control frames included)
	Connected                                      atomic.Bool  // a session is open now
	mu                                             sync.Mutex
	frameErrorKinds                                map[string]int64
}

// FrameErrorKinds returns the count of unusable frames by kind.
func (c *Counters) FrameErrorKinds() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.frameErrorKinds))
	for k, v := range c.frameErrorKinds {
		out[k] = v
	}
	return out
}

// Supervisor keeps one exchange connection alive and its events exact.
type Supervisor struct {
	cfg      SupervisorConfig
	log      *slog.Logger
	Counters Counters

	seen  map[string]*dedupe // per symbol
	books map[string]*bookState
	// last trade seen per symbol, to tell when a backfill may have missed trades
	lastTrade map[string]int64
	logLimit  map[string]time.Time
}

type bookState struct {
	seq    int64
	synced bool
}

// NewSupervisor validates cfg and fills in defaults.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.Connector == nil || cfg.Handler == nil {
		return nil, errors.New("exchange: a supervisor needs a Connector and a Handler")
	}
	if len(cfg.Subscription.Symbols) == 0 {
		return nil, errors.New("exchange: no symbols to subscribe to")
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 45 * time.Second
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 200 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	if cfg.BackfillLimit <= 0 {
		cfg.BackfillLimit = 1000
	}
	if cfg.DedupeWindow <= 0 {
		cfg.DedupeWindow = 100000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Supervisor{
		cfg: cfg, log: cfg.Logger.With("exchange", cfg.Connector.Name()),
		seen: map[string]*dedupe{}, books: map[string]*bookState{}, lastTrade: map[string]int64{}, logLimit: map[string]time.Time{},
	}
	s.Counters.frameErrorKinds = map[string]int64{}
	return s, nil
}

// Run streams until ctx is cancelled (then it returns nil) or the handler
// fails (then it returns the handler's error).
func (s *Supervisor) Run(ctx context.Context) error {
	attempt := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		sess, err := s.cfg.Connector.Dial(ctx, s.cfg.Subscription)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.Counters.DialErrors.Add(1)
			s.logRated("dial", "cannot connect; retrying", "err", err, "attempt", attempt+1)
			if !s.sleep(ctx, attempt) {
				return nil
			}
			attempt++
			continue
		}
		s.Counters.Connects.Add(1)
		s.Counters.Connected.Store(true)
		connected := time.Now()
		err = s.serve(ctx, sess)
		s.Counters.Connected.Store(false)
		sess.Close()
		var he handlerError
		switch {
		case errors.As(err, &he):
			return he.err
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errStale):
			s.Counters.Stalls.Add(1)
			s.logRated("stall", "connection stalled; reconnecting", "silent_for", s.cfg.StaleAfter)
		default:
			s.Counters.Disconnects.Add(1)
			s.logRated("disconnect", "connection lost; reconnecting", "err", err)
		}
		if time.Since(connected) > 10*s.cfg.BackoffMin+time.Second {
			attempt = 0 // it had been healthy: reconnect at once
		}
		if !s.sleep(ctx, attempt) {
			return nil
		}
		attempt++
	}
}

var errStale = errors.New("exchange: no frame within the watchdog limit")

type handlerError struct{ err error }

func (h handlerError) Error() string { return h.err.Error() }

// sleep waits the backoff for attempt (full jitter); false if ctx ended.
func (s *Supervisor) sleep(ctx context.Context, attempt int) bool {
	d := s.cfg.BackoffMin << min(attempt, 20)
	if d > s.cfg.BackoffMax || d <= 0 {
		d = s.cfg.BackoffMax
	}
	d = s.cfg.BackoffMin/2 + time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// serve reads one session until it fails. Right after the dial (the
// subscriptions are live, so nothing new can be missed from here on) it
// backfills every symbol's recent trades; a failed backfill is retried.
func (s *Supervisor) serve(ctx context.Context, sess Session) error {
	for _, st := range s.books {
		st.synced = false // a new connection starts with a snapshot
	}
	pending := map[string]bool{}
	if s.cfg.Subscription.Trades {
		for _, sym := range s.cfg.Subscription.Symbols {
			pending[sym] = true
		}
	}
	var retryAt time.Time
	retries := 0
	for {
		if len(pending) > 0 && !time.Now().Before(retryAt) {
			if err := s.backfill(ctx, pending); err != nil {
				var he handlerError
				if errors.As(err, &he) {
					return err
				}
				retries++
				retryAt = time.Now().Add(min(s.cfg.BackoffMin<<min(retries, 10), s.cfg.BackoffMax))
			}
		}
		// One deadline for the whole wait: a session cancelled mid-read is
		// closed (the WebSocket library does so), so backfill retries happen
		// between frames, and the venue's pongs keep frames coming.
		nctx, cancel := context.WithTimeout(ctx, s.cfg.StaleAfter)
		evs, err := sess.Next(nctx)
		timedOut := nctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			s.Counters.Frames.Add(1)
		}
		if err != nil {
			var fe *FrameError
			switch {
			case errors.As(err, &fe):
				s.Counters.Frames.Add(1)
				s.Counters.FrameErrors.Add(1)
				s.Counters.mu.Lock()
				s.Counters.frameErrorKinds[fe.Kind]++
				s.Counters.mu.Unlock()
				s.logRated("frame:"+fe.Kind, "unusable frame from the exchange (counted, skipped)", "kind", fe.Kind, "err", fe.Err, "frame", fe.Frame)
			case timedOut:
				return errStale
			default:
				return err
			}
		}
		for _, ev := range evs {
			if err := s.handle(ctx, sess, ev); err != nil {
				return err
			}
		}
	}
}

func (s *Supervisor) handle(ctx context.Context, sess Session, ev Event) error {
	switch {
	case ev.Trade != nil:
		t := ev.Trade
		if !s.dedupe(t.VenueSymbol).add(t.TradeID) {
			s.Counters.Duplicates.Add(1)
			return nil
		}
		s.lastTrade[t.VenueSymbol] = max(s.lastTrade[t.VenueSymbol], t.ExchangeTimeUs)
		s.Counters.Trades.Add(1)
	case ev.Book != nil:
		u := ev.Book
		st := s.books[u.VenueSymbol]
		if st == nil {
			st = &bookState{}
			s.books[u.VenueSymbol] = st
		}
		switch {
		case u.Snapshot:
			st.seq, st.synced = u.Sequence, true
		case !st.synced:
			s.Counters.BookUpdatesDropped.Add(1) // waiting for the snapshot we asked for
			return nil
		case u.PrevSequence != st.seq:
			s.Counters.Gaps.Add(1)
			s.Counters.BookUpdatesDropped.Add(1)
			s.logRated("gap:"+u.VenueSymbol, "book sequence gap; asking for a new snapshot", "symbol", u.VenueSymbol, "expected_prev", st.seq, "got_prev", u.PrevSequence)
			st.synced = false
			s.Counters.Resyncs.Add(1)
			if err := sess.Resync(ctx, u.VenueSymbol); err != nil {
				return err // the session is broken: reconnect, which resnapshots everything
			}
			return nil
		default:
			st.seq = u.Sequence
		}
		s.Counters.BookUpdates.Add(1)
	case ev.Ticker != nil:
		s.Counters.Tickers.Add(1)
	}
	if err := s.cfg.Handler(ctx, ev); err != nil {
		return handlerError{err}
	}
	return nil
}

// backfill fetches recent trades of each pending symbol and emits the ones
// not seen yet, oldest first. Symbols done are removed from pending.
func (s *Supervisor) backfill(ctx context.Context, pending map[string]bool) error {
	syms := make([]string, 0, len(pending))
	for sym := range pending {
		syms = append(syms, sym)
	}
	sort.Strings(syms)
	for _, sym := range syms {
		s.Counters.BackfillRuns.Add(1)
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		trades, err := s.cfg.Connector.RecentTrades(rctx, sym, s.cfg.BackfillLimit)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.Counters.BackfillErrors.Add(1)
			s.logRated("backfill", "trade backfill failed; will retry", "symbol", sym, "err", err)
			return err
		}
		d := s.dedupe(sym)
		if last, ok := s.lastTrade[sym]; ok && len(trades) >= s.cfg.BackfillLimit && !d.has(trades[0].TradeID) && trades[0].ExchangeTimeUs > last {
			// The oldest trade REST still has is newer than anything we saw:
			// trades between the two may be lost.
			s.Counters.BackfillIncomplete.Add(1)
			s.log.Warn("the trade backfill may have missed trades (the outage outlasted the venue's recent-trades window)", "symbol", sym, "limit", s.cfg.BackfillLimit)
		}
		for i := range trades {
			t := &trades[i]
			if d.has(t.TradeID) {
				continue
			}
			t.Backfilled = true
			s.Counters.BackfilledTrades.Add(1)
			if err := s.handle(ctx, nil, Event{Trade: t}); err != nil {
				return err
			}
		}
		delete(pending, sym)
	}
	return nil
}

func (s *Supervisor) dedupe(sym string) *dedupe {
	d := s.seen[sym]
	if d == nil {
		d = newDedupe(s.cfg.DedupeWindow)
		s.seen[sym] = d
	}
	return d
}

// logRated logs a kind of problem at most once per minute (the first
// occurrence at once), so a misbehaving venue cannot flood the log.
func (s *Supervisor) logRated(kind, msg string, args ...any) {
	now := time.Now()
	if next, ok := s.logLimit[kind]; ok && now.Before(next) {
		return
	}
	s.logLimit[kind] = now.Add(time.Minute)
	s.log.Warn(msg, args...)
}

// dedupe remembers the last n ids (FIFO).
type dedupe struct {
	ids  map[string]struct{}
	ring []string
	next int
}

func newDedupe(n int) *dedupe {
	return &dedupe{ids: make(map[string]struct{}), ring: make([]string, n)}
}

func (d *dedupe) has(id string) bool { _, ok := d.ids[id]; return ok }

// add records id and reports whether it was new.
func (d *dedupe) add(id string) bool {
	if d.has(id) {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.ids, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % len(d.ring)
	d.ids[id] = struct{}{}
	return true
}
