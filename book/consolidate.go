package book

import (
	"sort"

	"github.com/tickertape/tickertape/market"
)

// Consolidator is the deterministic core of the consolidated BBO: it reads
// the per-venue BBOs of market.bbo (keyed by the normalized symbol, so that
// every venue's BBO of a symbol is in one partition, in the order they
// were written) and says when the best across venues changes. A symbol is
// consolidated once two or more venues have published a BBO for it. Not
// safe for concurrent use.
type Consolidator struct {
	parts map[int32]*cpart
}

type cpart struct {
	liveFrom int64
	live     bool
	syms     map[string]*csym
	pub      map[string]int64 // see AssignPublished
}

type csym struct {
	venues    map[string]venueBBO
	pub       market.BBO
	havePub   bool
	pubOffset int64 // the newest venue record's offset when pub was published
}

type venueBBO struct {
	q      market.BBO
	offset int64
}

// NewConsolidator makes an empty Consolidator.
func NewConsolidator() *Consolidator { return &Consolidator{parts: map[int32]*cpart{}} }

// Assign starts a market.bbo partition read from offset from, replayed up
// to liveFrom (see Builder.Assign).
func (c *Consolidator) Assign(part int32, from, liveFrom int64) {
	c.parts[part] = &cpart{liveFrom: liveFrom, live: from >= liveFrom, syms: map[string]*csym{}}
}

// AssignPublished is Assign knowing what the previous owner published and
// committed up to liveFrom: pub holds, per symbol, the newest market.bbo
// offset its last consolidated record was computed from (Published). At the
// end of the replay a symbol whose newest venue record is still that one is
// not published again.
func (c *Consolidator) AssignPublished(part int32, from, liveFrom int64, pub map[string]int64) {
	c.Assign(part, from, liveFrom)
	if pub == nil {
		pub = map[string]int64{}
	}
	c.parts[part].pub = pub
}

// Published is what a commit of a market.bbo partition read up to next
// records as published: the outputs of records before end are committed,
// and pub holds per symbol the newest market.bbo offset its last published
// consolidated record was computed from. A partition still replaying
// carries the previous owner's claim over whole, as Builder.Published does.
func (c *Consolidator) Published(part int32, next int64) (end int64, pub map[string]int64, ok bool) {
	p := c.parts[part]
	if p == nil {
		return next, map[string]int64{}, true
	}
	return claim(p.live, p.liveFrom, next, p.pub, func(pub map[string]int64) {
		for sym, s := range p.syms {
			if s.havePub {
				pub[sym] = s.pubOffset
			}
		}
	})
}

func (s *csym) newest() int64 {
	n := int64(-1)
	for _, v := range s.venues {
		n = max(n, v.offset)
	}
	return n
}

// Drop forgets a partition.
func (c *Consolidator) Drop(part int32) { delete(c.parts, part) }

func (c *Consolidator) part(part int32) *cpart {
	p := c.parts[part]
	if p == nil {
		c.Assign(part, 0, 0)
		p = c.parts[part]
	}
	return p
}

// Apply takes one record of market.bbo read at (part, offset); a change of
// the consolidated BBO is appended to out. Consolidated records (our own
// output, read back) are ignored.
func (c *Consolidator) Apply(q *market.BBO, part int32, offset, nowUs int64, out *[]market.BBO) {
	if q.Consolidated {
		return
	}
	p := c.part(part)
	s := p.syms[q.Symbol]
	if s == nil {
		s = &csym{venues: map[string]venueBBO{}}
		p.syms[q.Symbol] = s
	}
	s.venues[q.Exchange] = venueBBO{*q, offset}
	if p.live {
		c.emit(q.Symbol, s, nowUs, out)
	}
}

// Advance: the partition was read up to next; at the end of a replay every
// consolidated BBO of it is published once.
func (c *Consolidator) Advance(part int32, next, nowUs int64, out *[]market.BBO) {
	p := c.parts[part]
	if p == nil || p.live || next < p.liveFrom {
		return
	}
	p.live = true
	syms := make([]string, 0, len(p.syms))
	for sym := range p.syms {
		syms = append(syms, sym)
	}
	sort.Strings(syms)
	for _, sym := range syms {
		s := p.syms[sym]
		if off, ok := p.pub[sym]; ok && off == s.newest() && len(s.venues) >= 2 {
			vs := make([]market.BBO, 0, len(s.venues))
			for _, v := range s.venues {
				vs = append(vs, v.q)
			}
			s.pub, s.havePub, s.pubOffset = Consolidate(sym, vs, nowUs), true, off
			continue
		}
		s.havePub = false
		c.emit(sym, s, nowUs, out)
	}
	p.pub = nil
}

func (c *Consolidator) emit(sym string, s *csym, nowUs int64, out *[]market.BBO) {
	if len(s.venues) < 2 {
		return
	}
	vs := make([]market.BBO, 0, len(s.venues))
	for _, v := range s.venues {
		vs = append(vs, v.q)
	}
	q := Consolidate(sym, vs, nowUs)
	if s.havePub && sameSides(s.pub, q) {
		return
	}
	s.pub, s.havePub, s.pubOffset = q, true, s.newest()
	*out = append(*out, q)
}

// CommitOffset is the offset to commit for a market.bbo partition read up
// to next: the oldest latest-record of any venue and symbol in it, so that
// a new owner replays every venue's current BBO.
func (c *Consolidator) CommitOffset(part int32, next int64) int64 {
	p := c.parts[part]
	if p == nil {
		return next
	}
	off := next
	for _, s := range p.syms {
		for _, v := range s.venues {
			off = min(off, v.offset)
		}
	}
	return off
}

// Consolidate is the best bid and ask across venue BBOs of one symbol: the
// highest bid and the lowest ask; on equal prices the larger size, then
// the venue name first in order. Its exchange time is the latest input's.
func Consolidate(symbol string, venues []market.BBO, nowUs int64) market.BBO {
	out := market.BBO{Symbol: symbol, Exchange: market.ConsolidatedExchange, Consolidated: true, UpdatedTimeUs: nowUs}
	for _, v := range venues {
		out.ExchangeTimeUs = max(out.ExchangeTimeUs, v.ExchangeTimeUs)
		if v.HasBid && (!out.HasBid || wins(v.BidPrice, out.BidPrice, v.BidSize, out.BidSize, v.Exchange, out.BidExchange, true)) {
			out.BidExchange, out.BidPrice, out.BidSize, out.HasBid = v.Exchange, v.BidPrice, v.BidSize, true
		}
		if v.HasAsk && (!out.HasAsk || wins(v.AskPrice, out.AskPrice, v.AskSize, out.AskSize, v.Exchange, out.AskExchange, false)) {
			out.AskExchange, out.AskPrice, out.AskSize, out.HasAsk = v.Exchange, v.AskPrice, v.AskSize, true
		}
	}
	return out
}

func wins(p, bestP, size, bestSize market.Decimal, venue, bestVenue string, bids bool) bool {
	if c := p.Cmp(bestP); c != 0 {
		return (c > 0) == bids
	}
	if c := size.Cmp(bestSize); c != 0 {
		return c > 0
	}
	return venue < bestVenue
}
