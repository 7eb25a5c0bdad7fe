package exchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickertape/tickertape/market"
)

// SupervisorConfig configures a Supervisor. Connector, Subscription (its
// symbols) and Handler are required; the zero value of every other field is
// its default (DefaultSupervisorConfig lists them).
type SupervisorConfig struct {
	Connector    Connector
	Subscription Subscription
	// Handler receives every event, in order, from one goroutine. An error
	// stops Run.
	Handler func(context.Context, Event) error
	// StaleAfter is the watchdog: a session that delivers no frame at all
	// (not even a pong) for this long is closed and redialled.
	StaleAfter time.Duration
	// BackoffMin and BackoffMax bound the exponential reconnect backoff
	// (full jitter). A zero BackoffMax is the default or BackoffMin,
	// whichever is larger.
	BackoffMin, BackoffMax time.Duration
	// BackfillLimit is the page size of the REST trade backfill.
	BackfillLimit int
	// BackfillPages bounds the pages one backfill of one symbol reads.
	BackfillPages int
	// DedupeWindow is how many trade ids per symbol are remembered to drop
	// duplicates.
	DedupeWindow int
	// MaxConnAge rolls a connection over to a new one once it is this old
	// (venues end connections after a fixed lifetime: Binance 24 h). Zero
	// is the connector's Info().MaxConnAge (none if the venue has no
	// limit); NoRollOver turns age roll-overs off.
	MaxConnAge time.Duration
	NoRollOver bool
	Logger     *slog.Logger
}

// Counters are the supervisor's running totals, safe to read at any time.
type Counters struct {
	Connects, DialErrors, Disconnects, Stalls atomic.Int64
	// SkippedTradeIDs counts streamed trades whose id skipped ahead of the
	// cursor on a venue with consecutive ids (each backfilled).
	SkippedTradeIDs                                atomic.Int64
	Rollovers, RollOverErrors                      atomic.Int64
	Trades, Tickers, BookUpdates                   atomic.Int64
	Duplicates                                     atomic.Int64
	Gaps, StreamGaps, Resyncs, BookUpdatesDropped  atomic.Int64
	BackfillRuns, BackfillErrors, BackfilledTrades atomic.Int64
	// BackfillGaps counts ranges of trades the venue could not give back;
	// BackfillMissing the trades in them, where the venue's ids tell.
	BackfillGaps, BackfillMissing atomic.Int64
	FrameErrors                   atomic.Int64
	Frames                        atomic.Int64 // frames read (control frames included)
	Connected                     atomic.Bool  // a session is open now
	mu                            sync.Mutex
	frameErrorKinds               map[string]int64
	tradeGaps                     []TradeGap

	// BackfillUnknown counts the BackfillGaps whose size the venue's ids
	// cannot tell (Bybit's last-60 history).
	BackfillUnknown atomic.Int64
}

// FrameErrorKinds returns the count of unusable frames by kind.
func (c *Counters) FrameErrorKinds() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.frameErrorKinds)
}

// TradeGaps returns the last 100 trade ranges backfill reported lost.
func (c *Counters) TradeGaps() []TradeGap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TradeGap(nil), c.tradeGaps...)
}

// BookState is the generic state of one symbol's book.
type BookState uint8

// The book states. A consumer of the events sees Syncing and Resyncing as
// "no updates until the next snapshot"; a snapshot replaces the book.
const (
	BookSyncing   BookState = iota // waiting for the first snapshot of a connection
	BookSynced                     // updates follow the snapshot
	BookResyncing                  // a gap was seen; waiting for a new snapshot
)

func (b BookState) String() string {
	return [...]string{"syncing", "synced", "resyncing"}[b]
}

