package exchange

import (
	"testing"

	"github.com/tickertape/tickertape/market"
)

func TestBookSyncRules(t *testing.T) {
	snap := func(seq int64) *market.BookUpdate { return &market.BookUpdate{Snapshot: true, Sequence: seq} }
	upd := func(prev, seq int64) *market.BookUpdate { return &market.BookUpdate{PrevSequence: prev, Sequence: seq} }
	at := func(us int64, snapshot bool) *market.BookUpdate {
		return &market.BookUpdate{Snapshot: snapshot, ExchangeTimeUs: us}
	}
	for _, c := range []struct {
		name string
		sync BookSync
		msgs []*market.BookUpdate
		want []Verdict
	}{
		{"chain", &ChainSync{}, []*market.BookUpdate{upd(1, 2), snap(10), upd(10, 11), upd(11, 12), upd(10, 11), upd(13, 14), snap(20), upd(20, 21)},
			[]Verdict{Skip, Apply, Apply, Apply, Skip, Gap, Apply, Apply}},
		// Binance: snapshot lastUpdateId 100; deltas [U,u] as (U-1, u).
		{"update ids", &UpdateIDSync{}, []*market.BookUpdate{upd(89, 95), snap(100), upd(90, 97), upd(97, 100), upd(98, 103), upd(103, 104), upd(103, 104), upd(106, 107)},
			[]Verdict{Skip, Apply, Skip, Skip, Apply, Apply, Skip, Gap}},
		{"update ids: first delta after the snapshot", &UpdateIDSync{}, []*market.BookUpdate{snap(100), upd(101, 102)},
			[]Verdict{Apply, Gap}},
		{"unsequenced", &UnsequencedSync{}, []*market.BookUpdate{upd(0, 0), snap(0), upd(0, 0)}, []Verdict{Skip, Apply, Apply}},
		{"time ordered", &TimeOrderedSync{}, []*market.BookUpdate{at(5, false), at(10, true), at(9, false), at(10, false), at(11, false)},
			[]Verdict{Skip, Apply, Skip, Skip, Apply}},
	} {
		for i, m := range c.msgs {
			if got := c.sync.Check(m); got != c.want[i] {
				t.Errorf("%s: message %d (%+v): %d, want %d", c.name, i, *m, got, c.want[i])
			}
		}
		c.sync.Reset()
		if c.sync.Check(upd(1000, 1001)) != Skip {
			t.Errorf("%s: an update applied after Reset", c.name)
		}
	}
}

func TestResolveSymbols(t *testing.T) {
	ms := []Market{
		{VenueSymbol: "BTCUSDT", Symbol: "BTC-USDT"}, {VenueSymbol: "BTCUSDC", Symbol: "BTC-USDC"},
		{VenueSymbol: "ETHUSDT", Symbol: "ETH-USDT"}, {VenueSymbol: "XBTEUR", Symbol: "BTC-EUR"},
	}
	got, err := ResolveSymbols("binance", ms, []string{"btcusdt", "ETH-USDT", "XBT-EUR", "btc_usdc"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"BTCUSDT", "ETHUSDT", "XBTEUR", "BTCUSDC"} {
		if got[i].VenueSymbol != want {
			t.Fatalf("%d: %s, want %s", i, got[i].VenueSymbol, want)
		}
	}
	_, err = ResolveSymbols("binance", ms, []string{"BTCUSD"})
	if err == nil || err.Error() != `binance has no symbol "BTCUSD" (close matches: BTCUSDC, BTCUSDT)` {
		t.Fatalf("error %v", err)
	}
	if NormalizeAsset("xbt", nil) != "BTC" || Symbol("STR", "usdt", map[string]string{"STR": "XLM"}) != "XLM-USDT" {
		t.Fatal("aliases")
	}
	if ScaleOf("0.01000000") != 2 || ScaleOf("1.00000000") != 0 || ScaleOf("1") != 0 {
		t.Fatal("ScaleOf")
	}
}
