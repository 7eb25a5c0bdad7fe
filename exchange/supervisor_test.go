package exchange

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/market"
)

// scripted is a Connector whose sessions play scripted events; Trades
// answers from a list of pages. Everything it was asked is recorded.
type scripted struct {
	mu       sync.Mutex
	sessions chan *scriptSession // the next Dial returns the next one
	pages    map[string][]TradePage
	asked    []TradeCursor
	resyncs  []string
	fail     int // the next calls of Trades that fail
	// consecutive: the venue's trade ids are consecutive integers.
	consecutive bool
}

type scriptSession struct {
	c      *scripted
	frames chan []Event
	closed chan struct{}
	once   sync.Once
}

func newScriptSession(c *scripted) *scriptSession {
	return &scriptSession{c: c, frames: make(chan []Event, 100), closed: make(chan struct{})}
}

func (s *scriptSession) Next(ctx context.Context) ([]Event, error) {
	select {
	case evs := <-s.frames:
		return evs, nil
	case <-s.closed:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *scriptSession) Resync(_ context.Context, sym string) error {
	s.c.mu.Lock()
	s.c.resyncs = append(s.c.resyncs, sym)
	s.c.mu.Unlock()
	return nil
}

func (s *scriptSession) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

func (c *scripted) Name() string { return "scripted" }
func (c *scripted) Info() Info {
	return Info{Name: "scripted", TradeIDsConsecutive: c.consecutive}
}
func (c *scripted) Markets(context.Context) ([]Market, error) { return nil, nil }
func (c *scripted) NewBookSync() BookSync                     { return &ChainSync{} }
func (c *scripted) Dial(ctx context.Context, _ Subscription) (Session, error) {
	select {
	case s := <-c.sessions:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *scripted) Trades(_ context.Context, sym string, after TradeCursor, _ int) (TradePage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, after)
	if c.fail > 0 {
		c.fail--
		return TradePage{}, &RESTError{Venue: "scripted", Status: 503}
	}
	ps := c.pages[sym]
	if len(ps) == 0 {
		return TradePage{}, nil
	}
	p := ps[0]
	c.pages[sym] = ps[1:]
	return p, nil
}

func trade(id int64) *market.Trade {
	return &market.Trade{Exchange: "scripted", Symbol: "BTC-USDT", VenueSymbol: "BTCUSDT", TradeID: strconv.FormatInt(id, 10),
		Price: market.MustDecimal("1"), Quantity: market.MustDecimal("1"), ExchangeTimeUs: id}
}

type sink struct {
	mu     sync.Mutex
	trades []string
	books  []int64
}

func (k *sink) handle(_ context.Context, ev Event) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ev.Trade != nil {
		k.trades = append(k.trades, ev.Trade.TradeID)
	}
	if ev.Book != nil {
		k.books = append(k.books, ev.Book.Sequence)
	}
	return nil
}

func (k *sink) count() (int, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.trades), len(k.books)
}