// Supervisor keeps one exchange's streaming session alive, rolling it over
// to new connections as the venue requires, and its events exact.
type Supervisor struct {
	cfg      SupervisorConfig
	log      *slog.Logger
	Counters Counters

	seen    map[string]*dedupe // per symbol
	books   map[string]*book
	cursor  map[string]TradeCursor // last trade seen per symbol
	pending map[string]TradeCursor // symbols to backfill, from the cursor they had when the loss could begin
	// windows are, per symbol while a backfill is pending, the stretches
	// in which trades could be lost: from the cursor at a loss to the first
	// trade the stream delivered after it. A venue whose history is short
	// reports a gap; it is cut to these, so that no delivered trade is
	// inside a reported gap.
	windows map[string][]lossWindow
	// logLimit rate-limits warnings per kind.
	logLimit map[string]time.Time

	stateMu    sync.Mutex
	bookStates map[string]BookState
}

type lossWindow struct {
	start, end TradeCursor
	ended      bool
}

type book struct {
	sync  BookSync
	state BookState
	// exchange and symbol (normalized) from the book's messages, for the
	// resync marker; empty until the first one.
	exchange, symbol string
}

// DefaultSupervisorConfig returns the defaults NewSupervisor fills in for
// zero fields (MaxConnAge's default is the connector's).
func DefaultSupervisorConfig() SupervisorConfig {
	return SupervisorConfig{
		StaleAfter:    45 * time.Second,
		BackoffMin:    200 * time.Millisecond,
		BackoffMax:    30 * time.Second,
		BackfillLimit: 1000,
		BackfillPages: 100,
		DedupeWindow:  100000,
	}
}

// Validate reports every problem of cfg at once; zero values are defaults.
func (cfg *SupervisorConfig) Validate() error {
	var errs []error
	if cfg.Connector == nil {
		errs = append(errs, errors.New("exchange: a supervisor needs a Connector"))
	}
	if cfg.Handler == nil {
		errs = append(errs, errors.New("exchange: a supervisor needs a Handler"))
	}
	if len(cfg.Subscription.Symbols) == 0 {
		errs = append(errs, errors.New("exchange: no symbols to subscribe to"))
	}
	for i, sym := range cfg.Subscription.Symbols {
		if sym == "" {
			errs = append(errs, fmt.Errorf("exchange: symbol %d of %d is empty", i+1, len(cfg.Subscription.Symbols)))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"StaleAfter", cfg.StaleAfter}, {"BackoffMin", cfg.BackoffMin}, {"BackoffMax", cfg.BackoffMax}, {"MaxConnAge", cfg.MaxConnAge}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("exchange: %s %s is negative", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"BackfillLimit", cfg.BackfillLimit}, {"BackfillPages", cfg.BackfillPages}, {"DedupeWindow", cfg.DedupeWindow}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("exchange: %s %d is negative", n.name, n.v))
		}
	}
	if cfg.BackoffMax > 0 && cfg.BackoffMax < cfg.BackoffMin {
		errs = append(errs, fmt.Errorf("exchange: BackoffMax %s is below BackoffMin %s", cfg.BackoffMax, cfg.BackoffMin))
	}
	if cfg.NoRollOver && cfg.MaxConnAge > 0 {
		errs = append(errs, fmt.Errorf("exchange: MaxConnAge %s with NoRollOver: choose one", cfg.MaxConnAge))
	}
	return errors.Join(errs...)
}

// NewSupervisor validates cfg and fills in defaults.
func NewSupervisor(cfg SupervisorConfig) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := DefaultSupervisorConfig()
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = d.StaleAfter
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = d.BackoffMin
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = max(d.BackoffMax, cfg.BackoffMin)
	}
	if cfg.BackfillLimit == 0 {
		cfg.BackfillLimit = d.BackfillLimit
	}
	if cfg.BackfillPages == 0 {
		cfg.BackfillPages = d.BackfillPages
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = d.DedupeWindow
	}
	switch {
	case cfg.NoRollOver:
		cfg.MaxConnAge = 0
	case cfg.MaxConnAge == 0:
		cfg.MaxConnAge = cfg.Connector.Info().MaxConnAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Supervisor{
		cfg: cfg, log: cfg.Logger.With("exchange", cfg.Connector.Name()),
		seen: map[string]*dedupe{}, books: map[string]*book{}, cursor: map[string]TradeCursor{}, pending: map[string]TradeCursor{}, windows: map[string][]lossWindow{},
		logLimit: map[string]time.Time{}, bookStates: map[string]BookState{},
	}
	s.Counters.frameErrorKinds = map[string]int64{}
	return s, nil
}

