package book

import (
	"maps"
	"sort"

	"github.com/tickertape/tickertape/market"
)

// Builder is the deterministic core of the book builder: it applies book
// messages of market.events (with the partition and offset they were read
// at) to one book per exchange:SYMBOL, and says what to publish. Time is an
// input (nowUs); the Processor owns the I/O. Not safe for concurrent use.
type Builder struct {
	depth   int
	everyUs int64
	books   map[string]*Book       // exchange:SYMBOL
	parts   map[int32]*partition   // per partition of market.events
	stats   map[string]*VenueStats // per exchange
}

// partition is what the builder knows of one market.events partition.
type partition struct {
	// liveFrom is the offset from which this partition's outputs are
	// published: records before it are a replay that rebuilds the books
	// after an assignment (their outputs would regress what the previous
	// owner published).
	liveFrom int64
	live     bool
	keys     map[string]*Book
	// pub, when known (exactly-once mode), is the source offset of each
	// book's last record the previous owner published and committed: a
	// book whose replay ends in that same state is not published again.
	pub map[string]int64
}

// Book is one venue's book as the builder holds it: every level (the top
// Depth are published), best first.
type Book struct {
	Exchange, Symbol, VenueSymbol string
	Synced                        bool
	Sequence                      int64
	ChecksumVerified              bool
	Chained                       bool
	ExchangeTimeUs                int64
	Bids, Asks                    []market.Level

	partition  int32
	first      bool  // no update applied since the snapshot
	snapOffset int64 // the offset of the snapshot the book is built from
	lastOffset int64 // the last record applied or judged
	dirty      bool  // changed since it was last published
	lastPubUs  int64
	pubOffset  int64 // lastOffset when last published; -1 before
	crossed    bool  // in a crossed episode
	pubBBO     market.BBO
	havePubBBO bool
}

// VenueStats are one venue's counters of the builder.
type VenueStats struct {
	Snapshots, Updates int64 // applied
	Duplicates         int64 // chained updates already applied (skipped)
	Unsynced           int64 // updates before a snapshot (skipped)
	Gaps               int64 // chain breaks seen by the builder: the book resyncs
	Resyncs            int64 // resync markers from ingest (a gap or checksum failure upstream)
	Crossed            int64 // crossed-book episodes (best bid >= best ask)
	Published          int64 // market.books records
}

// Outputs are what one call asks the Processor to publish.
type Outputs struct {
	Books []market.Book
	BBOs  []market.BBO
	// CrossedNow lists books that just became crossed (log once each).
	CrossedNow []market.Book
}

func (o *Outputs) empty() bool { return len(o.Books)+len(o.BBOs) == 0 }

// NewBuilder makes a Builder publishing depth levels a side, each changed
// book at most once per everyUs (snapshots and resyncs at once).
func NewBuilder(depth int, everyUs int64) *Builder {
	return &Builder{depth: depth, everyUs: everyUs, books: map[string]*Book{}, parts: map[int32]*partition{}, stats: map[string]*VenueStats{}}
}

// Assign starts a partition read from offset from whose records are a
// replay up to (not including) liveFrom, the partition's end offset when it
// was assigned: outputs of its books are held back until Advance reaches it.
func (b *Builder) Assign(part int32, from, liveFrom int64) {
	b.parts[part] = &partition{liveFrom: liveFrom, live: from >= liveFrom, keys: map[string]*Book{}}
}

// AssignPublished is Assign knowing what the previous owner published and
// committed up to liveFrom: pub holds, per book key, the source offset of
// its last published record (Published). At the end of the replay only the
// books that changed after that record are published, so that no book is
// published twice for the same source offset.
func (b *Builder) AssignPublished(part int32, from, liveFrom int64, pub map[string]int64) {
	b.Assign(part, from, liveFrom)
	if pub == nil {
		pub = map[string]int64{}
	}
	b.parts[part].pub = pub
}

