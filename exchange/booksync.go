package exchange

import "github.com/tickertape/tickertape/market"

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
type ChainSync struct {
	seq    int64
	synced bool
}

// Check implements BookSync.
func (s *ChainSync) Check(u *market.BookUpdate) Verdict {
	switch {
	case u.Snapshot:
		s.seq, s.synced = u.Sequence, true
		return Apply
	case !s.synced:
		return Skip
	case u.PrevSequence == s.seq:
		s.seq = u.Sequence
		return Apply
	case u.Sequence <= s.seq && u.Sequence > 0:
		return Skip // a duplicate or an older message
	}
	return Gap
}

// Reset implements BookSync.
func (s *ChainSync) Reset() { s.synced = false }

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

var (
	_ BookSync = (*ChainSync)(nil)
	_ BookSync = (*UpdateIDSync)(nil)
	_ BookSync = (*UnsequencedSync)(nil)
	_ BookSync = (*TimeOrderedSync)(nil)
)
