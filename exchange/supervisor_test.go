package exchange

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tickertape/tickertape/market"
)

// step is one scripted answer of Session.Next: events, an error, or (both
// nil with silent set) no frame at all until the session is cancelled.
type step struct {
	evs    []Event
	err    error
	silent bool
}

// scripted is a Connector whose sessions play scripts, one per dial; a dial
// past the last script fails. It records what the supervisor asked.
type scripted struct {
	mu       sync.Mutex
	sessions [][]step
	dials    int
	resyncs  []string
	recent   map[string][]market.Trade // REST backfill answers
	restErr  int                       // fail this many RecentTrades calls
}

func (c *scripted) Name() string { return "scripted" }

func (c *scripted) Dial(ctx context.Context, sub Subscription) (Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dials >= len(c.sessions) {
		c.dials++
		return nil, errors.New("scripted: no more sessions")
	}
	s := &scriptedSession{c: c, steps: c.sessions[c.dials]}
	c.dials++
	return s, nil
}

func (c *scripted) RecentTrades(ctx context.Context, sym string, limit int) ([]market.Trade, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.restErr > 0 {
		c.restErr--
		return nil, ErrRateLimited
	}
	return slices.Clone(c.recent[sym]), nil
}

type scriptedSession struct {
	c     *scripted
	steps []step
}