// TestSupervisorScripted: the backfill after a reconnect starts from the
// last trade seen before it (not from what the new stream delivered first),
// pages until the venue has no more, reports a gap with its count, and a
// roll-over switches sessions without a disconnect; a stream gap resyncs
// every book.
func TestSupervisorScripted(t *testing.T) {
	c := &scripted{sessions: make(chan *scriptSession, 4), pages: map[string][]TradePage{}}
	s1, s2, s3 := newScriptSession(c), newScriptSession(c), newScriptSession(c)
	c.sessions <- s1
	k := &sink{}
	sup, err := NewSupervisor(SupervisorConfig{Connector: c, Handler: k.handle, Subscription: Subscription{Symbols: []string{"BTCUSDT"}, Trades: true, Books: true},
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, StaleAfter: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() { cancel(); <-done }()

	s1.frames <- []Event{{Trade: trade(10)}, {Trade: trade(11)}, {Book: &market.BookUpdate{VenueSymbol: "BTCUSDT", Snapshot: true, Sequence: 5}}}
	poll.Until(t, 10*time.Second, "the first trades", func() bool { n, _ := k.count(); return n == 2 })

	// The next connection's first backfill fails and its stream delivers 20
	// meanwhile; the retry must still start after 11, page twice, and
	// report 14..16 as lost.
	c.mu.Lock()
	c.fail = 1
	c.pages["BTCUSDT"] = []TradePage{{Trades: []market.Trade{*trade(12), *trade(13)}, More: true},
		{Trades: []market.Trade{*trade(17)}, Gap: &TradeGap{AfterID: "13", BeforeID: "17", Missing: 3}}}
	c.mu.Unlock()
	s2.frames <- []Event{{Trade: trade(20)}}
	c.sessions <- s2
	s1.Close()
	// Backfill retries happen between frames: pongs keep them coming.
	poll.Until(t, 10*time.Second, "the backfill", func() bool {
		select {
		case s2.frames <- nil:
		default:
		}
		n, _ := k.count()
		return n == 6
	})
	c.mu.Lock()
	asked := append([]TradeCursor(nil), c.asked...)
	c.mu.Unlock()
	if len(asked) != 4 || !asked[0].IsZero() || asked[1].ID != "11" || asked[2].ID != "11" || asked[3].ID != "13" {
		t.Fatalf("backfill cursors %+v: want none, after 11 (failed), after 11, after 13", asked)
	}
	if g := sup.Counters.TradeGaps(); len(g) != 1 || g[0].Missing != 3 || g[0].Symbol != "BTCUSDT" || sup.Counters.BackfillMissing.Load() != 3 {
		t.Fatalf("gaps %+v", g)
	}

	// A roll-over: the next session is dialled while this one is read.
	disconnects := sup.Counters.Disconnects.Load()
	c.sessions <- s3
	s2.frames <- []Event{{RollOver: &RollOver{Reason: "test"}}}
	poll.Until(t, 10*time.Second, "a roll-over", func() bool { return sup.Counters.Rollovers.Load() == 1 })
	s3.frames <- []Event{{Trade: trade(21)}, {Book: &market.BookUpdate{VenueSymbol: "BTCUSDT", Snapshot: true, Sequence: 50}},
		{Book: &market.BookUpdate{VenueSymbol: "BTCUSDT", PrevSequence: 50, Sequence: 51}}}
	poll.Until(t, 10*time.Second, "trade 21 and two book messages", func() bool { n, b := k.count(); return n == 7 && b == 3 })
	if sup.Counters.Disconnects.Load() != disconnects {
		t.Fatal("the roll-over counted as a disconnect")
	}
	// A stream gap: the book resyncs and publishes nothing until a snapshot.
	s3.frames <- []Event{{Gap: &StreamGap{Reason: "test"}}, {Book: &market.BookUpdate{VenueSymbol: "BTCUSDT", PrevSequence: 51, Sequence: 52}}}
	poll.Until(t, 10*time.Second, "a resync", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.resyncs) == 1 })
	poll.Until(t, 10*time.Second, "the update dropped", func() bool { return sup.Counters.BookUpdatesDropped.Load() == 1 })
	if st := sup.BookStates()["BTCUSDT"]; st != BookResyncing {
		t.Fatalf("book state %s", st)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	want := []string{"10", "11", "20", "12", "13", "17", "21"}
	for i, id := range want {
		if k.trades[i] != id {
			t.Fatalf("trades %v, want %v", k.trades, want)
		}
	}
}

// A venue with a short history reports one gap from the backfill's start
// to the first trade it still has; trades the stream delivered between two
// losses are not lost, so the gap is cut to the loss windows.
func TestCutGap(t *testing.T) {
	cur := func(id int64) TradeCursor { return TradeCursor{ID: strconv.FormatInt(id, 10), TimeUs: id} }
	s := &Supervisor{cfg: SupervisorConfig{Connector: &scripted{}}, windows: map[string][]lossWindow{
		// Lost after 10, the next connection's stream started at 15; lost
		// again after 30, its stream started at 100.
		"X": {{start: cur(10), end: cur(15), ended: true}, {start: cur(30), end: cur(100), ended: true}},
	}}
	g := TradeGap{Symbol: "X", AfterID: "10", BeforeID: "41", FromTimeUs: 10, ToTimeUs: 41, Missing: -1}
	got := s.cutGap("X", g)
	if len(got) != 2 || got[0].AfterID != "10" || got[0].BeforeID != "15" || got[1].AfterID != "30" || got[1].BeforeID != "41" ||
		got[0].Missing != -1 || got[1].FromTimeUs != 30 || got[1].ToTimeUs != 41 {
		t.Fatalf("cut %+v", got)
	}
	// A gap after the first window's end only concerns the second.
	got = s.cutGap("X", TradeGap{Symbol: "X", AfterID: "35", BeforeID: "41", FromTimeUs: 35, ToTimeUs: 41, Missing: 5})
	if len(got) != 1 || got[0].AfterID != "35" || got[0].BeforeID != "41" || got[0].Missing != 5 {
		t.Fatalf("cut %+v", got)
	}
	// Without windows the gap is kept as reported.
	if got := s.cutGap("Y", g); len(got) != 1 || got[0] != g {
		t.Fatalf("no windows: %+v", got)
	}
}

// A gap of unknown size (Missing -1) is counted apart, so that status and
// metrics never show "0 trades lost" for it.
func TestReportGapUnknownSize(t *testing.T) {
	s := &Supervisor{log: slog.New(slog.NewTextHandler(io.Discard, nil)), logLimit: map[string]time.Time{}}
	s.reportGap(TradeGap{Symbol: "X", AfterID: "a", BeforeID: "b", Missing: -1}, "lost")
	s.reportGap(TradeGap{Symbol: "X", AfterID: "1", BeforeID: "5", Missing: 3}, "lost")
	if s.Counters.BackfillGaps.Load() != 2 || s.Counters.BackfillUnknown.Load() != 1 || s.Counters.BackfillMissing.Load() != 3 || len(s.Counters.TradeGaps()) != 2 {
		t.Fatalf("gaps %d, unknown %d, missing %d", s.Counters.BackfillGaps.Load(), s.Counters.BackfillUnknown.Load(), s.Counters.BackfillMissing.Load())
	}
}

// On a venue with consecutive trade ids, a streamed id that skips ahead on
// a connection that held is a loss too: the supervisor backfills from the
// cursor, and the skipped trades arrive once.
func TestSkippedTradeIDsAreBackfilled(t *testing.T) {
	c := &scripted{sessions: make(chan *scriptSession, 1), pages: map[string][]TradePage{}, consecutive: true}
	s1 := newScriptSession(c)
	c.sessions <- s1
	k := &sink{}
	sup, err := NewSupervisor(SupervisorConfig{Connector: c, Handler: k.handle, Subscription: Subscription{Symbols: []string{"BTCUSDT"}, Trades: true},
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, StaleAfter: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() { cancel(); <-done }()
	s1.frames <- []Event{{Trade: trade(10)}, {Trade: trade(11)}}
	poll.Until(t, 10*time.Second, "the first trades", func() bool { n, _ := k.count(); return n == 2 })
	c.mu.Lock()
	c.pages["BTCUSDT"] = []TradePage{{Trades: []market.Trade{*trade(12), *trade(13), *trade(14)}}}
	c.mu.Unlock()
	s1.frames <- []Event{{Trade: trade(14)}}
	poll.Until(t, 10*time.Second, "12 and 13 backfilled", func() bool {
		select {
		case s1.frames <- nil:
		default:
		}
		n, _ := k.count()
		return n == 5
	})
	if sup.Counters.SkippedTradeIDs.Load() != 1 || sup.Counters.Connects.Load() != 1 {
		t.Fatalf("skipped %d, connects %d: want 1 and 1", sup.Counters.SkippedTradeIDs.Load(), sup.Counters.Connects.Load())
	}
	c.mu.Lock()
	last := c.asked[len(c.asked)-1]
	c.mu.Unlock()
	if last.ID != "11" {
		t.Fatalf("the backfill started after %q, want 11", last.ID)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if got := strings.Join(k.trades, ","); got != "10,11,14,12,13" {
		t.Fatalf("trades %s, want 10,11,14,12,13 (each once)", got)
	}
}
