package exchange

import (
	"sort"

	"github.com/tickertape/tickertape/market"
)

// Verdict is a BookSync's judgement of one book message.
type Verdict uint8

const (
	// Apply: the message follows the book; publish it.
	Apply Verdict = iota
	// Skip: not usable but harmless (waiting for a snapshot, or already
	// contained in the snapshot, or a duplicate); drop it, count it.
	Skip
	// Gap: messages were lost; the book must be resynced.
	Gap
)

// BookSync is one venue's rule for keeping one symbol's book in order. The
// supervisor owns one per symbol and keeps the generic states around it
// (syncing, synced, resyncing), the counters and the logs; the rule only
// judges messages. A snapshot always resets the rule.
type BookSync interface {
	// Check judges the next book message and, on Apply, advances.
	Check(u *market.BookUpdate) Verdict
	// Reset forgets the book: nothing applies until the next snapshot.
	Reset()
}

// ChainSync is the PrevSequence chain (Poloniex book_lv2, OKX books): an
// update applies when its PrevSequence equals the last Sequence applied.
// Only the link counts, not the direction: an update whose Sequence equals
// its PrevSequence (OKX's keep-alive) chains, and so does one whose
// Sequence is lower than the last (OKX after maintenance).
//
// With Sum set the rule also keeps the book (all levels, each side best
// first) and verifies every message that carries a checksum (HasChecksum)
// against Sum of the book after it: a mismatch is a Gap and is counted in
// Mismatches. Messages without a checksum are judged by the chain alone
// (OKX's checksum has been 0, "none", since 2026-06-23).
type ChainSync struct {
	Sum        func(bids, asks []market.Level) uint32
	Mismatches int64
	seq        int64
	synced     bool
	bids, asks []market.Level
}

// Check implements BookSync.
func (s *ChainSync) Check(u *market.BookUpdate) Verdict {
	switch {
	case u.Snapshot:
		s.seq, s.synced = u.Sequence, true
		s.bids, s.asks = s.bids[:0], s.asks[:0]
	case !s.synced:
		return Skip
	case u.PrevSequence == s.seq:
		s.seq = u.Sequence
	case u.Sequence <= s.seq && u.Sequence > 0:
		return Skip // a duplicate or an older message
	default:
		return Gap
	}
	if s.Sum != nil {
		s.bids, _ = applySide(s.bids, u.Bids, true, 0)
		s.asks, _ = applySide(s.asks, u.Asks, false, 0)
		if u.HasChecksum && s.Sum(s.bids, s.asks) != u.Checksum {
			s.Mismatches++
			s.synced = false
			return Gap
		}
	}
	return Apply
}

// Reset implements BookSync.
func (s *ChainSync) Reset() { s.synced = false }

// Book returns the kept book (with Sum set), best first (shared: do not
// change).
func (s *ChainSync) Book() (bids, asks []market.Level) { return s.bids, s.asks }

// UpdateIDSync is the REST-snapshot-plus-buffered-deltas rule (Binance
// depth): the snapshot's Sequence is its lastUpdateId L; each delta carries
// its first update id as PrevSequence+1 and its last as Sequence. Deltas
// with Sequence ≤ L are already in the snapshot; the first one kept must
// straddle L (PrevSequence+1 ≤ L+1 ≤ Sequence); afterwards each must start
// right after the previous one.
type UpdateIDSync struct {
	last          int64
	synced, first bool
}

// Check implements BookSync.
func (s *UpdateIDSync) Check(u *market.BookUpdate) Verdict {
	switch {
	case u.Snapshot:
		s.last, s.synced, s.first = u.Sequence, true, true
		return Apply
	case !s.synced:
		return Skip
	case u.Sequence <= s.last:
		return Skip // in the snapshot already, or a duplicate
	case s.first && u.PrevSequence <= s.last:
		s.last, s.first = u.Sequence, false
		return Apply
	case !s.first && u.PrevSequence == s.last:
		s.last = u.Sequence
		return Apply
	}
	return Gap
}

// Reset implements BookSync.
func (s *UpdateIDSync) Reset() { s.synced = false }

// UnsequencedSync is for venues whose book messages carry no per-book
// sequence (Coinbase level2): after a snapshot every update applies; loss is
// detected at the connection level and reported as an Event.Gap.
type UnsequencedSync struct{ synced bool }

// Check implements BookSync.
func (s *UnsequencedSync) Check(u *market.BookUpdate) Verdict {
	switch {
	case u.Snapshot:
		s.synced = true
		return Apply
	case s.synced:
		return Apply
	}
	return Skip
}

// Reset implements BookSync.
func (s *UnsequencedSync) Reset() { s.synced = false }

// TimeOrderedSync is for venues that order books by time only (Bitstamp):
// updates at or before the snapshot's exchange time are in it already.
type TimeOrderedSync struct {
	at     int64
	synced bool
}

// Check implements BookSync.
func (s *TimeOrderedSync) Check(u *market.BookUpdate) Verdict {
	switch {
	case u.Snapshot:
		s.at, s.synced = u.ExchangeTimeUs, true
		return Apply
	case !s.synced || u.ExchangeTimeUs <= s.at:
		return Skip
	}
	s.at = u.ExchangeTimeUs
	return Apply
}

// Reset implements BookSync.
func (s *TimeOrderedSync) Reset() { s.synced = false }

