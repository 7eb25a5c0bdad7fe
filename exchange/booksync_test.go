package exchange

import (
	"hash/crc32"
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

// sumBook is a toy checksum for ChecksumSync's tests: the book as text.
func sumBook(bids, asks []market.Level) uint32 {
	var s string
	for _, l := range asks {
		s += "a" + l.Price.String() + "=" + l.Quantity.String()
	}
	for _, l := range bids {
		s += "b" + l.Price.String() + "=" + l.Quantity.String()
	}
	return crc32.ChecksumIEEE([]byte(s))
}

func lvls(pq ...string) []market.Level {
	var out []market.Level
	for i := 0; i+1 < len(pq); i += 2 {
		out = append(out, market.Level{Price: market.MustDecimal(pq[i]), Quantity: market.MustDecimal(pq[i+1])})
	}
	return out
}

func TestChecksumSync(t *testing.T) {
	s := &ChecksumSync{Depth: 2, Sum: sumBook}
	withSum := func(u *market.BookUpdate, bids, asks []market.Level) *market.BookUpdate {
		u.Checksum, u.HasChecksum = sumBook(bids, asks), true
		return u
	}
	if v := s.Check(&market.BookUpdate{Bids: lvls("9", "1"), HasChecksum: true}); v != Skip {
		t.Fatalf("an update before any snapshot: %v", v)
	}
	// A snapshot deeper than the depth is truncated and published truncated.
	snap := withSum(&market.BookUpdate{Snapshot: true, Bids: lvls("9", "1", "8", "1", "7", "1"), Asks: lvls("10", "1", "11", "1")},
		lvls("9", "1", "8", "1"), lvls("10", "1", "11", "1"))
	if v := s.Check(snap); v != Apply || len(snap.Bids) != 2 {
		t.Fatalf("snapshot: %v, %d bids published", v, len(snap.Bids))
	}
	// An insert on top pushes the 8 bid out of the depth: its removal is
	// appended to the update; the ask at 10 changes size.
	u := withSum(&market.BookUpdate{Bids: lvls("9.5", "2"), Asks: lvls("10", "3")}, lvls("9.5", "2", "9", "1"), lvls("10", "3", "11", "1"))
	if v := s.Check(u); v != Apply {
		t.Fatalf("update: %v", v)
	}
	if len(u.Bids) != 2 || u.Bids[1].Price.String() != "8" || !u.Bids[1].Quantity.IsZero() {
		t.Fatalf("the truncation's removal is not in the update: %v", u.Bids)
	}
	bids, asks := s.Book()
	if sumBook(bids, asks) != u.Checksum {
		t.Fatal("the kept book is not the verified one")
	}
	// A removal inside the book, an update at a price never seen.
	u = withSum(&market.BookUpdate{Bids: lvls("9.5", "0"), Asks: lvls("12", "0")}, lvls("9", "1"), lvls("10", "3", "11", "1"))
	if v := s.Check(u); v != Apply {
		t.Fatalf("removal: %v", v)
	}
	// A wrong checksum (a lost message would give one) is a gap, and
	// nothing applies until the next snapshot.
	bad := &market.BookUpdate{Bids: lvls("9", "5"), Checksum: 1, HasChecksum: true}
	if v := s.Check(bad); v != Gap || s.Mismatches != 1 {
		t.Fatalf("mismatch: %v", v)
	}
	if v := s.Check(withSum(&market.BookUpdate{Bids: lvls("9", "6")}, lvls("9", "6"), lvls("10", "3", "11", "1"))); v != Skip {
		t.Fatalf("after a mismatch: %v", v)
	}
	if v := s.Check(&market.BookUpdate{Snapshot: true, Bids: lvls("9", "1")}); v != Gap {
		t.Fatalf("a message without a checksum: %v", v)
	}
	if v := s.Check(withSum(&market.BookUpdate{Snapshot: true, Bids: lvls("9", "1")}, lvls("9", "1"), nil)); v != Apply {
		t.Fatalf("a fresh snapshot: %v", v)
	}
	if bids, asks := s.Book(); len(bids) != 1 || len(asks) != 0 {
		t.Fatalf("the snapshot did not replace the book: %v %v", bids, asks)
	}
}

// TestChainSyncLinks checks the chain's OKX cases: the keep-alive update
// (seqId equal to prevSeqId) and the decrease after maintenance both chain;
// a broken link is a gap.
func TestChainSyncLinks(t *testing.T) {
	upd := func(prev, seq int64) *market.BookUpdate { return &market.BookUpdate{PrevSequence: prev, Sequence: seq} }
	s := &ChainSync{}
	msgs := []*market.BookUpdate{{Snapshot: true, PrevSequence: -1, Sequence: 123456}, upd(123456, 123457), upd(123457, 123457),
		upd(123457, 123457), upd(123457, 3), upd(3, 5), upd(4, 6), upd(5, 7)}
	want := []Verdict{Apply, Apply, Apply, Apply, Apply, Apply, Gap, Apply}
	for i, m := range msgs {
		if got := s.Check(m); got != want[i] {
			t.Errorf("message %d (%+v): %d, want %d", i, *m, got, want[i])
		}
	}
}

// TestChainSyncChecksum checks the optional checksum: the kept book is the
// snapshot with the updates applied; a message without a checksum is
// judged by the chain alone; a wrong checksum is a counted gap, and nothing
// applies until the next snapshot.
func TestChainSyncChecksum(t *testing.T) {
	lv := func(p, q string) market.Level {
		return market.Level{Price: market.MustDecimal(p), Quantity: market.MustDecimal(q)}
	}
	sum := func(bids, asks []market.Level) uint32 {
		var b []byte
		for _, l := range bids {
			b = append(append(append(b, 'b'), l.Price.String()...), l.Quantity.String()...)
		}
		for _, l := range asks {
			b = append(append(append(b, 'a'), l.Price.String()...), l.Quantity.String()...)
		}
		return crc32.ChecksumIEEE(b)
	}
	s := &ChainSync{Sum: sum}
	snap := &market.BookUpdate{Snapshot: true, PrevSequence: -1, Sequence: 10, Bids: []market.Level{lv("9", "1"), lv("8", "2")}, Asks: []market.Level{lv("11", "3")}}
	snap.Checksum, snap.HasChecksum = sum(snap.Bids, snap.Asks), true
	if s.Check(snap) != Apply {
		t.Fatal("snapshot not applied")
	}
	// No checksum (OKX's 0): the chain decides.
	if s.Check(&market.BookUpdate{PrevSequence: 10, Sequence: 11, Bids: []market.Level{lv("9", "0"), lv("10", "4")}}) != Apply {
		t.Fatal("update without checksum not applied")
	}
	wantB, wantA := []market.Level{lv("10", "4"), lv("8", "2")}, []market.Level{lv("11", "3"), lv("12", "1")}
	good := &market.BookUpdate{PrevSequence: 11, Sequence: 12, Asks: []market.Level{lv("12", "1")}, Checksum: sum(wantB, wantA), HasChecksum: true}
	if s.Check(good) != Apply {
		t.Fatal("update with the right checksum not applied")
	}
	if b, a := s.Book(); sum(b, a) != sum(wantB, wantA) {
		t.Fatalf("kept book %v %v, want %v %v", b, a, wantB, wantA)
	}
	bad := &market.BookUpdate{PrevSequence: 12, Sequence: 13, Asks: []market.Level{lv("12", "2")}, Checksum: sum(wantB, wantA), HasChecksum: true}
	if s.Check(bad) != Gap || s.Mismatches != 1 {
		t.Fatalf("a wrong checksum: not a counted gap (%d mismatches)", s.Mismatches)
	}
	if s.Check(&market.BookUpdate{PrevSequence: 13, Sequence: 14}) != Skip {
		t.Fatal("an update applied after a checksum mismatch, before a snapshot")
	}
}

// TestL2BookMatchesTop: the book kept from a snapshot and updates equals a
// top-of-book snapshot of the same state (by value, whatever the scale),
// and differs from one that misses an update, has another quantity, or
// another number of levels within the depth.
func TestL2BookMatchesTop(t *testing.T) {
	lv := func(p, q string) market.Level {
		return market.Level{Price: market.MustDecimal(p), Quantity: market.MustDecimal(q)}
	}
	var b L2Book
	b.Apply(&market.BookUpdate{Snapshot: true, Bids: []market.Level{lv("99", "1"), lv("98", "2"), lv("97", "3")}, Asks: []market.Level{lv("101", "1"), lv("102", "2")}})
	b.Apply(&market.BookUpdate{Bids: []market.Level{lv("98", "0"), lv("99.5", "4")}, Asks: []market.Level{lv("100.5", "0.10")}})
	bids := []market.Level{lv("99.50", "4"), lv("99", "1.0"), lv("97", "3")}
	asks := []market.Level{lv("100.5", "0.1"), lv("101", "1"), lv("102", "2")}
	if !b.MatchesTop(bids, asks, 100) {
		gb, ga := b.Book()
		t.Fatalf("the same book does not match: %v %v", gb, ga)
	}
	if !b.MatchesTop(bids[:2], asks[:2], 2) {
		t.Fatal("the top 2 do not match")
	}
	if b.MatchesTop(bids[:2], asks, 100) {
		t.Fatal("a side with a level fewer matches")
	}
	other := append([]market.Level(nil), asks...)
	other[2] = lv("102", "2.5")
	if b.MatchesTop(bids, other, 100) {
		t.Fatal("another quantity matches")
	}
	if !b.MatchesTop(bids, other, 2) {
		t.Fatal("a difference below the depth counts")
	}
	b.Apply(&market.BookUpdate{Snapshot: true, Bids: []market.Level{lv("1", "1")}})
	if gb, ga := b.Book(); len(gb) != 1 || len(ga) != 0 {
		t.Fatalf("a snapshot did not replace the book: %v %v", gb, ga)
	}
}
