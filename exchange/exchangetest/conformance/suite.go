// Package conformance is the conformance suite every exchange connector
// passes against its fake (see Run). It lives apart from exchangetest so
// that the fakes, which tickertape demo runs, do not pull package testing
// into the binary.
package conformance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// Harness describes one venue to the suite.
type Harness struct {
	// NewFake starts the venue's fake on a market.
	NewFake func(exchangetest.SimConfig) (exchangetest.Fake, error)
	// NewConnector makes the venue's connector from the fake's Options
	// (with short ping intervals and the like for tests).
	NewConnector func(exchange.Options) (exchange.Connector, error)
	Symbols      []exchangetest.SimSymbol
	// BookSeqIsSim: the venue's book sequence numbers are the fake's, so the
	// book is checked after every update (else at every settle point).
	BookSeqIsSim bool
	// CompleteBackfill: the venue's REST reaches back to any trade (so a
	// long outage loses nothing); otherwise the loss must be reported.
	CompleteBackfill bool
	// Checksum: the venue checksums its books.
	Checksum bool
	// BackfillTimeUnitUs is the resolution of the trade times the venue's
	// REST backfill returns, when coarser than the stream's (Bitstamp's
	// transactions: whole seconds, 1_000_000): a backfilled trade's time is
	// then checked truncated to it. 0: exact.
	BackfillTimeUnitUs int64
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Run("steady", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 20)
		e.poll(t, "tickers and book updates of every symbol", func() bool {
			e.col.mu.Lock()
			defer e.col.mu.Unlock()
			for _, s := range h.Symbols {
				if e.col.tickers[s.Venue] < 2 || e.col.bookMsgs[s.Venue] < 10 {
					return false
				}
			}
			return true
		})
		e.settle(t)
	})
	t.Run("dropped_connections", func(t *testing.T) {
		e := start(t, h, nil)
		for i := 0; i < 2; i++ {
			e.waitTrades(t, 10)
			e.fake.Hub().DropAll()
		}
		e.poll(t, "a third connection", func() bool { return e.sup.Counters.Connects.Load() >= 3 })
		e.settle(t)
	})
	t.Run("stall", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		e.fake.Faults().Stall(4 * staleAfter)
		e.poll(t, "a stall detected", func() bool { return e.sup.Counters.Stalls.Load() >= 1 })
		e.settle(t)
	})
	t.Run("book_gap", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		e.fake.Faults().SkipBook()
		e.poll(t, "a gap detected", func() bool { return e.sup.Counters.Gaps.Load()+e.sup.Counters.StreamGaps.Load() >= 1 })
		e.settle(t)
		if e.sup.Counters.Resyncs.Load() == 0 {
			t.Fatal("a gap without a resync")
		}
	})
	t.Run("malformed_frames", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		n := e.fake.SendBadFrames()
		e.poll(t, fmt.Sprintf("%d unusable frames counted", n), func() bool { return e.sup.Counters.FrameErrors.Load() >= int64(n) })
		e.settle(t)
		t.Logf("frame errors by kind: %v", e.sup.Counters.FrameErrorKinds())
	})
	for _, c := range []struct {
		name   string
		status int
	}{{"rest_rate_limited_429", 429}, {"rest_banned_418", 418}, {"rest_outage_503", 503}} {
		t.Run(c.name, func(t *testing.T) {
			e := start(t, h, nil)
			e.waitTrades(t, 10)
			e.fake.Faults().FailREST(c.status, 3, time.Second)
			before := e.sup.Counters.Connects.Load()
			e.fake.Hub().DropAll()
			e.poll(t, "a failed backfill", func() bool { return e.sup.Counters.BackfillErrors.Load() >= 1 })
			e.poll(t, "a reconnect", func() bool { return e.sup.Counters.Connects.Load() > before })
			e.settle(t)
		})
	}
	t.Run("rollover_announced", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		if !e.fake.AnnounceRollOver() {
			t.Skip("the venue never announces the end of a connection (roll-over by age is tested)")
		}
		e.poll(t, "a roll-over", func() bool { return e.sup.Counters.Rollovers.Load() >= 1 })
		e.waitTrades(t, 10)
		e.settle(t)
		if d := e.sup.Counters.Disconnects.Load() + e.sup.Counters.Stalls.Load(); d > 0 {
			t.Fatalf("%d disconnects: the roll-over was not seamless", d)
		}
	})
	t.Run("rollover_by_age", func(t *testing.T) {
		e := start(t, h, func(c *exchange.SupervisorConfig) { c.MaxConnAge = 400 * time.Millisecond })
		e.poll(t, "two roll-overs", func() bool { return e.sup.Counters.Rollovers.Load() >= 2 })
		e.settle(t)
	})
	t.Run("long_outage", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		e.fake.Faults().LimitHistory(3)
		e.fake.Faults().Refuse(time.Second)
		before := e.sup.Counters.Connects.Load()
		e.fake.Hub().DropAll()
		e.poll(t, "a reconnect after the outage", func() bool { return e.sup.Counters.Connects.Load() > before })
		if h.CompleteBackfill {
			e.settle(t)
			if g := e.sup.Counters.BackfillGaps.Load(); g > 0 {
				t.Fatalf("%d trade gaps reported by a venue whose history is complete: %v", g, e.sup.Counters.TradeGaps())
			}
			return
		}
		e.poll(t, "a reported trade gap", func() bool { return e.sup.Counters.BackfillGaps.Load() >= 1 })
		e.settleWith(t, e.sup.Counters.TradeGaps)
	})
	t.Run("slow_rest", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		e.fake.Faults().SetRESTDelay(300 * time.Millisecond)
		e.fake.Hub().DropAll()
		e.waitTrades(t, 30)
		e.fake.Faults().SetRESTDelay(0)
		e.settle(t)
	})
	t.Run("everything_at_once", func(t *testing.T) {
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		f := e.fake.Faults()
		e.fake.SendBadFrames()
		f.SkipBook()
		f.FailREST(429, 2, 0)
		e.fake.Hub().DropAll()
		e.waitTrades(t, 10)
		f.SetRESTDelay(50 * time.Millisecond)
		f.Stall(4 * staleAfter)
		e.fake.AnnounceRollOver()
		// The stall may be seen by the watchdog, or hidden behind a backfill
		// whose REST answer is stalled too; either way it has to pass.
		e.poll(t, "the stall's end", func() bool { return time.Now().After(f.StallUntil()) })
		f.SetRESTDelay(0)
		e.fake.SendBadFrames()
		e.fake.Hub().DropAll()
		e.waitTrades(t, 10)
		e.settle(t)
	})
	t.Run("checksum_mismatch", func(t *testing.T) {
		if !h.Checksum {
			t.Skip("the venue sends no book checksum")
		}
		e := start(t, h, nil)
		e.waitTrades(t, 10)
		// Three corrupted book messages, one after the other resync: each
		// must be caught (a gap, a resync) and none published.
		for i := int64(1); i <= 3; i++ {
			e.fake.Faults().CorruptBook()
			e.poll(t, fmt.Sprintf("checksum mismatch %d detected", i), func() bool { return e.sup.Counters.Gaps.Load() >= i })
			e.poll(t, "the book resynced", func() bool { return e.sup.BookStates()[h.Symbols[0].Venue] == exchange.BookSynced })
		}
		e.settle(t)
		if e.sup.Counters.Resyncs.Load() < 3 {
			t.Fatalf("%d resyncs after 3 checksum mismatches", e.sup.Counters.Resyncs.Load())
		}
	})
}

