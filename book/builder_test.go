package book

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// lv parses "price@qty price@qty ...".
func lv(s string) []market.Level {
	out := []market.Level{}
	for _, f := range strings.Fields(s) {
		p, q, _ := strings.Cut(f, "@")
		out = append(out, market.Level{Price: market.MustDecimal(p), Quantity: market.MustDecimal(q)})
	}
	return out
}

func show(ls []market.Level) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s@%s", l.Price, l.Quantity)
	}
	return b.String()
}

type msg struct {
	snap, chained, verified, resync bool
	seq, prev                       int64
	bids, asks                      string
}

func (m msg) update() *market.BookUpdate {
	return &market.BookUpdate{Exchange: "v", Symbol: "A-B", VenueSymbol: "AB", Snapshot: m.snap, Chained: m.chained, ChecksumVerified: m.verified,
		Resync: m.resync, Sequence: m.seq, PrevSequence: m.prev, Bids: lv(m.bids), Asks: lv(m.asks), ExchangeTimeUs: m.seq * 10}
}

// TestApplyRules: each case feeds messages and checks every verdict and the
// book after the last one.
func TestApplyRules(t *testing.T) {
	snap := msg{snap: true, chained: true, seq: 10, prev: 10, bids: "100@1 99@2 98@3", asks: "101@1 102@2"}
	cases := []struct {
		name       string
		msgs       []msg
		verdicts   []Verdict
		synced     bool
		bids, asks string
		seq        int64
	}{
		{"snapshot sorts and drops zeros", []msg{{snap: true, seq: 5, bids: "98@1 100@2 99@0", asks: "103@1 101@1"}}, []Verdict{Applied}, true, "100@2 98@1", "101@1 103@1", 5},
		{"snapshot: a repeated price keeps the last", []msg{{snap: true, seq: 5, bids: "100@1 100@3", asks: "101@1"}}, []Verdict{Applied}, true, "100@3", "101@1", 5},
		{"update before a snapshot is skipped", []msg{{chained: true, seq: 11, prev: 10, bids: "100@5"}}, []Verdict{NotSynced}, false, "", "", 0},
		{"chain follows", []msg{snap, {chained: true, seq: 11, prev: 10, bids: "100@5 99@0", asks: "101.5@4"}, {chained: true, seq: 12, prev: 11, asks: "101@0"}},
			[]Verdict{Applied, Applied, Applied}, true, "100@5 98@3", "101.5@4 102@2", 12},
		{"keep-alive with equal ids applies", []msg{snap, {chained: true, seq: 10, prev: 10}}, []Verdict{Applied, Applied}, true, "100@1 99@2 98@3", "101@1 102@2", 10},
		{"chain break resyncs, later updates wait for a snapshot", []msg{snap, {chained: true, seq: 13, prev: 12, bids: "100@9"}, {chained: true, seq: 14, prev: 13, bids: "97@1"}},
			[]Verdict{Applied, GapSeen, NotSynced}, false, "", "", 10},
		{"duplicate is skipped", []msg{snap, {chained: true, seq: 11, prev: 10, bids: "100@5"}, {chained: true, seq: 11, prev: 10, bids: "100@7"}},
			[]Verdict{Applied, Applied, Duplicate}, true, "100@5 99@2 98@3", "101@1 102@2", 11},
		{"first update may straddle a REST snapshot", []msg{snap, {chained: true, seq: 15, prev: 7, bids: "99.5@1"}, {chained: true, seq: 16, prev: 15, asks: "102@0"}},
			[]Verdict{Applied, Applied, Applied}, true, "100@1 99.5@1 99@2 98@3", "101@1", 16},
		{"a later update may not straddle", []msg{snap, {chained: true, seq: 12, prev: 10}, {chained: true, seq: 15, prev: 11}},
			[]Verdict{Applied, Applied, GapSeen}, false, "", "", 12},
		{"unchained venue applies every update", []msg{{snap: true, seq: 5, bids: "1@1", asks: "2@1"}, {seq: 3, prev: 2, bids: "1.5@1"}, {seq: 99, prev: 40, asks: "2@0 3@1"}},
			[]Verdict{Applied, Applied, Applied}, true, "1.5@1 1@1", "3@1", 99},
		{"resync marker forgets the book", []msg{snap, {resync: true}, {chained: true, seq: 11, prev: 10}}, []Verdict{Applied, ResyncMark, NotSynced}, false, "", "", 10},
		{"a snapshot after a resync restores it", []msg{snap, {resync: true}, {snap: true, chained: true, seq: 30, prev: 30, bids: "90@1", asks: "91@1"}, {chained: true, seq: 31, prev: 30, bids: "90@2"}},
			[]Verdict{Applied, ResyncMark, Applied, Applied}, true, "90@2", "91@1", 31},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder(50, 1e6)
			b.Assign(0, 0, 0)
			for i, m := range c.msgs {
				var out Outputs
				if v := b.Apply(m.update(), 0, int64(i), 1, &out); v != c.verdicts[i] {
					t.Fatalf("message %d: verdict %d, want %d", i, v, c.verdicts[i])
				}
			}
			bk := b.Book("v:A-B")
			if bk.Synced != c.synced || show(bk.Bids) != c.bids || show(bk.Asks) != c.asks || (c.synced && bk.Sequence != c.seq) {
				t.Fatalf("book synced=%v seq=%d bids %q asks %q; want synced=%v seq=%d bids %q asks %q", bk.Synced, bk.Sequence, show(bk.Bids), show(bk.Asks), c.synced, c.seq, c.bids, c.asks)
			}
		})
	}
}