// Name is the exchange name of the supervised connector.
func (s *Supervisor) Name() string { return s.cfg.Connector.Name() }

// BookStates returns each symbol's book state.
func (s *Supervisor) BookStates() map[string]BookState {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return maps.Clone(s.bookStates)
}

func (s *Supervisor) setState(sym string, b *book, st BookState) {
	b.state = st
	s.stateMu.Lock()
	s.bookStates[sym] = st
	s.stateMu.Unlock()
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
		err = s.serve(ctx, &sess)
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

type dialResult struct {
	sess Session
	err  error
}

// newConnection resets the books (a new connection starts with snapshots)
// and schedules every symbol's trade backfill: its subscriptions are live,
// so nothing after this moment can be missed, and the backfill covers what
// came before.
func (s *Supervisor) newConnection() {
	for sym, b := range s.books {
		b.sync.Reset()
		s.setState(sym, b, BookSyncing)
	}
	if s.cfg.Subscription.Trades {
		for _, sym := range s.cfg.Subscription.Symbols {
			s.schedule(sym)
		}
	}
}

// schedule asks for a backfill of sym from its current cursor: trades the
// stream delivers meanwhile advance the cursor but not where the backfill
// starts. A backfill already pending keeps its (older) start.
func (s *Supervisor) schedule(sym string) {
	if _, ok := s.pending[sym]; !ok {
		s.pending[sym] = s.cursor[sym]
	}
	if ws := s.windows[sym]; len(ws) == 0 || ws[len(ws)-1].ended {
		s.windows[sym] = append(ws, lossWindow{start: s.cursor[sym]})
	}
}

// endWindows ends the open loss windows of a stream trade's symbol.
func (s *Supervisor) endWindows(t *market.Trade) {
	ws := s.windows[t.VenueSymbol]
	for i := range ws {
		if !ws[i].ended {
			ws[i].end, ws[i].ended = TradeCursor{ID: t.TradeID, TimeUs: t.ExchangeTimeUs}, true
		}
	}
}

// before reports whether cursor a is older than b: by id when both are
// integers, by time otherwise.
func before(a, b TradeCursor) bool {
	x, ok1 := a.NumericID()
	y, ok2 := b.NumericID()
	if ok1 && ok2 {
		return x < y
	}
	return a.TimeUs < b.TimeUs
}

// cutGap cuts a gap the venue reported (from the backfill's start to the
// first trade it could return) to the loss windows: trades the stream
// delivered between two losses are not lost.
func (s *Supervisor) cutGap(sym string, g TradeGap) []TradeGap {
	ws := s.windows[sym]
	if len(ws) == 0 {
		return []TradeGap{g}
	}
	from, first := TradeCursor{ID: g.AfterID, TimeUs: g.FromTimeUs}, TradeCursor{ID: g.BeforeID, TimeUs: g.ToTimeUs}
	consecutive := s.cfg.Connector.Info().TradeIDsConsecutive
	var out []TradeGap
	for _, w := range ws {
		start, end := w.start, first
		if !from.IsZero() && before(start, from) {
			start = from
		}
		if w.ended && before(w.end, first) {
			end = w.end
		}
		if start.IsZero() || !before(start, end) {
			continue
		}
		c := TradeGap{Symbol: sym, AfterID: start.ID, BeforeID: end.ID, FromTimeUs: start.TimeUs, ToTimeUs: end.TimeUs, Missing: -1}
		if start == from && end == first {
			c.Missing = g.Missing
		} else if a, ok1 := start.NumericID(); consecutive && ok1 {
			if b, ok2 := end.NumericID(); ok2 {
				c.Missing = b - a - 1
			}
		}
		if c.Missing != 0 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return []TradeGap{g}
	}
	return out
}

// serve reads one session, and the sessions it rolls over to, until one
// fails. *sessp is the current session (the caller closes it).
func (s *Supervisor) serve(ctx context.Context, sessp *Session) error {
	s.newConnection()
	var retryAt time.Time
	retries := 0
	connectedAt := time.Now()

	rctx, rcancel := context.WithCancel(ctx)
	var rollc chan dialResult
	defer func() {
		rcancel()
		if rollc != nil {
			if r := <-rollc; r.sess != nil {
				r.sess.Close()
			}
		}
	}()
	// While a roll-over dial is under way, reads use readCtx, which the dial
	// cancels once the next session is live, so a quiet old connection does
	// not hold up the switch.
	readCtx := ctx
	roll := func(reason string) {
		if rollc != nil {
			return
		}
		s.log.Debug("rolling over to a new connection", "reason", reason)
		rollc = make(chan dialResult, 1)
		var cancelRead context.CancelFunc
		readCtx, cancelRead = context.WithCancel(ctx)
		go func(c chan dialResult) {
			ns, err := s.cfg.Connector.Dial(rctx, s.cfg.Subscription)
			c <- dialResult{ns, err}
			if err == nil {
				cancelRead()
			}
		}(rollc)
	}
	for {
		if rollc != nil {
			select {
			case r := <-rollc:
				rollc = nil
				readCtx = ctx
				if r.err != nil {
					s.Counters.RollOverErrors.Add(1)
					s.logRated("rollover", "cannot open the next connection; keeping the current one", "err", r.err)
					connectedAt = time.Now().Add(-s.cfg.MaxConnAge + s.cfg.BackoffMax) // try again later
					break
				}
				(*sessp).Close()
				*sessp = r.sess
				connectedAt = time.Now()
				s.Counters.Rollovers.Add(1)
				s.newConnection()
			default:
			}
		}
		if s.cfg.MaxConnAge > 0 && time.Since(connectedAt) > s.cfg.MaxConnAge {
			roll("connection age")
		}
		if len(s.pending) > 0 && !time.Now().Before(retryAt) {
			if err := s.backfill(ctx); err != nil {
				var he handlerError
				if errors.As(err, &he) {
					return err
				}
				retries++
				retryAt = time.Now().Add(max(min(s.cfg.BackoffMin<<min(retries, 10), s.cfg.BackoffMax), RetryAfter(err)))
			} else {
				retries = 0
			}
		}
		sess := *sessp
		// One deadline for the whole wait: a session cancelled mid-read is
		// closed (the WebSocket library does so), so backfill retries happen
		// between frames, and the venue's pongs keep frames coming.
		nctx, cancel := context.WithTimeout(readCtx, s.cfg.StaleAfter)
		evs, err := sess.Next(nctx)
		timedOut := nctx.Err() != nil && ctx.Err() == nil
		cancel()
		if err != nil && readCtx.Err() != nil && ctx.Err() == nil {
			continue // the read was cut short for the roll-over: switch now
		}
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
			if ev.RollOver != nil {
				roll(ev.RollOver.Reason)
				continue
			}
			if err := s.handle(ctx, sess, ev); err != nil {
				return err
			}
		}
	}
}

