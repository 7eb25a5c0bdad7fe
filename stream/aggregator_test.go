package stream

import (
	"math/big"
	"testing"
	"time"

	"github.com/tickertape/tickertape/market"
)

func trade(id string, tsMs int64, price, qty string) *market.Trade {
	return &market.Trade{Exchange: "x", Symbol: "A-B", VenueSymbol: "A_B", TradeID: id, Price: market.MustDecimal(price), Quantity: market.MustDecimal(qty), ExchangeTimeUs: tsMs * 1000}
}

func TestAggregatorWindowsLatenessAndOrder(t *testing.T) {
	ivs, _ := ParseIntervals("1s")
	a := NewAggregator(ivs, 500*time.Millisecond, 0, 500*time.Millisecond)
	now := int64(10_000_000)
	var finals []*market.Candle
	var late []*market.Trade
	feed := func(outs []Output) {
		for _, o := range outs {
			if o.Candle != nil && o.Candle.Final {
				finals = append(finals, o.Candle)
			}
			if o.Late != nil {
				late = append(late, o.Late)
			}
		}
	}
	// Window [1000ms, 2000ms): trades arrive out of order; open/close follow
	// exchange time, not arrival.
	feed(a.Add(trade("12", 1500, "10", "1"), 0, 0, now))
	feed(a.Add(trade("11", 1100, "9", "2"), 0, 1, now))
	feed(a.Add(trade("13", 1900, "11.5", "0.5"), 0, 2, now))
	if len(finals) != 0 {
		t.Fatal("window closed early")
	}
	feed(a.Add(trade("14", 2400, "12", "1"), 0, 3, now)) // watermark 1900: still open
	if len(finals) != 0 {
		t.Fatal("window closed before the watermark passed its end")
	}
	feed(a.Add(trade("15", 2600, "12", "1"), 0, 4, now)) // watermark 2100: closes [1000,2000)
	if len(finals) != 1 {
		t.Fatalf("%d finals", len(finals))
	}
	c := finals[0]
	if c.Open.String() != "9" || c.Close.String() != "11.5" || c.High.String() != "11.5" || c.Low.String() != "9" || c.TradeCount != 3 ||
		c.Volume.String() != "3.5" || c.QuoteVolume.String() != "33.75" || c.VWAP.String() != "9.64285714285714286" || c.OpenTimeUs != 1_000_000 {
		t.Fatalf("candle %+v vwap %s", c, c.VWAP)
	}
	// A trade for the closed window is late and left out.
	feed(a.Add(trade("16", 1950, "100", "1"), 0, 5, now))
	if len(late) != 1 || late[0].TradeID != "16" {
		t.Fatalf("late %v", late)
	}
	// Idle: processing time closes the open window [2000,3000).
	feed(a.Tick(now + 1_000_000))
	if len(finals) != 2 || finals[1].TradeCount != 2 {
		t.Fatalf("idle close: %d finals", len(finals))
	}
	// Commit state: nothing open, so the offset is the processed end, and
	// the watermark is recorded.
	off, end, wm := a.CommitState(0, 6)
	if off != 6 || end != 6 || wm["x:A-B"] < 3_000_000 {
		t.Fatalf("commit state %d %d %v", off, end, wm)
	}
	// A restarted aggregator restored from that state skips replayed trades
	// of closed windows without reporting them late, and reports new ones.
	b := NewAggregator(ivs, 500*time.Millisecond, 0, 500*time.Millisecond)
	b.Restore("x:A-B", 0, wm["x:A-B"], 6)
	if outs := b.Add(trade("12", 1500, "10", "1"), 0, 0, now); len(outs) != 0 {
		t.Fatalf("replayed trade produced %v", outs)
	}
	// b commits after replaying one trade: the end it commits is a's, so
	// that r, restored from b's commit, does not report the late trade a
	// already reported (offset 5) a second time.
	_, endb, wmb := b.CommitState(0, 1)
	if endb != 6 {
		t.Fatalf("end committed mid-replay %d, want the restored 6", endb)
	}
	r := NewAggregator(ivs, 500*time.Millisecond, 0, 500*time.Millisecond)
	r.Restore("x:A-B", 0, wmb["x:A-B"], endb)
	if outs := r.Add(trade("16", 1950, "100", "1"), 0, 5, now); len(outs) != 0 {
		t.Fatalf("a late trade reported before was reported again after a commit mid-replay: %v", outs)
	}
	if outs := b.Add(trade("17", 1500, "10", "1"), 0, 7, now); len(outs) != 1 || outs[0].Late == nil {
		t.Fatalf("new late trade after restart: %v", outs)
	}
}