// ChecksumSync is for venues that send no sequence but a checksum of the
// book after every message (Kraken v2 book): the checksum is the only loss
// detector, so the rule keeps the book itself, truncated to Depth levels a
// side (the venue sends no removal for levels that fall out of the
// subscribed depth), and compares Sum of it with the message's Checksum. A
// mismatch, or a message without a checksum, is a Gap: the message is not
// published and the book resyncs. On Apply the removals the truncation made
// are appended to the update as zero-quantity levels, so that a consumer
// applying the updates holds exactly the verified book.
type ChecksumSync struct {
	Depth int // levels kept a side; 0 keeps all
	// Sum is the venue's checksum of a book given best first on each side.
	Sum        func(bids, asks []market.Level) uint32
	bids, asks []market.Level // best first
	synced     bool
	// Mismatches counts checksum mismatches (including on snapshots).
	Mismatches int64
}

// Check implements BookSync.
func (s *ChecksumSync) Check(u *market.BookUpdate) Verdict {
	if u.Snapshot {
		s.bids, s.asks, s.synced = s.bids[:0], s.asks[:0], true
	} else if !s.synced {
		return Skip
	}
	var cutB, cutA []market.Level
	s.bids, cutB = applySide(s.bids, u.Bids, true, s.Depth)
	s.asks, cutA = applySide(s.asks, u.Asks, false, s.Depth)
	if !u.HasChecksum || s.Sum(s.bids, s.asks) != u.Checksum {
		s.Mismatches++
		s.synced = false
		return Gap
	}
	if !u.Snapshot {
		if len(cutB) > 0 {
			u.Bids = append(u.Bids[:len(u.Bids):len(u.Bids)], cutB...)
		}
		if len(cutA) > 0 {
			u.Asks = append(u.Asks[:len(u.Asks):len(u.Asks)], cutA...)
		}
	} else if len(cutB)+len(cutA) > 0 {
		// A snapshot deeper than the depth: publish only what is kept.
		u.Bids, u.Asks = append([]market.Level(nil), s.bids...), append([]market.Level(nil), s.asks...)
	}
	return Apply
}

// Reset implements BookSync.
func (s *ChecksumSync) Reset() { s.synced = false }

// Book returns the verified book, best first (shared: do not change).
func (s *ChecksumSync) Book() (bids, asks []market.Level) { return s.bids, s.asks }

// applySide applies changes (in order; zero quantity removes) to a side
// kept best first, then truncates it to depth, returning the removals the
// truncation made.
func applySide(side, changes []market.Level, bids bool, depth int) ([]market.Level, []market.Level) {
	better := func(a, b market.Decimal) bool {
		if bids {
			return a.Cmp(b) > 0
		}
		return a.Cmp(b) < 0
	}
	for _, c := range changes {
		i := sort.Search(len(side), func(i int) bool { return !better(side[i].Price, c.Price) })
		found := i < len(side) && side[i].Price.Equal(c.Price)
		switch {
		case c.Quantity.IsZero():
			if found {
				side = append(side[:i], side[i+1:]...)
			}
		case found:
			side[i] = c
		default:
			side = append(side, market.Level{})
			copy(side[i+1:], side[i:])
			side[i] = c
		}
	}
	var cut []market.Level
	if depth > 0 && len(side) > depth {
		for _, l := range side[depth:] {
			cut = append(cut, market.Level{Price: l.Price, Quantity: market.Decimal{}})
		}
		side = side[:depth]
	}
	return side, cut
}

// L2Book is one book kept from snapshots and updates, best first on each
// side, for a session that checks it against what else the venue sends:
// Bitstamp has neither sequence nor checksum, but its top-100 order_book
// snapshots can be compared with the book its diffs build.
type L2Book struct {
	bids, asks []market.Level
}

// Apply applies a snapshot (which replaces the book) or an update (zero
// quantity removes a level).
func (b *L2Book) Apply(u *market.BookUpdate) {
	if u.Snapshot {
		b.bids, b.asks = b.bids[:0], b.asks[:0]
	}
	b.bids, _ = applySide(b.bids, u.Bids, true, 0)
	b.asks, _ = applySide(b.asks, u.Asks, false, 0)
}

// Book returns the book, best first (shared: do not change).
func (b *L2Book) Book() (bids, asks []market.Level) { return b.bids, b.asks }

// MatchesTop reports whether the book's best depth levels a side equal, by
// value, the first depth levels of bids and asks (a venue's top-of-book
// snapshot, best first): the same prices with the same quantities, and as
// many levels when either side has fewer than depth.
func (b *L2Book) MatchesTop(bids, asks []market.Level, depth int) bool {
	eq := func(mine, theirs []market.Level) bool {
		mine, theirs = mine[:min(depth, len(mine))], theirs[:min(depth, len(theirs))]
		if len(mine) != len(theirs) {
			return false
		}
		for i := range mine {
			if !mine[i].Price.Equal(theirs[i].Price) || !mine[i].Quantity.Equal(theirs[i].Quantity) {
				return false
			}
		}
		return true
	}
	return eq(b.bids, bids) && eq(b.asks, asks)
}

var (
	_ BookSync = (*ChecksumSync)(nil)
	_ BookSync = (*ChainSync)(nil)
	_ BookSync = (*UpdateIDSync)(nil)
	_ BookSync = (*UnsequencedSync)(nil)
	_ BookSync = (*TimeOrderedSync)(nil)
)
