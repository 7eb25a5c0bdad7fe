package book

import (
	"strconv"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// FuzzBuilder feeds the builder arbitrary sequences of book messages (the
// outside bytes it judges: flags, sequences, levels) and checks its
// invariants after each: no panic; a book's sides stay strictly ordered best
// first without zero quantities; a book that is not synced is published
// without levels; at most Depth levels a side are published.
func FuzzBuilder(f *testing.F) {
	f.Add([]byte{1, 10, 10, 3, 100, 1, 99, 2, 101, 1, 0, 11, 10, 1, 100, 0})
	f.Add([]byte{3, 5, 5, 2, 7, 1, 8, 1, 0, 9, 3, 1, 8, 0, 4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := NewBuilder(3, 10)
		b.Assign(0, 0, 0)
		var off int64
		for len(data) >= 4 {
			flags, seq, prev, n := data[0], int64(data[1]), int64(data[2]), int(data[3]%8)
			data = data[4:]
			u := &market.BookUpdate{Exchange: "v", Symbol: "A-B", Snapshot: flags&1 != 0, Chained: flags&2 != 0, Resync: flags&4 != 0 && flags&1 == 0,
				ChecksumVerified: flags&8 != 0, Sequence: seq, PrevSequence: prev}
			for i := 0; i < n && len(data) >= 2; i++ {
				l := market.Level{Price: market.MustDecimal(itoa(int(data[0] % 32))), Quantity: market.MustDecimal(itoa(int(data[1] % 4)))}
				if data[0]&0x80 != 0 {
					u.Asks = append(u.Asks, l)
				} else {
					u.Bids = append(u.Bids, l)
				}
				data = data[2:]
			}
			var out Outputs
			b.Apply(u, 0, off, off*7, &out)
			b.Tick(off*7, &out)
			off++
			bk := b.Book("v:A-B")
			for i, side := range [][]market.Level{bk.Bids, bk.Asks} {
				for j, l := range side {
					if l.Quantity.IsZero() {
						t.Fatalf("a zero level kept: %v", side)
					}
					if j > 0 && !better(side[j-1].Price, l.Price, i == 0) {
						t.Fatalf("side %d out of order: %v", i, side)
					}
				}
			}
			for _, r := range out.Books {
				if (!r.Synced && len(r.Bids)+len(r.Asks) > 0) || len(r.Bids) > 3 || len(r.Asks) > 3 {
					t.Fatalf("published %+v", r)
				}
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzCommitMetadata feeds arbitrary committed-offset metadata (another
// tool may commit anything for the group) to the parser: no panic, and
// what it accepts is version 1 with every published offset before End.
func FuzzCommitMetadata(f *testing.F) {
	f.Add(`{"v":1,"end":10,"pub":{"v:A-B":3}}`, int64(2))
	f.Add(`{"v":1,"end":1}`, int64(5))
	f.Add(`{"v":2}`, int64(0))
	f.Add(`not json`, int64(0))
	f.Fuzz(func(t *testing.T, s string, from int64) {
		md, ok := parseCommitMetadata(s, from)
		if !ok {
			return
		}
		if md.V != 1 || md.End < from {
			t.Fatalf("accepted %q at %d: %+v", s, from, md)
		}
		for k, off := range md.Pub {
			if off < 0 || off >= md.End {
				t.Fatalf("accepted %q: %s published at %d, end %d", s, k, off, md.End)
			}
		}
	})
}