const staleAfter = 500 * time.Millisecond

type env struct {
	h    Harness
	fake exchangetest.Fake
	sup  *exchange.Supervisor
	col  *collector
}

func start(t *testing.T, h Harness, mod func(*exchange.SupervisorConfig)) *env {
	t.Helper()
	f, err := h.NewFake(exchangetest.SimConfig{Seed: 7, Symbols: h.Symbols, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := h.NewConnector(f.Options())
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	syms := make([]string, len(h.Symbols))
	for i, s := range h.Symbols {
		syms[i] = s.Venue
	}
	e := &env{h: h, fake: f}
	e.col = &collector{e: e, trades: map[string]map[string]market.Trade{}, books: map[string]*[2]map[string]string{}, tickers: map[string]int{}, bookMsgs: map[string]int{}}
	cfg := exchange.SupervisorConfig{
		Connector:     conn,
		Subscription:  exchange.Subscription{Symbols: syms, Trades: true, Tickers: true, Books: true},
		Handler:       e.col.handle,
		StaleAfter:    staleAfter,
		BackoffMin:    20 * time.Millisecond,
		BackoffMax:    200 * time.Millisecond,
		BackfillPages: 1000,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mod != nil {
		mod(&cfg)
	}
	if e.sup, err = exchange.NewSupervisor(cfg); err != nil {
		f.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Close()
	})
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// poll waits until cond holds (or fails the test after 20 s).
func (e *env) poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never saw %s (counters: %s)", what, e.counters())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTrades waits for n more trades delivered.
func (e *env) waitTrades(t *testing.T, n int64) {
	t.Helper()
	target := e.sup.Counters.Trades.Load() + n
	e.poll(t, fmt.Sprintf("%d trades", target), func() bool { return e.sup.Counters.Trades.Load() >= target })
}

func (e *env) counters() string {
	c := &e.sup.Counters
	return fmt.Sprintf("connects %d disconnects %d stalls %d rollovers %d trades %d dups %d gaps %d streamgaps %d resyncs %d dropped %d backfilled %d backfill errors %d trade gaps %d frame errors %d",
		c.Connects.Load(), c.Disconnects.Load(), c.Stalls.Load(), c.Rollovers.Load(), c.Trades.Load(), c.Duplicates.Load(), c.Gaps.Load(),
		c.StreamGaps.Load(), c.Resyncs.Load(), c.BookUpdatesDropped.Load(), c.BackfilledTrades.Load(), c.BackfillErrors.Load(), c.BackfillGaps.Load(), c.FrameErrors.Load())
}

func (e *env) settle(t *testing.T) { t.Helper(); e.settleWith(t, nil) }

// settleWith pauses the market and waits until the delivered trades and
// books equal the ground truth: every trade exactly once with every field,
// except trades inside a reported gap (which must then be missing, and
// counted exactly); every book equal to the fake's and synced.
func (e *env) settleWith(t *testing.T, gaps func() []exchange.TradeGap) {
	t.Helper()
	e.fake.Sim().Pause()
	defer e.fake.Sim().Resume()
	deadline := time.Now().Add(20 * time.Second)
	var why string
	for time.Now().Before(deadline) {
		var gs []exchange.TradeGap
		if gaps != nil {
			gs = gaps()
		}
		if why = e.compare(gs); why == "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if why != "" {
		t.Fatalf("never matched the ground truth: %s (%s)", why, e.counters())
	}
	e.col.mu.Lock()
	defer e.col.mu.Unlock()
	if e.col.dups > 0 {
		t.Fatalf("%d duplicate trades reached the handler", e.col.dups)
	}
	if len(e.col.wrong) > 0 {
		t.Fatalf("%d book updates left a book that differs from the fake's at that sequence; first: %s", len(e.col.wrong), e.col.wrong[0])
	}
}

func inGap(gs []exchange.TradeGap, sym string, id int64) bool {
	for _, g := range gs {
		a, _ := strconv.ParseInt(g.AfterID, 10, 64)
		b, err := strconv.ParseInt(g.BeforeID, 10, 64)
		if g.Symbol == sym && id > a && (err != nil || id < b) {
			return true
		}
	}
	return false
}

func (e *env) compare(gs []exchange.TradeGap) string {
	exch := e.fake.Options().Exchange
	states := e.sup.BookStates()
	e.col.mu.Lock()
	defer e.col.mu.Unlock()
	for _, s := range e.h.Symbols {
		truth := e.fake.Sim().Trades(s.Venue)
		got := e.col.trades[s.Venue]
		want := 0
		for _, w := range truth {
			id := strconv.FormatInt(w.ID, 10)
			g, ok := got[id]
			if inGap(gs, s.Venue, w.ID) {
				if ok {
					return fmt.Sprintf("%s: trade %s delivered although inside a reported gap", s.Venue, id)
				}
				continue
			}
			want++
			if !ok {
				return fmt.Sprintf("%s: trade %s missing (%d delivered, %d made)", s.Venue, id, len(got), len(truth))
			}
			wantUs := w.TimeMs * 1000
			if u := e.h.BackfillTimeUnitUs; u > 0 && g.Backfilled {
				wantUs -= wantUs % u
			}
			if g.Exchange != exch || g.Symbol != s.Normalized() || g.VenueSymbol != s.Venue || !g.Price.Equal(w.Price) || !g.Quantity.Equal(w.Quantity) ||
				(g.HasQuoteQty && !g.QuoteQuantity.Equal(w.QuoteQty)) || g.Side != w.Side || g.ExchangeTimeUs != wantUs || g.ReceivedTimeUs == 0 {
				return fmt.Sprintf("%s: trade %s delivered as %+v, made as %+v", s.Venue, id, g, w)
			}
		}
		if len(got) != want {
			return fmt.Sprintf("%s: %d trades delivered, %d expected", s.Venue, len(got), want)
		}
		for _, gp := range gs {
			if gp.Symbol != s.Venue || gp.Missing < 0 {
				continue
			}
			n := int64(0)
			for _, w := range truth {
				if inGap([]exchange.TradeGap{gp}, s.Venue, w.ID) {
					n++
				}
			}
			if n != gp.Missing {
				return fmt.Sprintf("%s: gap %s reports %d missing, %d are", s.Venue, gp, gp.Missing, n)
			}
		}
		bids, asks := e.fake.Sim().Book(s.Venue)
		b := e.col.books[s.Venue]
		if b == nil {
			return s.Venue + ": no book"
		}
		if exchangetest.BookHash(bids, asks) != exchangetest.BookHash(b[0], b[1]) {
			return fmt.Sprintf("%s: book differs: %d/%d levels delivered, %d/%d in the fake", s.Venue, len(b[0]), len(b[1]), len(bids), len(asks))
		}
		if states[s.Venue] != exchange.BookSynced {
			return fmt.Sprintf("%s: book %s", s.Venue, states[s.Venue])
		}
	}
	return ""
}

func countGaps(gs []exchange.TradeGap, sym string) int {
	n := 0
	for _, g := range gs {
		if g.Symbol == sym {
			n++
		}
	}
	return n
}

// collector is the supervisor's handler: every trade (counting duplicate
// ids) and the L2 books rebuilt from BookUpdates, checked after each one.
type collector struct {
	e        *env
	mu       sync.Mutex
	trades   map[string]map[string]market.Trade // symbol → id → trade
	dups     int
	books    map[string]*[2]map[string]string // symbol → canonical bids, asks
	tickers  map[string]int
	bookMsgs map[string]int
	wrong    []string
}

func (c *collector) handle(_ context.Context, ev exchange.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case ev.Trade != nil:
		m := c.trades[ev.Trade.VenueSymbol]
		if m == nil {
			m = map[string]market.Trade{}
			c.trades[ev.Trade.VenueSymbol] = m
		}
		if _, dup := m[ev.Trade.TradeID]; dup {
			c.dups++
		}
		m[ev.Trade.TradeID] = *ev.Trade
	case ev.Book != nil:
		u := ev.Book
		c.bookMsgs[u.VenueSymbol]++
		b := c.books[u.VenueSymbol]
		if b == nil || u.Snapshot {
			b = &[2]map[string]string{{}, {}}
			c.books[u.VenueSymbol] = b
		}
		for i, side := range [][]market.Level{u.Bids, u.Asks} {
			for _, l := range side {
				if l.Quantity.IsZero() {
					delete(b[i], exchangetest.Canon(l.Price))
				} else {
					b[i][exchangetest.Canon(l.Price)] = exchangetest.Canon(l.Quantity)
				}
			}
		}
		if c.e.h.BookSeqIsSim {
			if h, ok := c.e.fake.Sim().BookHashAt(u.VenueSymbol, u.Sequence); ok && h != exchangetest.BookHash(b[0], b[1]) && len(c.wrong) < 10 {
				c.wrong = append(c.wrong, fmt.Sprintf("%s seq %d (snapshot %v)", u.VenueSymbol, u.Sequence, u.Snapshot))
			}
		}
		if c.e.h.BookSeqIsSim {
			break // equal to the fake's book, which is never crossed
		}
		if bestBid, bestAsk := best(b[0], true), best(b[1], false); bestBid != nil && bestAsk != nil && bestBid.Cmp(*bestAsk) >= 0 && len(c.wrong) < 10 {
			c.wrong = append(c.wrong, fmt.Sprintf("%s seq %d: crossed book %s >= %s", u.VenueSymbol, u.Sequence, bestBid, bestAsk))
		}
	case ev.Ticker != nil:
		c.tickers[ev.Ticker.VenueSymbol]++
	}
	return nil
}

func best(side map[string]string, highest bool) *market.Decimal {
	ps := make([]market.Decimal, 0, len(side))
	for p := range side {
		ps = append(ps, market.MustDecimal(p))
	}
	if len(ps) == 0 {
		return nil
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Cmp(ps[j]) < 0 })
	if highest {
		return &ps[len(ps)-1]
	}
	return &ps[0]
}
