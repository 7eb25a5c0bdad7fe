package poloniex

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// collector is the supervisor's handler in tests: every trade (failing on a
// duplicate id) and the L2 book rebuilt from BookUpdates.
type collector struct {
	t      *testing.T
	mu     sync.Mutex
	trades map[string]map[string]market.Trade // symbol → id → trade
	dups   int
	books  map[string]*[2]map[string]string // symbol → bids, asks
	tick   int
}

func newCollector(t *testing.T) *collector {
	return &collector{t: t, trades: map[string]map[string]market.Trade{}, books: map[string]*[2]map[string]string{}}
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
		b := c.books[u.VenueSymbol]
		if b == nil || u.Snapshot {
			b = &[2]map[string]string{{}, {}}
			c.books[u.VenueSymbol] = b
		}
		for i, side := range [][]market.Level{u.Bids, u.Asks} {
			for _, l := range side {
				if l.Quantity.IsZero() {
					delete(b[i], l.Price.String())
				} else {
					b[i][l.Price.String()] = l.Quantity.String()
				}
			}
		}
	case ev.Ticker != nil:
		c.tick++
	}
	return nil
}

// run starts a fake and a supervisor against it.
func run(t *testing.T) (*Fake, *exchange.Supervisor, *collector, func()) {
	t.Helper()
	f, err := NewFake(FakeConfig{Seed: 7, Tick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.Config()
	cfg.PingInterval = 100 * time.Millisecond
	c := newCollector(t)
	sup, err := exchange.NewSupervisor(exchange.SupervisorConfig{
		Connector:    New(cfg),
		Subscription: exchange.Subscription{Symbols: []string{"BTC_USDT", "ETH_USDT"}, Trades: true, Tickers: true, Books: true},
		Handler:      c.handle,
		StaleAfter:   500 * time.Millisecond,
		BackoffMin:   20 * time.Millisecond,
		BackoffMax:   200 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Close()
	}
	t.Cleanup(stop)
	return f, sup, c, stop
}

// settle pauses the market and waits until the delivered trades and books
// match the fake's ground truth exactly, then checks every field.
func settle(t *testing.T, f *Fake, sup *exchange.Supervisor, c *collector) {
	t.Helper()
	f.Pause()
	deadline := time.Now().Add(15 * time.Second)
	var why string
	for time.Now().Before(deadline) {
		if why = compare(f, c); why == "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if why != "" {
		t.Fatalf("never matched the ground truth: %s (counters: connects %d disconnects %d stalls %d gaps %d resyncs %d backfilled %d backfill errors %d)",
			why, sup.Counters.Connects.Load(), sup.Counters.Disconnects.Load(), sup.Counters.Stalls.Load(), sup.Counters.Gaps.Load(),
			sup.Counters.Resyncs.Load(), sup.Counters.BackfilledTrades.Load(), sup.Counters.BackfillErrors.Load())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dups > 0 {
		t.Fatalf("%d duplicate trades reached the handler", c.dups)
	}
	f.Resume()
}

func compare(f *Fake, c *collector) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sym := range []string{"BTC_USDT", "ETH_USDT"} {
		truth := f.Trades(sym)
		got := c.trades[sym]
		if len(got) != len(truth) {
			return fmt.Sprintf("%s: %d trades delivered, %d made", sym, len(got), len(truth))
		}
		for _, w := range truth {
			g, ok := got[w.TradeID]
			if !ok {
				return fmt.Sprintf("%s: trade %s missing", sym, w.TradeID)
			}
			if g.Exchange != w.Exchange || g.Symbol != w.Symbol || g.VenueSymbol != w.VenueSymbol || g.Price != w.Price || g.Quantity != w.Quantity ||
				g.QuoteQuantity != w.QuoteQuantity || !g.HasQuoteQty || g.Side != w.Side || g.ExchangeTimeUs != w.ExchangeTimeUs || g.ReceivedTimeUs == 0 {
				return fmt.Sprintf("%s: trade %s delivered as %+v, made as %+v", sym, w.TradeID, g, w)
			}
		}
		bids, asks := f.Book(sym)
		b := c.books[sym]
		if b == nil {
			return sym + ": no book"
		}
		if fmt.Sprint(sorted(bids)) != fmt.Sprint(sorted(b[0])) || fmt.Sprint(sorted(asks)) != fmt.Sprint(sorted(b[1])) {
			return sym + ": book differs from the fake's"
		}
	}
	return ""
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func TestAgainstFake(t *testing.T) {
	knobs := []struct {
		name  string
		fault func(f *Fake)
		check func(t *testing.T, sup *exchange.Supervisor)
	}{
		{"clean", func(*Fake) {}, nil},
		{"drop connections", func(f *Fake) {
			for range 3 {
				f.DropConnections()
				time.Sleep(150 * time.Millisecond)
			}
		}, func(t *testing.T, sup *exchange.Supervisor) {
			if sup.Counters.Connects.Load() < 4 || sup.Counters.BackfilledTrades.Load() == 0 {
				t.Fatalf("connects %d, backfilled %d", sup.Counters.Connects.Load(), sup.Counters.BackfilledTrades.Load())
			}
		}},
		{"skip book sequence", func(f *Fake) {
			f.SkipBookSequence()
			time.Sleep(200 * time.Millisecond)
			f.SkipBookSequence()
		}, func(t *testing.T, sup *exchange.Supervisor) {
			if sup.Counters.Gaps.Load() < 2 || sup.Counters.Resyncs.Load() < 2 {
				t.Fatalf("gaps %d resyncs %d", sup.Counters.Gaps.Load(), sup.Counters.Resyncs.Load())
			}
		}},
		{"bad frames", func(f *Fake) {
			f.SendBadFrames()
		}, func(t *testing.T, sup *exchange.Supervisor) {
			kinds := sup.Counters.FrameErrorKinds()
			for _, k := range []string{"malformed", "unknown_channel", "unknown_event", "bad_trade", "empty", "bad_book_lv2", "bad_ticker"} {
				if kinds[k] == 0 {
					t.Fatalf("no %s frame counted: %v", k, kinds)
				}
			}
			if sup.Counters.Duplicates.Load() == 0 {
				t.Fatal("the repeated trade frame was not counted as a duplicate")
			}
		}},
		{"slow REST", func(f *Fake) {
			f.SetRESTDelay(300 * time.Millisecond)
			f.DropConnections()
			time.Sleep(800 * time.Millisecond)
			f.SetRESTDelay(0)
		}, nil},
		{"REST rate limit", func(f *Fake) {
			f.RateLimitREST(3)
			f.DropConnections()
		}, func(t *testing.T, sup *exchange.Supervisor) {
			if sup.Counters.BackfillErrors.Load() == 0 {
				t.Fatal("no backfill error counted for 429 answers")
			}
		}},
		{"stall", func(f *Fake) {
			f.Stall(1500 * time.Millisecond)
			time.Sleep(1600 * time.Millisecond)
		}, func(t *testing.T, sup *exchange.Supervisor) {
			if sup.Counters.Stalls.Load() == 0 {
				t.Fatal("the stall was not detected")
			}
		}},
		{"everything at once", func(f *Fake) {
			f.SendBadFrames()
			f.SkipBookSequence()
			f.RateLimitREST(2)
			f.DropConnections()
			time.Sleep(100 * time.Millisecond)
			f.SetRESTDelay(100 * time.Millisecond)
			f.Stall(700 * time.Millisecond)
			time.Sleep(900 * time.Millisecond)
			f.SetRESTDelay(0)
			f.SendBadFrames()
			f.DropConnections()
		}, nil},
	}
	for _, k := range knobs {
		t.Run(k.name, func(t *testing.T) {
			f, sup, c, _ := run(t)
			time.Sleep(300 * time.Millisecond)
			k.fault(f)
			time.Sleep(300 * time.Millisecond)
			settle(t, f, sup, c)
			if k.check != nil {
				k.check(t, sup)
			}
			if n := len(f.Trades("BTC_USDT")); n < 10 {
				t.Fatalf("only %d trades made: the test proves little", n)
			}
		})
	}
}

// TestStallReconnectsWithinWatchdog measures the time from the start of a
// stall to its detection (the session is dropped and redialled): the
// watchdog limit plus a margin for a loaded machine. The fake stays silent
// for a while longer, so the redial itself waits, then succeeds.
func TestStallReconnectsWithinWatchdog(t *testing.T) {
	f, sup, _, _ := run(t)
	time.Sleep(200 * time.Millisecond)
	before := sup.Counters.Connects.Load()
	start := time.Now()
	f.Stall(1200 * time.Millisecond)
	for sup.Counters.Stalls.Load() == 0 {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("stall not detected %s after it began (watchdog 500ms)", time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); took > 500*time.Millisecond+time.Second {
		t.Fatalf("stall detected %s after it began, watchdog 500ms", took)
	} else {
		t.Logf("stall detected after %s (watchdog 500ms)", took.Round(time.Millisecond))
	}
	for sup.Counters.Connects.Load() == before {
		if time.Since(start) > 5*time.Second {
			t.Fatal("no new connection after the stall ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
