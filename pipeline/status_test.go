package pipeline

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tickertape/tickertape/exchange/poloniex"
)

// The status panel's "behind" is the end offset minus the processor's read
// position, not the committed offset (which stays at the oldest open window,
// an hour back with the default intervals); the committed lag is the replay
// distance of a restart.
func TestBehindIsUnprocessedRecords(t *testing.T) {
	lag := kadm.GroupLag{"market.events": {
		0: {Topic: "market.events", Partition: 0, Commit: kadm.Offset{At: 100}, End: kadm.ListedOffset{Offset: 5000}, Lag: 4900},
		1: {Topic: "market.events", Partition: 1, Commit: kadm.Offset{At: 10}, End: kadm.ListedOffset{Offset: 900}, Lag: 890},
		2: {Topic: "market.events", Partition: 2, Commit: kadm.Offset{At: 0}, End: kadm.ListedOffset{Offset: 70}, Lag: 70}, // another process's
	}}
	if got := unprocessed(lag, "market.events", map[int32]int64{0: 4990, 1: 900}); got != 10 {
		t.Fatalf("behind %d, want 10 (replay distance is %d)", got, lag.Total())
	}
}

// A demo restarted on the same data directory must not repeat trade ids: the
// fake's ids start from the clock, above every id an earlier run made.
func TestRestartedFakeDoesNotRepeatTradeIDs(t *testing.T) {
	trades := func(cfg poloniex.FakeConfig) (lo, hi int64) {
		t.Helper()
		f, err := poloniex.NewFake(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		deadline := time.Now().Add(20 * time.Second)
		for len(f.Trades("BTC_USDT")) < 20 {
			if time.Now().After(deadline) {
				t.Fatal("the fake made no trades")
			}
			time.Sleep(10 * time.Millisecond)
		}
		lo, hi = math.MaxInt64, 0
		for _, tr := range f.Trades("BTC_USDT") {
			id, err := strconv.ParseInt(tr.TradeID, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi = min(lo, id), max(hi, id)
		}
		return lo, hi
	}
	vc := VenueConfig{Name: "poloniex", Fake: true, Seed: 1, FakeTick: 5 * time.Millisecond}
	cfg := func() poloniex.FakeConfig {
		o := fakeOptions(vc, time.Now())
		return poloniex.FakeConfig{Seed: o.Seed, Tick: o.Tick, MaxTradesPerTick: o.TradesPerTick, FirstTradeID: o.FirstTradeID}
	}
	_, hi1 := trades(cfg())
	lo2, _ := trades(cfg())
	if lo2 <= hi1 {
		t.Fatalf("the second run's first trade id %d is not above the first run's last %d", lo2, hi1)
	}
}
