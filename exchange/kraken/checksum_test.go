package kraken

import (
	"testing"

	"github.com/tickertape/tickertape/exchange"
)

// guideSnapshot is the complete worked example of Kraken's "Spot Websockets
// (v2) Book Checksum" guide: a BTC/USD book of 10 levels a side, prices and
// quantities as strings at the pair's precision (1 and 8 decimals), and the
// checksum the guide says it has, 3310070434.
// Source: https://docs.kraken.com/api/docs/guides/spot-ws-book-v2
// (now https://docs.kraken.com/exchange/guides/websockets/book-checksum-v2).
const guideSnapshot = `{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD",` +
	`"bids":[{"price":"45283.5","qty":"0.10000000"},{"price":"45283.4","qty":"1.54582015"},{"price":"45282.1","qty":"0.10000000"},` +
	`{"price":"45281.0","qty":"0.10000000"},{"price":"45280.3","qty":"1.54592586"},{"price":"45279.0","qty":"0.07990000"},` +
	`{"price":"45277.6","qty":"0.03310103"},{"price":"45277.5","qty":"0.30000000"},{"price":"45277.3","qty":"1.54602737"},` +
	`{"price":"45276.6","qty":"0.15445238"}],` +
	`"asks":[{"price":"45285.2","qty":"0.00100000"},{"price":"45286.4","qty":"1.54571953"},{"price":"45286.6","qty":"1.54571109"},` +
	`{"price":"45289.6","qty":"1.54560911"},{"price":"45290.2","qty":"0.15890660"},{"price":"45291.8","qty":"1.54553491"},` +
	`{"price":"45294.7","qty":"0.04454749"},{"price":"45296.1","qty":"0.35380000"},{"price":"45297.5","qty":"0.09945542"},` +
	`{"price":"45299.5","qty":"0.18772827"}],"checksum":3310070434}]}`

// guideChecksum is the value the guide gives for guideSnapshot.
const guideChecksum = 3310070434

// TestChecksumGuideExample reproduces the guide's full example: the
// parser reads the frame, Checksum of its book is the documented value, and
// ChecksumSync (what the supervisor runs) accepts the snapshot; one changed
// quantity in the book, or a top-10 order other than the documented one,
// gives another value.
func TestChecksumGuideExample(t *testing.T) {
	p := newTestParser(t)
	evs, _, err := p.parse([]byte(guideSnapshot))
	if err != nil || len(evs) != 1 || evs[0].Book == nil {
		t.Fatalf("guide snapshot: %v %v", evs, err)
	}
	u := evs[0].Book
	if len(u.Bids) != 10 || len(u.Asks) != 10 || !u.HasChecksum || u.Checksum != guideChecksum {
		t.Fatalf("guide snapshot parsed as %+v", u)
	}
	if got := Checksum(u.Bids, u.Asks); got != guideChecksum {
		t.Fatalf("Checksum of the guide's book = %d, the guide says %d", got, guideChecksum)
	}
	sync := &exchange.ChecksumSync{Depth: 10, Sum: Checksum}
	if v := sync.Check(u); v != exchange.Apply {
		t.Fatalf("ChecksumSync refused the guide's snapshot: verdict %d", v)
	}
	bids, asks := sync.Book()
	if bids[0].Price.String() != "45283.5" || asks[9].Quantity.String() != "0.18772827" {
		t.Fatalf("verified book: best bid %s, 10th ask qty %s", bids[0].Price, asks[9].Quantity)
	}

	changed := append(u.Asks[:0:0], u.Asks...)
	changed[9].Quantity = lv("1", "0.18772828").Quantity
	if Checksum(u.Bids, changed) == guideChecksum {
		t.Fatal("a changed 10th ask quantity gives the same checksum")
	}
	if Checksum(u.Asks, u.Bids) == guideChecksum {
		t.Fatal("bids and asks swapped give the same checksum")
	}
}