func (s *scriptedSession) Next(ctx context.Context) ([]Event, error) {
	if len(s.steps) == 0 {
		return nil, io.EOF // the venue closed the connection
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if st.silent {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return st.evs, st.err
}

func (s *scriptedSession) Resync(ctx context.Context, sym string) error {
	s.c.mu.Lock()
	s.c.resyncs = append(s.c.resyncs, sym)
	s.c.mu.Unlock()
	return nil
}

func (s *scriptedSession) Close() error { return nil }

func trade(id string, tsUs int64) Event {
	return Event{Trade: &market.Trade{Exchange: "scripted", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", TradeID: id, ExchangeTimeUs: tsUs}}
}

func book(snapshot bool, prev, seq int64) Event {
	return Event{Book: &market.BookUpdate{Exchange: "scripted", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", Snapshot: snapshot, PrevSequence: prev, Sequence: seq}}
}

// run runs a supervisor over c inside a synctest bubble (fake time: backoff
// and the watchdog take no real time) until the handler has seen want
// events or the connector has no more sessions, and returns what the
// handler saw.
func run(t *testing.T, c *scripted, want int, handlerErr error) (*Supervisor, []Event, error) {
	var got []Event
	var sup *Supervisor
	var runErr error
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var err error
		sup, err = NewSupervisor(SupervisorConfig{Connector: c, Subscription: Subscription{Symbols: []string{"BTC_USDT"}, Trades: true, Books: true},
			StaleAfter: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Handler: func(_ context.Context, ev Event) error {
				got = append(got, ev)
				if handlerErr != nil {
					return handlerErr
				}
				if len(got) == want {
					cancel()
				}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- sup.Run(ctx) }()
		for {
			synctest.Wait()
			select {
			case runErr = <-done:
				return
			default:
			}
			c.mu.Lock()
			exhausted := c.dials > len(c.sessions)
			c.mu.Unlock()
			if exhausted {
				cancel()
				runErr = <-done
				return
			}
			time.Sleep(time.Second) // fake time: lets backoff and the watchdog run
		}
	})
	return sup, got, runErr
}

func ids(evs []Event) []string {
	var out []string
	for _, ev := range evs {
		switch {
		case ev.Trade != nil:
			out = append(out, fmt.Sprintf("t%s%s", ev.Trade.TradeID, map[bool]string{true: "(bf)"}[ev.Trade.Backfilled]))
		case ev.Book != nil:
			out = append(out, fmt.Sprintf("b%d", ev.Book.Sequence))
		}
	}
	return out
}

// TestSupervisorBackfillAndDedupe: each connection starts with a REST
// backfill of trades not seen yet, live duplicates are dropped, and a
// reconnect backfills what the outage missed, exactly once.
func TestSupervisorBackfillAndDedupe(t *testing.T) {
	c := &scripted{
		recent: map[string][]market.Trade{"BTC_USDT": {*trade("1", 10).Trade, *trade("2", 20).Trade}},
		sessions: [][]step{
			{{evs: []Event{trade("2", 20), trade("3", 30)}}, {evs: []Event{trade("3", 30)}}, {err: errors.New("connection reset")}},
			{{evs: []Event{trade("6", 60)}}},
		},
	}
	sup, got, err := run(t, c, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first backfill gives 1 and 2; 2 and 3 live (2 again is a
	// duplicate, as is the second 3); the reconnect's backfill repeats 1 and 2
	// only (already seen): nothing new, then 6 live.
	want := []string{"t1(bf)", "t2(bf)", "t3", "t6"}
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("events %v, want %v", g, want)
	}
	cn := &sup.Counters
	if cn.Connects.Load() != 2 || cn.Disconnects.Load() != 1 || cn.Duplicates.Load() != 2 || cn.BackfilledTrades.Load() != 2 || cn.BackfillRuns.Load() != 2 {
		t.Fatalf("connects %d disconnects %d duplicates %d backfilled %d runs %d", cn.Connects.Load(), cn.Disconnects.Load(), cn.Duplicates.Load(), cn.BackfilledTrades.Load(), cn.BackfillRuns.Load())
	}
}

// TestSupervisorBookGapResyncs: a sequence gap asks for a new snapshot and
// drops updates until it arrives.
func TestSupervisorBookGapResyncs(t *testing.T) {
	c := &scripted{sessions: [][]step{{
		{evs: []Event{book(false, 0, 1)}}, // before any snapshot: dropped
		{evs: []Event{book(true, 0, 10), book(false, 10, 11)}},
		{evs: []Event{book(false, 12, 13)}}, // gap: 11 → 12 missing
		{evs: []Event{book(false, 13, 14)}}, // dropped while resyncing
		{evs: []Event{book(true, 0, 20), book(false, 20, 21)}},
	}}}
	sup, got, err := run(t, c, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := ids(got), []string{"b10", "b11", "b20", "b21"}; !slices.Equal(g, want) {
		t.Fatalf("events %v, want %v", g, want)
	}
	cn := &sup.Counters
	if cn.Gaps.Load() != 1 || cn.Resyncs.Load() != 1 || cn.BookUpdatesDropped.Load() != 3 || !slices.Equal(c.resyncs, []string{"BTC_USDT"}) {
		t.Fatalf("gaps %d resyncs %d dropped %d asked %v", cn.Gaps.Load(), cn.Resyncs.Load(), cn.BookUpdatesDropped.Load(), c.resyncs)
	}
}

// TestSupervisorWatchdogAndFrameErrors: a silent session is closed after
// StaleAfter and redialled; an unusable frame is counted and skipped; a
// failed backfill is retried on the same connection.
func TestSupervisorWatchdogAndFrameErrors(t *testing.T) {
	c := &scripted{restErr: 1, sessions: [][]step{
		{{err: NewFrameError("malformed", errors.New("bad json"), []byte("{"))}, {evs: []Event{trade("1", 10)}}, {silent: true}},
		{{evs: []Event{trade("2", 20)}}},
	}}
	sup, got, err := run(t, c, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, want := ids(got), []string{"t1", "t2"}; !slices.Equal(g, want) {
		t.Fatalf("events %v, want %v", g, want)
	}
	cn := &sup.Counters
	if cn.Stalls.Load() != 1 || cn.Connects.Load() != 2 || cn.FrameErrors.Load() != 1 || sup.Counters.FrameErrorKinds()["malformed"] != 1 || cn.BackfillErrors.Load() != 1 {
		t.Fatalf("stalls %d connects %d frame errors %d %v backfill errors %d", cn.Stalls.Load(), cn.Connects.Load(), cn.FrameErrors.Load(), cn.FrameErrorKinds(), cn.BackfillErrors.Load())
	}
}

// TestSupervisorHandlerErrorStops: a handler error ends Run with that
// error; dial failures are retried with backoff meanwhile.
func TestSupervisorHandlerErrorStops(t *testing.T) {
	boom := errors.New("kafka refused")
	c := &scripted{sessions: [][]step{{{evs: []Event{trade("1", 10), trade("2", 20)}}}}}
	sup, got, err := run(t, c, 0, boom)
	if !errors.Is(err, boom) || len(got) != 1 || sup.Counters.Connects.Load() != 1 {
		t.Fatalf("Run: %v after %d events, %d connects", err, len(got), sup.Counters.Connects.Load())
	}
}
