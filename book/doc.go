// Package book is the venue-independent book builder: it rebuilds every
// venue's L2 book from the book messages of market.events and publishes
// the verified books as data.
//
//   - market.books (compacted, keyed exchange:SYMBOL): a venue's top-N book
//     with the venue sequence and exchange time it reflects and whether its
//     checksum was verified; published on a cadence per changed book and at
//     once on a snapshot, a gap or a resync. A book that is not known to be
//     right is published as RESYNCING with no levels, never as levels.
//   - market.bbo (keyed by the normalized SYMBOL): each venue's best bid
//     and ask on change, and the consolidated best across venues (which
//     venue holds each side) for every symbol two or more venues list.
//
// The invariant: a published book equals the venue's book at the sequence it
// carries. The builder trusts what ingest established (the venue's
// BookSync applied only messages that follow the book; ingest writes a
// resync marker when it drops any) and checks again what the messages
// allow: a snapshot resets the book, a chained venue's updates must follow
// the chain (a break marks the book resyncing until the next snapshot),
// and a crossed book is counted and logged once per episode.
//
// It owns its consumer group over market.events and market.bbo; the
// committed offset of a partition is where a new owner must replay from to
// rebuild it (the oldest snapshot a live book of it rests on), and a new
// owner publishes nothing of a partition until it has replayed to the end
// offset it found on assignment (docs/ARCHITECTURE.md). It does not touch
// market.events, the candles or the supervisor's state.
package book