func (s *Supervisor) book(sym string) *book {
	b := s.books[sym]
	if b == nil {
		b = &book{sync: s.cfg.Connector.NewBookSync()}
		s.books[sym] = b
		s.setState(sym, b, BookSyncing)
	}
	return b
}

// resync marks a book as resyncing and asks the session for a snapshot.
func (s *Supervisor) resync(ctx context.Context, sess Session, sym string) error {
	b := s.book(sym)
	b.sync.Reset()
	s.setState(sym, b, BookResyncing)
	s.Counters.Resyncs.Add(1)
	if b.exchange != "" {
		// Tell consumers of the events that the book they rebuilt is now
		// unknown: the messages it missed are never published.
		m := &market.BookUpdate{Exchange: b.exchange, Symbol: b.symbol, VenueSymbol: sym, Resync: true,
			Bids: []market.Level{}, Asks: []market.Level{}, ReceivedTimeUs: time.Now().UnixMicro()}
		if err := s.cfg.Handler(ctx, Event{Book: m}); err != nil {
			return handlerError{err}
		}
	}
	return sess.Resync(ctx, sym)
}

func (s *Supervisor) handle(ctx context.Context, sess Session, ev Event) error {
	switch {
	case ev.Trade != nil:
		t := ev.Trade
		if !s.dedupe(t.VenueSymbol).add(t.TradeID) {
			s.Counters.Duplicates.Add(1)
			return nil
		}
		if !t.Backfilled {
			s.checkSkipped(t)
		}
		s.advanceCursor(t)
		if !t.Backfilled {
			s.endWindows(t)
		}
		s.Counters.Trades.Add(1)
	case ev.Book != nil:
		u := ev.Book
		b := s.book(u.VenueSymbol)
		switch b.sync.Check(u) {
		case Skip:
			s.Counters.BookUpdatesDropped.Add(1)
			return nil
		case Gap:
			s.Counters.Gaps.Add(1)
			s.Counters.BookUpdatesDropped.Add(1)
			s.logRated("gap:"+u.VenueSymbol, "book sequence gap; asking for a new snapshot", "symbol", u.VenueSymbol, "sequence", u.Sequence, "prev_sequence", u.PrevSequence)
			if err := s.resync(ctx, sess, u.VenueSymbol); err != nil {
				return err // the session is broken: reconnect, which resnapshots everything
			}
			return nil
		}
		if u.Snapshot || b.state != BookSynced {
			s.setState(u.VenueSymbol, b, BookSynced)
		}
		b.exchange, b.symbol = u.Exchange, u.Symbol
		stamp(b.sync, u)
		s.Counters.BookUpdates.Add(1)
	case ev.Ticker != nil:
		s.Counters.Tickers.Add(1)
	case ev.Gap != nil:
		s.Counters.StreamGaps.Add(1)
		syms := ev.Gap.Symbols
		if len(syms) == 0 {
			syms = s.cfg.Subscription.Symbols
		}
		s.logRated("streamgap", "the stream lost messages; resyncing books and backfilling trades", "reason", ev.Gap.Reason, "symbols", len(syms))
		for _, sym := range syms {
			if s.cfg.Subscription.Books {
				if err := s.resync(ctx, sess, sym); err != nil {
					return err
				}
			}
			if s.cfg.Subscription.Trades {
				s.schedule(sym)
			}
		}
		return nil
	default:
		return nil
	}
	if err := s.cfg.Handler(ctx, ev); err != nil {
		return handlerError{err}
	}
	return nil
}