func TestAggregatorUpdatesAreRateLimited(t *testing.T) {
	ivs, _ := ParseIntervals("1m")
	a := NewAggregator(ivs, time.Second, time.Second, time.Minute)
	now := int64(100_000_000_000)
	count := func(outs []Output) (n int) {
		for _, o := range outs {
			if o.Candle != nil && !o.Candle.Final {
				n++
			}
		}
		return
	}
	ts := now / 1000
	a.Add(trade("1", ts, "1", "1"), 0, 0, now)
	if n := count(a.Tick(now)); n != 1 {
		t.Fatalf("first tick: %d updates", n)
	}
	a.Add(trade("2", ts, "1", "1"), 0, 1, now+100_000)
	if n := count(a.Tick(now + 200_000)); n != 0 {
		t.Fatalf("update within the rate limit: %d", n)
	}
	if n := count(a.Tick(now + 1_100_000)); n != 1 {
		t.Fatalf("update after the rate limit: %d", n)
	}
	if n := count(a.Tick(now + 2_200_000)); n != 0 {
		t.Fatalf("update without new trades: %d", n)
	}
}

func TestParseIntervals(t *testing.T) {
	if ivs, err := ParseIntervals("1h, 1s,5m"); err != nil || len(ivs) != 3 || ivs[0].Name != "1s" || ivs[2].Name != "1h" {
		t.Fatalf("%v %v", ivs, err)
	}
	for _, bad := range []string{"", "7s", "500ms", "abc", "25h"} {
		if _, err := ParseIntervals(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The first update of a window is emitted on the first Tick after its first
// trade, whatever UpdateEvery is: UpdateEvery only spaces the updates that
// follow (a new window of a busy key is not held back by the previous
// window's last update).
func TestAggregatorFirstUpdateOfAWindowAtOnce(t *testing.T) {
	ivs, _ := ParseIntervals("1s")
	a := NewAggregator(ivs, time.Second, time.Second, time.Minute)
	now := int64(50_000_000)
	updates := func(outs []Output) []*market.Candle {
		var u []*market.Candle
		for _, o := range outs {
			if o.Candle != nil && !o.Candle.Final {
				u = append(u, o.Candle)
			}
		}
		return u
	}
	a.Add(trade("1", 10_100, "10", "1"), 0, 0, now)
	if u := updates(a.Tick(now)); len(u) != 1 || u[0].TradeCount != 1 || u[0].OpenTimeUs != 10_000_000 {
		t.Fatalf("first trade of a window: updates %+v", u)
	}
	a.Add(trade("2", 10_200, "11", "1"), 0, 1, now+10_000)
	if u := updates(a.Tick(now + 10_000)); len(u) != 0 {
		t.Fatalf("a second update 10 ms after the first: %+v", u)
	}
	// The next window's first trade, 20 ms after the previous window's
	// update: emitted at once.
	a.Add(trade("3", 11_050, "12", "1"), 0, 2, now+20_000)
	u := updates(a.Tick(now + 20_000))
	if len(u) != 1 || u[0].OpenTimeUs != 11_000_000 || u[0].TradeCount != 1 {
		t.Fatalf("first trade of the next window: updates %+v", u)
	}
	// A second later the held-back trade of the first window shows.
	u = updates(a.Tick(now + 1_000_000))
	if len(u) != 1 || u[0].OpenTimeUs != 10_000_000 || u[0].TradeCount != 2 || u[0].Close.String() != "11" {
		t.Fatalf("after UpdateEvery: updates %+v", u)
	}
}

// unscaled18 is exact over the whole decimal(38,18) range, both signs.
func TestUnscaled18(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "0.000000000000000001", "-0.000000000000000001", "97000.5", "-12345678901234.123456789012345678",
		"99999999999999999999.999999999999999999", "-99999999999999999999.999999999999999999", "18446744073709551616", "-18446744073709551616"} {
		d := market.MustDecimal(s)
		if got := new(big.Rat).SetFrac(unscaled18(d), e18); got.Cmp(d.Rat()) != 0 {
			t.Errorf("%s: %s", s, got.FloatString(18))
		}
	}
}