// TestPublishing: snapshots and resyncs publish at once, updates on the
// cadence; a resyncing book is published without levels; depth truncates;
// the BBO goes out on change only; a crossed book is reported once per
// episode.
func TestPublishing(t *testing.T) {
	b := NewBuilder(2, 1000)
	b.Assign(0, 0, 0)
	var out Outputs
	b.Apply(msg{snap: true, chained: true, verified: true, seq: 10, prev: 10, bids: "100@1 99@2 98@3", asks: "101@1 102@2 103@1"}.update(), 0, 0, 0, &out)
	if len(out.Books) != 1 || show(out.Books[0].Bids) != "100@1 99@2" || show(out.Books[0].Asks) != "101@1 102@2" || !out.Books[0].Synced || !out.Books[0].ChecksumVerified ||
		out.Books[0].Sequence != 10 || out.Books[0].SourceOffset != 0 || out.Books[0].Depth != 2 {
		t.Fatalf("snapshot published %+v", out.Books)
	}
	if len(out.BBOs) != 1 || !out.BBOs[0].BidPrice.Equal(market.MustDecimal("100")) || !out.BBOs[0].AskSize.Equal(market.MustDecimal("1")) || out.BBOs[0].BidExchange != "v" {
		t.Fatalf("snapshot BBO %+v", out.BBOs)
	}
	out = Outputs{}
	b.Apply(msg{chained: true, seq: 11, prev: 10, bids: "98@5"}.update(), 0, 1, 100, &out) // below the BBO
	if !out.empty() {
		t.Fatalf("an update below the top published %+v", out)
	}
	b.Tick(500, &out)
	if !out.empty() {
		t.Fatalf("published before the cadence: %+v", out)
	}
	b.Tick(1000, &out)
	if len(out.Books) != 1 || out.Books[0].Sequence != 11 || out.Books[0].SourceOffset != 1 {
		t.Fatalf("cadence published %+v", out.Books)
	}
	out = Outputs{}
	b.Tick(5000, &out)
	if !out.empty() {
		t.Fatalf("an unchanged book was published again: %+v", out)
	}
	b.Apply(msg{chained: true, seq: 12, prev: 11, bids: "101@1"}.update(), 0, 2, 5000, &out) // bid = ask: crossed
	if len(out.CrossedNow) != 1 || b.Stats()["v"].Crossed != 1 || len(out.BBOs) != 1 {
		t.Fatalf("crossed: %+v stats %+v", out, b.Stats()["v"])
	}
	out = Outputs{}
	b.Apply(msg{chained: true, seq: 13, prev: 12, bids: "101@2"}.update(), 0, 3, 5001, &out)
	if len(out.CrossedNow) != 0 || b.Stats()["v"].Crossed != 1 {
		t.Fatalf("crossed reported twice in one episode: %+v", out.CrossedNow)
	}
	out = Outputs{}
	b.Apply(msg{chained: true, seq: 20, prev: 19}.update(), 0, 4, 5002, &out) // a gap
	if len(out.Books) != 1 || out.Books[0].Synced || len(out.Books[0].Bids)+len(out.Books[0].Asks) != 0 || len(out.BBOs) != 1 || out.BBOs[0].HasBid || out.BBOs[0].HasAsk {
		t.Fatalf("a gap published %+v", out)
	}
	if s := b.Stats()["v"]; s.Gaps != 1 || s.Snapshots != 1 || s.Updates != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// TestReplayHoldsOutputs: a partition assigned with a replay publishes
// nothing until its end offset, then every book once.
func TestReplayHoldsOutputs(t *testing.T) {
	b := NewBuilder(10, 1000)
	b.Assign(3, 100, 103)
	var out Outputs
	b.Apply(msg{snap: true, chained: true, seq: 10, prev: 10, bids: "1@1", asks: "2@1"}.update(), 3, 100, 0, &out)
	b.Advance(3, 101, 0, &out)
	b.Apply(msg{chained: true, seq: 11, prev: 10, bids: "1@2"}.update(), 3, 101, 0, &out)
	b.Advance(3, 102, 0, &out)
	b.Tick(1e9, &out)
	if !out.empty() {
		t.Fatalf("published during the replay: %+v", out)
	}
	if got := b.CommitOffset(3, 102); got != 100 {
		t.Fatalf("commit offset %d, want the snapshot's 100", got)
	}
	b.Advance(3, 103, 0, &out) // a trade at 102 ends the replay
	if len(out.Books) != 1 || out.Books[0].Sequence != 11 || show(out.Books[0].Bids) != "1@2" || len(out.BBOs) != 1 {
		t.Fatalf("end of the replay published %+v", out)
	}
	b.Apply(msg{resync: true}.update(), 3, 103, 0, &out)
	if got := b.CommitOffset(3, 104); got != 104 {
		t.Fatalf("commit offset of a resyncing book %d, want 104", got)
	}
}

func TestConsolidate(t *testing.T) {
	d := market.MustDecimal
	c := NewConsolidator()
	c.Assign(0, 0, 0)
	var out []market.BBO
	c.Apply(&market.BBO{Symbol: "A-B", Exchange: "x", BidExchange: "x", BidPrice: d("10"), BidSize: d("1"), HasBid: true, AskExchange: "x", AskPrice: d("12"), AskSize: d("1"), HasAsk: true}, 0, 0, 1, &out)
	if len(out) != 0 {
		t.Fatalf("one venue consolidated: %+v", out)
	}
	c.Apply(&market.BBO{Symbol: "A-B", Exchange: "y", BidExchange: "y", BidPrice: d("10"), BidSize: d("2"), HasBid: true, AskExchange: "y", AskPrice: d("11.5"), AskSize: d("3"), HasAsk: true}, 0, 1, 2, &out)
	if len(out) != 1 || out[0].BidExchange != "y" || !out[0].BidSize.Equal(d("2")) || out[0].AskExchange != "y" || !out[0].AskPrice.Equal(d("11.5")) || !out[0].Consolidated {
		t.Fatalf("consolidated %+v", out)
	}
	c.Apply(&market.BBO{Symbol: "A-B", Exchange: "y"}, 0, 2, 3, &out) // y resyncing
	if len(out) != 2 || out[1].BidExchange != "x" || out[1].AskExchange != "x" {
		t.Fatalf("after y lost its book: %+v", out)
	}
	c.Apply(&out[1], 0, 3, 4, &out) // our own record read back
	if len(out) != 2 {
		t.Fatalf("a consolidated record was consolidated: %+v", out)
	}
	if got := c.CommitOffset(0, 4); got != 0 {
		t.Fatalf("commit offset %d, want x's latest record 0", got)
	}
}

// TestAssignPublished: a new owner that knows what the previous one
// published (exactly-once mode) publishes at the end of its replay only
// the books that changed after their last published record, and no BBO the
// previous owner already published; without that knowledge it publishes
// every book and BBO, as before.
func TestAssignPublished(t *testing.T) {
	snap := msg{snap: true, chained: true, seq: 10, prev: 10, bids: "100@1 99@2", asks: "101@1 102@2"}
	deep := msg{chained: true, seq: 11, prev: 10, bids: "98@5"} // below the top: same BBO
	dup := msg{chained: true, seq: 11, prev: 10, bids: "98@5"}  // a duplicate: judged, not applied

	// The previous owner: the snapshot is published at once, the update is
	// held back by the throttle (everyUs is long), the duplicate is judged.
	prev := NewBuilder(5, 1_000_000)
	prev.Assign(0, 0, 0)
	var out Outputs
	prev.Apply(snap.update(), 0, 0, 1, &out)
	prev.Apply(deep.update(), 0, 1, 2, &out)
	prev.Apply(dup.update(), 0, 2, 3, &out)
	if len(out.Books) != 1 || len(out.BBOs) != 1 {
		t.Fatalf("previous owner published %d books and %d BBOs, want 1 and 1", len(out.Books), len(out.BBOs))
	}
	end, pub, ok := prev.Published(0, 3)
	if !ok || end != 3 || pub["v:A-B"] != 0 || len(pub) != 1 {
		t.Fatalf("Published = %d %v %v, want 3, v:A-B at 0", end, pub, ok)
	}

	replay := func(assign func(b *Builder)) Outputs {
		b := NewBuilder(5, 1_000_000)
		assign(b)
		var o Outputs
		for i, m := range []msg{snap, deep, dup} {
			b.Apply(m.update(), 0, int64(i), 10, &o)
			b.Advance(0, int64(i)+1, 10, &o)
		}
		return o
	}
	// Published at 0, changed at 1: the book again (at its new source
	// offset, 2, the last judged), its unchanged BBO not.
	o := replay(func(b *Builder) { b.AssignPublished(0, 0, 3, pub) })
	if len(o.Books) != 1 || o.Books[0].SourceOffset != 2 || len(o.Books[0].Bids) != 3 || len(o.BBOs) != 0 {
		t.Fatalf("with the held-back change: books %+v, BBOs %d; want one book at source offset 2 with 3 bids and no BBO", o.Books, len(o.BBOs))
	}
	// Published as of the duplicate (offset 2): nothing to publish.
	o = replay(func(b *Builder) { b.AssignPublished(0, 0, 3, map[string]int64{"v:A-B": 2}) })
	if len(o.Books)+len(o.BBOs) != 0 {
		t.Fatalf("replayed to the published state: %d books and %d BBOs, want none", len(o.Books), len(o.BBOs))
	}
	// A book missing from what was published (the metadata was too big to
	// hold every book): published again, its BBO not (the previous owner
	// published every BBO change of its live books up to the commit).
	o = replay(func(b *Builder) { b.AssignPublished(0, 0, 3, nil) })
	if len(o.Books) != 1 || len(o.BBOs) != 0 {
		t.Fatalf("unknown book: %d books and %d BBOs, want 1 and 0", len(o.Books), len(o.BBOs))
	}
	// Plain Assign: everything, as a rebalance always did.
	o = replay(func(b *Builder) { b.Assign(0, 0, 3) })
	if len(o.Books) != 1 || len(o.BBOs) != 1 {
		t.Fatalf("plain assignment: %d books and %d BBOs, want 1 and 1", len(o.Books), len(o.BBOs))
	}
}

// TestPublishedDuringTheReplay: an owner that commits while it still
// replays (a poll returned only part of the replay, and another partition's
// outputs made a transaction) has published nothing of the partition, so it
// commits the previous owner's claim, not its own read position: the next
// owner then publishes nothing the first one published. Committing the
// position made a read_committed consumer see BBOs twice when the builder
// was starved of CPU.
func TestPublishedDuringTheReplay(t *testing.T) {
	msgs := []msg{
		{snap: true, chained: true, seq: 10, prev: 10, bids: "100@1", asks: "101@1"},
		{chained: true, seq: 11, prev: 10, bids: "100@2"},
		{chained: true, seq: 12, prev: 11, asks: "101@3"},
		{chained: true, seq: 13, prev: 12, bids: "100@4"},
	}
	// The first owner publishes every change and commits after offset 3.
	first := NewBuilder(5, 0)
	first.Assign(0, 0, 0)
	var out Outputs
	for i, m := range msgs {
		first.Apply(m.update(), 0, int64(i), int64(i), &out)
		first.Advance(0, int64(i)+1, int64(i), &out)
		first.Tick(int64(i), &out)
	}
	if len(out.Books) != 4 || len(out.BBOs) != 4 {
		t.Fatalf("first owner published %d books and %d BBOs, want 4 and 4", len(out.Books), len(out.BBOs))
	}
	end, pub, ok := first.Published(0, 4)
	if !ok || end != 4 {
		t.Fatalf("first owner's claim %d %v %v", end, pub, ok)
	}
	from := first.CommitOffset(0, 4)

	// The second owner replays two records, commits, and dies.
	second := NewBuilder(5, 0)
	second.AssignPublished(0, from, end, pub)
	out = Outputs{}
	for i := from; i < 2; i++ {
		second.Apply(msgs[i].update(), 0, i, 10, &out)
		second.Advance(0, i+1, 10, &out)
	}
	if !out.empty() {
		t.Fatalf("published during the replay: %+v", out)
	}
	end2, pub2, ok := second.Published(0, 2)
	if !ok || end2 != end || len(pub2) != len(pub) || pub2["v:A-B"] != pub["v:A-B"] {
		t.Fatalf("mid-replay claim %d %v %v, want the first owner's %d %v", end2, pub2, ok, end, pub)
	}
	from2 := second.CommitOffset(0, 2)

	// The third owner replays from there and publishes nothing: the first
	// owner published the state it ends in.
	third := NewBuilder(5, 0)
	third.AssignPublished(0, from2, end2, pub2)
	out = Outputs{}
	for i := from2; i < int64(len(msgs)); i++ {
		third.Apply(msgs[i].update(), 0, i, 20, &out)
		third.Advance(0, i+1, 20, &out)
	}
	if !out.empty() {
		t.Fatalf("the third owner published again %d books and %d BBOs", len(out.Books), len(out.BBOs))
	}

	// Without a claim to carry over (plain assignment), a replaying
	// partition commits none.
	plain := NewBuilder(5, 0)
	plain.Assign(0, 0, 4)
	plain.Apply(msgs[0].update(), 0, 0, 0, &out)
	if _, _, ok := plain.Published(0, 1); ok {
		t.Fatal("a replay without a claim made one up")
	}
}

// TestConsolidatorPublishedDuringTheReplay is TestPublishedDuringTheReplay
// for the consolidated BBO.
func TestConsolidatorPublishedDuringTheReplay(t *testing.T) {
	d := market.MustDecimal
	q := func(venue, bid string) *market.BBO {
		return &market.BBO{Symbol: "A-B", Exchange: venue, BidExchange: venue, BidPrice: d(bid), BidSize: d("1"), HasBid: true}
	}
	in := []*market.BBO{q("x", "10"), q("y", "11"), q("x", "12"), q("y", "13")}
	first := NewConsolidator()
	first.Assign(0, 0, 0)
	var out []market.BBO
	for i, r := range in {
		first.Apply(r, 0, int64(i), 0, &out)
	}
	if len(out) != 3 {
		t.Fatalf("first owner published %d, want 3", len(out))
	}
	end, pub, _ := first.Published(0, 4)
	from := first.CommitOffset(0, 4)

	second := NewConsolidator()
	second.AssignPublished(0, from, end, pub)
	out = nil
	second.Apply(in[from], 0, from, 0, &out)
	second.Advance(0, from+1, 0, &out)
	end2, pub2, ok := second.Published(0, from+1)
	if !ok || end2 != end || pub2["A-B"] != pub["A-B"] {
		t.Fatalf("mid-replay claim %d %v, want %d %v", end2, pub2, end, pub)
	}
	third := NewConsolidator()
	third.AssignPublished(0, second.CommitOffset(0, from+1), end2, pub2)
	for i := second.CommitOffset(0, from+1); i < 4; i++ {
		third.Apply(in[i], 0, i, 0, &out)
		third.Advance(0, i+1, 0, &out)
	}
	if len(out) != 0 {
		t.Fatalf("published again: %+v", out)
	}
}