// advanceCursor remembers t if it is the newest trade of its symbol: by id
// when both ids are integers, by time otherwise.
// checkSkipped backfills from the cursor when a venue whose trade ids are
// consecutive streams an id beyond the next one: trades were lost although
// the connection held (e.g. made between the subscription's answer and the
// stream's start, after the backfill had read the history). A backfill
// already pending keeps its older start.
func (s *Supervisor) checkSkipped(t *market.Trade) {
	if !s.cfg.Connector.Info().TradeIDsConsecutive {
		return
	}
	cur, ok := s.cursor[t.VenueSymbol]
	if !ok {
		return
	}
	a, aok := cur.NumericID()
	b, err := strconv.ParseInt(t.TradeID, 10, 64)
	if !aok || err != nil || b <= a+1 {
		return
	}
	if _, pending := s.pending[t.VenueSymbol]; !pending {
		s.Counters.SkippedTradeIDs.Add(1)
		s.logRated("skipped:"+t.VenueSymbol, "trade ids skipped on the stream; backfilling them", "symbol", t.VenueSymbol, "after_id", cur.ID, "id", t.TradeID)
	}
	s.schedule(t.VenueSymbol)
}

func (s *Supervisor) advanceCursor(t *market.Trade) {
	cur, ok := s.cursor[t.VenueSymbol]
	if ok {
		a, aok := cur.NumericID()
		b, berr := strconv.ParseInt(t.TradeID, 10, 64)
		if aok && berr == nil {
			if b <= a {
				return
			}
		} else if t.ExchangeTimeUs < cur.TimeUs {
			return
		}
	}
	s.cursor[t.VenueSymbol] = TradeCursor{ID: t.TradeID, TimeUs: t.ExchangeTimeUs}
}

