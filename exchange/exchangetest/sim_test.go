package exchangetest

import (
	"testing"
	"time"
)

// OnTrade reports every trade the market makes, once, with the exact time
// its whole-millisecond TimeMs was taken from.
func TestSimOnTradeReportsEveryTradeWithItsExactTime(t *testing.T) {
	type key struct {
		sym string
		id  int64
	}
	made := map[key]time.Time{} // written under the sim's lock (OnTrade), read after Run
	dup := 0
	sim, err := NewSim(SimConfig{Seed: 3, Tick: time.Millisecond, MaxTradesPerTick: 4,
		Symbols: []SimSymbol{{Venue: "A_B", Base: "A", Quote: "B", StartPrice: "100.00", PriceScale: 2, SizeScale: 3}},
		OnTrade: func(sym string, id int64, at time.Time) {
			if _, ok := made[key{sym, id}]; ok {
				dup++
			}
			made[key{sym, id}] = at
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { sim.Run(stop, func([]SimStep) {}); close(done) }()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	<-done
	trades := sim.Trades("A_B")
	if len(trades) == 0 {
		t.Fatal("the market made no trade in 50 ticks")
	}
	if len(made) != len(trades) || dup != 0 {
		t.Fatalf("OnTrade reported %d trades (%d twice), the market holds %d", len(made), dup, len(trades))
	}
	for _, tr := range trades {
		at, ok := made[key{"A_B", tr.ID}]
		if !ok {
			t.Fatalf("trade %d was not reported", tr.ID)
		}
		if at.UnixMilli() != tr.TimeMs {
			t.Fatalf("trade %d: reported at %v (%d ms), its time is %d ms", tr.ID, at, at.UnixMilli(), tr.TimeMs)
		}
	}
}
