package serde

import (
	"context"
	"testing"

	"github.com/tickertape/tickertape/market"
)

// FuzzBookAndBBODecode: arbitrary records of market.books and market.bbo,
// decoded the way the book builder and tickertape book decode them (Decode
// with the market reader schema, then market.BookFromMap / BBOFromMap):
// an error or a value, never a panic, a hang or a huge allocation; and a
// value that decodes re-encodes to the same value.
func FuzzBookAndBBODecode(f *testing.F) {
	s := New(nil)
	s.schemas[1] = market.BookSchema
	s.schemas[2] = market.BBOSchema
	b := market.Book{Exchange: "kraken", Symbol: "BTC-USD", VenueSymbol: "BTC/USD", Synced: true, Sequence: 42, Depth: 2,
		Bids: []market.Level{{Price: market.MustDecimal("100.5"), Quantity: market.MustDecimal("2")}}, SourceOffset: 7}
	q := market.BBO{Symbol: "BTC-USD", Exchange: "x", BidPrice: market.MustDecimal("1"), BidSize: market.MustDecimal("2"), HasBid: true}
	f.Add(market.AppendBook(AppendHeader(nil, 1), &b))
	f.Add(market.AppendBBO(AppendHeader(nil, 2), &q))
	f.Add([]byte("\x00\x00\x00\x00\x01\fkraken\x0eBTC-USD\x0eBTC/USD\x00T\x00\r\xe0\xb6\xb3\xa7d\x00\x00\x00\x00\x00a"))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < HeaderSize || data[0] != 0 {
			return
		}
		data[1], data[2], data[3] = 0, 0, 0
		data[4] = 1 + data[4]%2 // one of the cached schemas: no registry in a fuzz run
		var m map[string]any
		if data[4] == 1 {
			if s.Decode(ctx, data, market.BookSchema, &m) != nil {
				return
			}
			got, err := market.BookFromMap(m)
			if err != nil {
				return
			}
			var m2 map[string]any
			if err := s.Decode(ctx, market.AppendBook(AppendHeader(nil, 1), &got), market.BookSchema, &m2); err != nil {
				t.Fatalf("a re-encoded Book does not decode: %v", err)
			}
			again, err := market.BookFromMap(m2)
			if err != nil || again.Synced != got.Synced || len(again.Bids) != len(got.Bids) || again.Sequence != got.Sequence || again.Key() != got.Key() {
				t.Fatalf("Book round trip: %+v then %+v (%v)", got, again, err)
			}
			return
		}
		if s.Decode(ctx, data, market.BBOSchema, &m) != nil {
			return
		}
		got, err := market.BBOFromMap(m)
		if err != nil {
			return
		}
		var m2 map[string]any
		if err := s.Decode(ctx, market.AppendBBO(AppendHeader(nil, 2), &got), market.BBOSchema, &m2); err != nil {
			t.Fatalf("a re-encoded BBO does not decode: %v", err)
		}
		again, err := market.BBOFromMap(m2)
		if err != nil || !again.BidPrice.Equal(got.BidPrice) || !again.AskSize.Equal(got.AskSize) || again.HasBid != got.HasBid || again.Symbol != got.Symbol {
			t.Fatalf("BBO round trip: %+v then %+v (%v)", got, again, err)
		}
	})
}
