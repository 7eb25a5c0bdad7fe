package bitstamp

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// offlineSession is a session without a connection: frames are handed to
// frame() directly. Its REST points at a closed loopback port and its
// context is cancelled, so a snapshot it requests is never fetched.
func offlineSession() *session {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &session{c: New(Config{RESTURL: "http://127.0.0.1:1"}), ctx: ctx, cancel: cancel, p: testParser(),
		pending: map[string]*pendingBook{}, books: map[string]*checkedBook{}, lastSnap: map[string]time.Time{}, books_: true}
}

func bookFrame(ch string, us int64, bids, asks string) []byte {
	return []byte(fmt.Sprintf(`{"event":"data","channel":"%s_btcusd","data":{"microtimestamp":"%d","bids":[%s],"asks":[%s]}}`, ch, us, bids, asks))
}

func kinds(evs []exchange.Event) string {
	s := ""
	for _, e := range evs {
		switch {
		case e.Book != nil:
			s += fmt.Sprintf("book@%d ", e.Book.ExchangeTimeUs)
		case e.Gap != nil:
			s += "gap "
		case e.Ticker != nil:
			s += "ticker "
		case e.Trade != nil:
			s += "trade "
		}
	}
	return s
}

// TestBookCheck: a diff is published once the order_book snapshot of its
// microtimestamp agrees with the book (whichever comes first); a diff whose
// snapshot disagrees, or that crosses the book, is not published: the
// session reports a gap and buffers the symbol's diffs for a new snapshot.
func TestBookCheck(t *testing.T) {
	s := offlineSession()
	defer s.wg.Wait()
	s.pending["btcusd"] = &pendingBook{}
	snap := &market.BookUpdate{Exchange: Name, Symbol: "BTC-USD", VenueSymbol: "btcusd", Snapshot: true, ExchangeTimeUs: 100,
		Bids: []market.Level{{Price: d("99"), Quantity: d("1")}}, Asks: []market.Level{{Price: d("101"), Quantity: d("1")}}}
	if got := kinds(s.applySnapshot(snapResult{"btcusd", snap})); got != "book@100 " {
		t.Fatalf("snapshot: %s", got)
	}
	step := func(raw []byte, want string) {
		t.Helper()
		evs, err := s.frame(raw)
		if err != nil || kinds(evs) != want {
			t.Fatalf("%s: %q %v, want %q", raw, kinds(evs), err, want)
		}
	}
	// Diff first, then its snapshot: held, then published.
	step(bookFrame("diff_order_book", 101, `["99","2"]`, ``), "")
	step(bookFrame("order_book", 101, `["99","2"]`, `["101","1"]`), "book@101 ")
	// Snapshot first, then its diff: published at once.
	step(bookFrame("order_book", 102, `["99","2"]`, `["100.5","3"],["101","1"]`), "")
	step(bookFrame("diff_order_book", 102, ``, `["100.5","3"]`), "book@102 ")
	// A diff whose snapshot never comes is released by the next frame.
	step(bookFrame("diff_order_book", 103, `["98","1"]`, ``), "")
	step([]byte(`{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}`), "book@103 ")
	// An old diff passes through (the supervisor's TimeOrderedSync drops it).
	step(bookFrame("diff_order_book", 90, `["1","1"]`, ``), "book@90 ")
	// A lost diff: the next snapshot disagrees; the held diff is dropped.
	step(bookFrame("diff_order_book", 105, `["99","5"]`, ``), "")
	step(bookFrame("order_book", 105, `["99","5"],["98.5","1"],["98","1"]`, `["100.5","3"],["101","1"]`), "gap ")
	if s.pending["btcusd"] == nil || s.books["btcusd"] != nil {
		t.Fatal("after a failed check the book is not waiting for a new snapshot")
	}
	step(bookFrame("diff_order_book", 106, `["99","6"]`, ``), "") // buffered
	if n := len(s.pending["btcusd"].buf); n != 1 {
		t.Fatalf("%d diffs buffered", n)
	}

	// A diff that crosses the book is a loss too.
	delete(s.pending, "btcusd")
	s.pending["btcusd"] = &pendingBook{}
	s.applySnapshot(snapResult{"btcusd", snap})
	step(bookFrame("diff_order_book", 200, `["101.5","1"]`, ``), "gap ")
}

// TestRequestReconnect: bts:request_reconnect is one roll-over, however
// often it is repeated.
func TestRequestReconnect(t *testing.T) {
	s := offlineSession()
	for i, want := range []int{1, 0} {
		evs, err := s.frame([]byte(`{"event":"bts:request_reconnect","channel":"","data":""}`))
		n := 0
		for _, e := range evs {
			if e.RollOver != nil {
				n++
			}
		}
		if err != nil || n != want {
			t.Fatalf("request %d: %d roll-overs, want %d (%v)", i, n, want, err)
		}
	}
}