// backfill recovers the trades of each pending symbol since its cursor, page
// by page, and emits the ones not seen yet, oldest first. Symbols done are
// removed from pending; the first error stops it (retried later).
func (s *Supervisor) backfill(ctx context.Context) error {
	syms := make([]string, 0, len(s.pending))
	for sym := range s.pending {
		syms = append(syms, sym)
	}
	sort.Strings(syms)
	for _, sym := range syms {
		if err := s.backfillSymbol(ctx, sym); err != nil {
			return err
		}
		delete(s.pending, sym)
		delete(s.windows, sym)
	}
	return nil
}

func (s *Supervisor) backfillSymbol(ctx context.Context, sym string) error {
	s.Counters.BackfillRuns.Add(1)
	cur := s.pending[sym]
	d := s.dedupe(sym)
	for page := 0; ; page++ {
		if page == s.cfg.BackfillPages {
			s.reportGap(TradeGap{Symbol: sym, AfterID: cur.ID, FromTimeUs: cur.TimeUs, ToTimeUs: time.Now().UnixMicro(), Missing: -1},
				"the trade backfill stopped after its page limit; later trades may be missing")
			return nil
		}
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		p, err := s.cfg.Connector.Trades(rctx, sym, cur, s.cfg.BackfillLimit)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.Counters.BackfillErrors.Add(1)
			s.logRated("backfill", "trade backfill failed; will retry", "symbol", sym, "err", err)
			return err
		}
		if p.Gap != nil {
			g := *p.Gap
			g.Symbol = sym
			for _, c := range s.cutGap(sym, g) {
				s.reportGap(c, "trades lost: the venue's history does not reach back to the last trade seen")
			}
		}
		for i := range p.Trades {
			t := &p.Trades[i]
			if d.has(t.TradeID) {
				continue
			}
			t.Backfilled = true
			s.Counters.BackfilledTrades.Add(1)
			if err := s.handle(ctx, nil, Event{Trade: t}); err != nil {
				return err
			}
		}
		if !p.More || len(p.Trades) == 0 || cur.IsZero() {
			return nil
		}
		last := p.Trades[len(p.Trades)-1]
		cur = TradeCursor{ID: last.TradeID, TimeUs: last.ExchangeTimeUs}
	}
}

func (s *Supervisor) reportGap(g TradeGap, msg string) {
	s.Counters.BackfillGaps.Add(1)
	if g.Missing > 0 {
		s.Counters.BackfillMissing.Add(g.Missing)
	} else if g.Missing < 0 {
		s.Counters.BackfillUnknown.Add(1)
	}
	s.Counters.mu.Lock()
	if len(s.Counters.tradeGaps) == 100 {
		s.Counters.tradeGaps = s.Counters.tradeGaps[1:]
	}
	s.Counters.tradeGaps = append(s.Counters.tradeGaps, g)
	s.Counters.mu.Unlock()
	s.logRated("tradegap:"+g.Symbol, msg, "symbol", g.Symbol, "after_id", g.AfterID, "before_id", g.BeforeID, "missing", g.Missing,
		"from", time.UnixMicro(g.FromTimeUs).UTC(), "to", time.UnixMicro(g.ToTimeUs).UTC())
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