// Published is what a commit of a partition read up to next records as
// published (exactly-once mode): the outputs of records before end are
// committed, and pub holds per book key the source offset of its last
// published record (books never published are left out). A partition still
// replaying has published nothing yet: the previous owner's claim is carried
// over whole (committing next as the end would tell the next owner that the
// outputs of the rest of the replay are not published, and it would publish
// them again); ok is false when there was no claim, and the next owner then
// replays as this one does.
func (b *Builder) Published(part int32, next int64) (end int64, pub map[string]int64, ok bool) {
	p := b.parts[part]
	if p == nil {
		return next, map[string]int64{}, true
	}
	return claim(p.live, p.liveFrom, next, p.pub, func(pub map[string]int64) {
		for k, bk := range p.keys {
			if bk.pubOffset >= 0 {
				pub[k] = bk.pubOffset
			}
		}
	})
}

// claim is what a partition commits as published (Builder.Published,
// Consolidator.Published): while it replays, the previous owner's claim
// prev (none when prev is nil); once live, next and what own adds.
func claim(live bool, liveFrom, next int64, prev map[string]int64, own func(map[string]int64)) (end int64, pub map[string]int64, ok bool) {
	switch {
	case !live && prev == nil:
		return 0, nil, false
	case !live:
		return liveFrom, maps.Clone(prev), true
	}
	pub = map[string]int64{}
	own(pub)
	return next, pub, true
}

// Advance tells the builder that a partition was read up to (not
// including) next, whatever the records' types. When that ends the
// partition's replay, every book of it is published at once: the rebuilt
// books are the live ones.
func (b *Builder) Advance(part int32, next, nowUs int64, out *Outputs) {
	p := b.parts[part]
	if p == nil || p.live || next < p.liveFrom {
		return
	}
	p.live = true
	for _, k := range sortedKeys(p.keys) {
		bk := p.keys[k]
		if p.pub != nil {
			// The previous owner published every change of a live book's
			// BBO at once: the committed one is the replayed state's.
			bk.pubBBO, bk.havePubBBO = BBOOf(bk, nowUs), true
		}
		if off, ok := p.pub[k]; ok && !bk.dirty {
			// Replayed to the state already published at off.
			bk.pubOffset, bk.lastPubUs = off, nowUs
			continue
		}
		b.publish(bk, nowUs, out)
	}
	p.pub = nil
}

// Drop forgets a partition and its books (revoked or lost).
func (b *Builder) Drop(part int32) {
	p := b.parts[part]
	if p == nil {
		return
	}
	for k := range p.keys {
		delete(b.books, k)
	}
	delete(b.parts, part)
}

// Live reports whether a partition's outputs are published.
func (b *Builder) Live(part int32) bool { p := b.parts[part]; return p != nil && p.live }

// Stats returns a copy of every venue's counters.
func (b *Builder) Stats() map[string]VenueStats {
	out := make(map[string]VenueStats, len(b.stats))
	for k, v := range b.stats {
		out[k] = *v
	}
	return out
}

// Book returns the builder's book of exchange:SYMBOL (shared: do not change).
func (b *Builder) Book(key string) *Book { return b.books[key] }

func (b *Builder) venue(exch string) *VenueStats {
	s := b.stats[exch]
	if s == nil {
		s = &VenueStats{}
		b.stats[exch] = s
	}
	return s
}

// Verdict is how Apply judged a message.
type Verdict uint8

// The verdicts.
const (
	Applied    Verdict = iota // the book changed (or was replaced)
	Duplicate                 // already applied: skipped
	NotSynced                 // an update while the book is unknown: skipped
	GapSeen                   // the chain broke: the book is now resyncing
	ResyncMark                // ingest's resync marker: the book is now resyncing
)

// Apply applies one book message read at (part, offset) and appends what
// to publish to out.
func (b *Builder) Apply(u *market.BookUpdate, part int32, offset, nowUs int64, out *Outputs) Verdict {
	p := b.parts[part]
	if p == nil {
		b.Assign(part, 0, 0)
		p = b.parts[part]
	}
	key := market.EventKey(u.Exchange, u.Symbol)
	bk := b.books[key]
	if bk == nil {
		bk = &Book{Exchange: u.Exchange, Symbol: u.Symbol, VenueSymbol: u.VenueSymbol, partition: part, snapOffset: -1, lastOffset: -1, pubOffset: -1}
		b.books[key] = bk
		p.keys[key] = bk
	}
	st := b.venue(u.Exchange)
	v := b.judge(bk, u, st)
	bk.lastOffset = offset
	switch v {
	case Applied:
		if u.Snapshot {
			bk.snapOffset = offset
		}
		bk.dirty = true
		b.checkCrossed(bk, st, out)
	case GapSeen, ResyncMark:
		bk.dirty = true
	}
	if off, ok := p.pub[key]; ok && !p.live && offset <= off {
		bk.dirty = false // the previous owner published the book as of off
	}
	switch {
	case !p.live:
	case v == Applied && u.Snapshot, v == GapSeen, v == ResyncMark:
		b.publish(bk, nowUs, out)
	case v == Applied:
		b.bboIfChanged(bk, nowUs, out)
	}
	return v
}

