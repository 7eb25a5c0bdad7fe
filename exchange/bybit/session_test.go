package bybit

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func dial(t *testing.T, f *Fake, sub exchange.Subscription, ping time.Duration) exchange.Session {
	t.Helper()
	o := f.Options()
	c, err := New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, PingInterval: ping, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := c.Dial(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// next reads events until cond has seen what it wants (10 s at most).
func next(t *testing.T, sess exchange.Session, what string, cond func(exchange.Event) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		evs, err := sess.Next(ctx)
		if err != nil && ctx.Err() != nil {
			t.Fatalf("never saw %s: %v", what, err)
		}
		for _, ev := range evs {
			if cond(ev) {
				return
			}
		}
	}
}

// Twelve topics go out in requests of at most ten args (the fake, like
// Bybit spot, refuses more), and the session gets data of every symbol.
func TestDialChunksSubscriptions(t *testing.T) {
	syms := []exchangetest.SimSymbol{
		{Venue: "BTCUSDT", Base: "BTC", Quote: "USDT", StartPrice: "96990.1", PriceScale: 1, SizeScale: 6},
		{Venue: "ETHUSDT", Base: "ETH", Quote: "USDT", StartPrice: "3401.05", PriceScale: 2, SizeScale: 5},
		{Venue: "SOLUSDT", Base: "SOL", Quote: "USDT", StartPrice: "150.12", PriceScale: 2, SizeScale: 3},
		{Venue: "XRPBTC", Base: "XRP", Quote: "BTC", StartPrice: "0.0000201", PriceScale: 7, SizeScale: 1},
	}
	f, err := NewFake(FakeConfig{Seed: 3, Symbols: syms, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPBTC"}
	sess := dial(t, f, exchange.Subscription{Symbols: names, Trades: true, Tickers: true, Books: true}, 20*time.Millisecond)
	seen := map[string]bool{}
	next(t, sess, "a trade of every symbol, XRPBTC as XRP-BTC", func(ev exchange.Event) bool {
		if tr := ev.Trade; tr != nil {
			if tr.VenueSymbol == "XRPBTC" && tr.Symbol != "XRP-BTC" {
				t.Fatalf("XRPBTC normalized to %s", tr.Symbol)
			}
			seen[tr.VenueSymbol] = true
		}
		return len(seen) == len(names)
	})
	// The session pings every 20ms; the fake answers each, and the answers
	// are no events and no errors.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	f.Sim().Pause()
	defer f.Sim().Resume()
	for {
		evs, err := sess.Next(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			t.Fatalf("a pong was an error: %v", err)
		}
		_ = evs
	}
}

// Bybit restarting its book service sends a snapshot with u=1 and counts on
// from there: the book rule takes it as a snapshot, the deltas after it
// apply, and the book equals the fake's.
func TestRestartResetsBook(t *testing.T) {
	f, err := NewFake(FakeConfig{Seed: 5, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sess := dial(t, f, exchange.Subscription{Symbols: []string{"BTCUSDT"}, Books: true}, time.Minute)
	rule := &exchange.DepthSync{Depth: 50}
	var last *market.BookUpdate
	check := func(ev exchange.Event) {
		if ev.Book == nil {
			return
		}
		if v := rule.Check(ev.Book); v != exchange.Apply {
			t.Fatalf("book message u=%d (snapshot %v): verdict %d", ev.Book.Sequence, ev.Book.Snapshot, v)
		}
		last = ev.Book
	}
	deltas := 0
	next(t, sess, "a snapshot and 20 deltas", func(ev exchange.Event) bool {
		check(ev)
		if ev.Book != nil && !ev.Book.Snapshot {
			deltas++
		}
		return deltas >= 20
	})
	if last.Sequence < 20 {
		t.Fatalf("u %d before the restart", last.Sequence)
	}
	f.Restart()
	next(t, sess, "the u=1 snapshot", func(ev exchange.Event) bool { check(ev); return ev.Book != nil && ev.Book.Sequence == 1 })
	if !last.Snapshot {
		t.Fatal("u=1 was not taken as a snapshot")
	}
	next(t, sess, "deltas after the restart", func(ev exchange.Event) bool { check(ev); return ev.Book != nil && ev.Book.Sequence == 10 })
	// Pause, drain what was sent, compare with the fake's book.
	f.Sim().Pause()
	defer f.Sim().Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for {
		evs, _ := sess.Next(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, ev := range evs {
			check(ev)
		}
	}
	bids, asks := rule.Book()
	tb, ta := f.Sim().Book("BTCUSDT")
	if exchangetest.BookHash(canon(bids), canon(asks)) != exchangetest.BookHash(tb, ta) || len(bids) == 0 {
		t.Fatalf("book after the restart differs from the fake's: %d/%d levels, fake %d/%d", len(bids), len(asks), len(tb), len(ta))
	}
}

func canon(ls []market.Level) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[exchangetest.Canon(l.Price)] = exchangetest.Canon(l.Quantity)
	}
	return m
}

// A lost depth delta is seen where Bybit lets it be seen: the level-1 book
// of the same seq disagrees with the depth book, and the session reports a
// stream gap for that symbol (or the book rule sees it crossed). Subscribed
// for books alone, the level-1 book is read for the check but yields no
// tickers.
func TestCrossCheckSeesLostDelta(t *testing.T) {
	f, err := NewFake(FakeConfig{Seed: 9, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sess := dial(t, f, exchange.Subscription{Symbols: []string{"BTCUSDT", "ETHUSDT"}, Books: true}, time.Minute)
	rules := map[string]*exchange.DepthSync{"BTCUSDT": {Depth: 50}, "ETHUSDT": {Depth: 50}}
	books := 0
	next(t, sess, "40 book messages without a gap", func(ev exchange.Event) bool {
		if ev.Ticker != nil || ev.Gap != nil {
			t.Fatalf("unexpected event %+v", ev)
		}
		if ev.Book != nil {
			if v := rules[ev.Book.VenueSymbol].Check(ev.Book); v != exchange.Apply {
				t.Fatalf("verdict %d before any loss", v)
			}
			books++
		}
		return books >= 40
	})
	f.Faults().SkipBook()
	seen := map[string]string{}
	next(t, sess, "the loss seen on each symbol", func(ev exchange.Event) bool {
		switch {
		case ev.Ticker != nil:
			t.Fatal("a ticker although only books were subscribed")
		case ev.Gap != nil:
			if len(ev.Gap.Symbols) != 1 {
				t.Fatalf("gap %+v", ev.Gap)
			}
			seen[ev.Gap.Symbols[0]] += "cross-check "
		case ev.Book != nil:
			if rules[ev.Book.VenueSymbol].Check(ev.Book) == exchange.Gap {
				seen[ev.Book.VenueSymbol] += "book rule "
			}
		}
		return len(seen) == 2
	})
	if !strings.Contains(seen["BTCUSDT"]+seen["ETHUSDT"], "cross-check") {
		t.Fatalf("the cross-check saw nothing: %v", seen)
	}
}