// judge applies the venue's sequencing as the message tells it.
func (b *Builder) judge(bk *Book, u *market.BookUpdate, st *VenueStats) Verdict {
	switch {
	case u.Resync:
		st.Resyncs++
		bk.unsync()
		return ResyncMark
	case u.Snapshot:
		bk.Bids = setSide(bk.Bids[:0], u.Bids, true)
		bk.Asks = setSide(bk.Asks[:0], u.Asks, false)
		bk.Synced, bk.first, bk.Chained = true, true, u.Chained
		bk.accept(u)
		st.Snapshots++
		return Applied
	case !bk.Synced:
		st.Unsynced++
		return NotSynced
	case u.Chained || bk.Chained:
		switch {
		case u.PrevSequence == bk.Sequence:
		case bk.first && u.PrevSequence < bk.Sequence && u.Sequence > bk.Sequence:
			// The first update after a REST snapshot may straddle it
			// (Binance: first id ≤ lastUpdateId+1 ≤ last id).
		case u.Sequence <= bk.Sequence:
			st.Duplicates++
			return Duplicate
		default:
			st.Gaps++
			bk.unsync()
			return GapSeen
		}
	}
	bk.Bids = applySide(bk.Bids, u.Bids, true)
	bk.Asks = applySide(bk.Asks, u.Asks, false)
	bk.first = false
	bk.accept(u)
	st.Updates++
	return Applied
}

func (bk *Book) accept(u *market.BookUpdate) {
	bk.Sequence, bk.ChecksumVerified, bk.ExchangeTimeUs = u.Sequence, u.ChecksumVerified, u.ExchangeTimeUs
	if u.VenueSymbol != "" {
		bk.VenueSymbol = u.VenueSymbol
	}
}

func (bk *Book) unsync() {
	bk.Synced, bk.crossed = false, false
	bk.Bids, bk.Asks = bk.Bids[:0], bk.Asks[:0]
	bk.snapOffset = -1
}

// Crossed reports whether the book's best bid is at or above its best ask.
func (bk *Book) Crossed() bool {
	return len(bk.Bids) > 0 && len(bk.Asks) > 0 && bk.Bids[0].Price.Cmp(bk.Asks[0].Price) >= 0
}

func (b *Builder) checkCrossed(bk *Book, st *VenueStats, out *Outputs) {
	c := bk.Crossed()
	if c && !bk.crossed {
		st.Crossed++
		out.CrossedNow = append(out.CrossedNow, b.record(bk, 0))
	}
	bk.crossed = c
}

// Tick publishes the books of live partitions that changed at least
// everyUs after their last publication.
func (b *Builder) Tick(nowUs int64, out *Outputs) {
	for _, part := range sortedParts(b.parts) {
		p := b.parts[part]
		if !p.live {
			continue
		}
		for _, k := range sortedKeys(p.keys) {
			bk := p.keys[k]
			if bk.dirty && nowUs-bk.lastPubUs >= b.everyUs {
				b.publish(bk, nowUs, out)
			}
		}
	}
}

// publish appends the book's market.books record and its BBO if changed.
func (b *Builder) publish(bk *Book, nowUs int64, out *Outputs) {
	out.Books = append(out.Books, b.record(bk, nowUs))
	bk.dirty, bk.lastPubUs, bk.pubOffset = false, nowUs, bk.lastOffset
	b.venue(bk.Exchange).Published++
	b.bboIfChanged(bk, nowUs, out)
}

// record is the market.books value of a book now.
func (b *Builder) record(bk *Book, nowUs int64) market.Book {
	r := market.Book{Exchange: bk.Exchange, Symbol: bk.Symbol, VenueSymbol: bk.VenueSymbol, Synced: bk.Synced, Sequence: bk.Sequence,
		ChecksumVerified: bk.ChecksumVerified && bk.Synced, Depth: int32(b.depth), Bids: []market.Level{}, Asks: []market.Level{},
		ExchangeTimeUs: bk.ExchangeTimeUs, UpdatedTimeUs: nowUs, SourcePartition: bk.partition, SourceOffset: bk.lastOffset}
	if bk.Synced {
		r.Bids = append(r.Bids, bk.Bids[:min(len(bk.Bids), b.depth)]...)
		r.Asks = append(r.Asks, bk.Asks[:min(len(bk.Asks), b.depth)]...)
	}
	return r
}

// BBOOf is the venue BBO of a book (no sides while it is not synced).
func BBOOf(bk *Book, nowUs int64) market.BBO {
	q := market.BBO{Symbol: bk.Symbol, Exchange: bk.Exchange, Sequence: bk.Sequence, ExchangeTimeUs: bk.ExchangeTimeUs, UpdatedTimeUs: nowUs}
	if bk.Synced && len(bk.Bids) > 0 {
		q.BidExchange, q.BidPrice, q.BidSize, q.HasBid = bk.Exchange, bk.Bids[0].Price, bk.Bids[0].Quantity, true
	}
	if bk.Synced && len(bk.Asks) > 0 {
		q.AskExchange, q.AskPrice, q.AskSize, q.HasAsk = bk.Exchange, bk.Asks[0].Price, bk.Asks[0].Quantity, true
	}
	return q
}

func (b *Builder) bboIfChanged(bk *Book, nowUs int64, out *Outputs) {
	q := BBOOf(bk, nowUs)
	if bk.havePubBBO && sameSides(bk.pubBBO, q) {
		return
	}
	bk.pubBBO, bk.havePubBBO = q, true
	out.BBOs = append(out.BBOs, q)
}

// sameSides compares the venues, prices and sizes of two BBOs.
func sameSides(a, b market.BBO) bool {
	return a.HasBid == b.HasBid && a.HasAsk == b.HasAsk && a.BidExchange == b.BidExchange && a.AskExchange == b.AskExchange &&
		a.BidPrice.Equal(b.BidPrice) && a.BidSize.Equal(b.BidSize) && a.AskPrice.Equal(b.AskPrice) && a.AskSize.Equal(b.AskSize)
}

// CommitOffset is the offset to commit for a partition whose records were
// processed up to (not including) next: the oldest snapshot a synced book
// of it is built from, so that a new owner replays from there and rebuilds
// every book; books that are not synced need nothing older than next.
func (b *Builder) CommitOffset(part int32, next int64) int64 {
	p := b.parts[part]
	if p == nil {
		return next
	}
	off := next
	for _, bk := range p.keys {
		if bk.Synced && bk.snapOffset >= 0 && bk.snapOffset < off {
			off = bk.snapOffset
		}
	}
	return off
}

// setSide replaces a side with levels (best first after sorting; zero
// quantities dropped).
func setSide(side, levels []market.Level, bids bool) []market.Level {
	for _, l := range levels {
		if !l.Quantity.IsZero() {
			side = append(side, l)
		}
	}
	sort.SliceStable(side, func(i, j int) bool { return better(side[i].Price, side[j].Price, bids) })
	// Repeated prices in a snapshot: the last one wins.
	out := side[:0]
	for _, l := range side {
		if n := len(out); n > 0 && out[n-1].Price.Equal(l.Price) {
			out[n-1] = l
			continue
		}
		out = append(out, l)
	}
	return out
}

// applySide applies changes in order (zero quantity removes a level) to a
// side kept best first.
func applySide(side, changes []market.Level, bids bool) []market.Level {
	for _, c := range changes {
		i := sort.Search(len(side), func(i int) bool { return !better(side[i].Price, c.Price, bids) })
		found := i < len(side) && side[i].Price.Equal(c.Price)
		switch {
		case c.Quantity.IsZero():
			if found {
				side = append(side[:i], side[i+1:]...)
			}
		case found:
			side[i].Quantity = c.Quantity
		default:
			side = append(side, market.Level{})
			copy(side[i+1:], side[i:])
			side[i] = c
		}
	}
	return side
}

func better(a, b market.Decimal, bids bool) bool {
	if bids {
		return a.Cmp(b) > 0
	}
	return a.Cmp(b) < 0
}

func sortedKeys(m map[string]*Book) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedParts(m map[int32]*partition) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}
