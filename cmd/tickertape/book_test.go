package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/market"
)

func TestBookUsage(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"book", "--help"}, 0, "tickertape book --consolidated BTC-USDT"},
		{[]string{"book", "BTC-USDT"}, 2, "book needs --exchange E (or --consolidated)"},
		{[]string{"book", "--exchange", "binance"}, 2, "book needs one SYMBOL"},
		{[]string{"book", "--exchange", "binance", "BTC-USDT", "--levels", "0"}, 2, "--levels 0"},
		{[]string{"process", "--no-books", "--books-only"}, 2, "exclude each other"},
		{[]string{"process", "--book-depth", "0"}, 2, "--book-depth 0"},
		{[]string{"process", "--help"}, 0, "--books-only"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.contains) {
			t.Errorf("%v: exit %d, want %d with %q; got:\n%s%s", c.args, code, c.code, c.contains, out.String(), errb.String())
		}
	}
}

func TestRenderBook(t *testing.T) {
	d := market.MustDecimal
	b := market.Book{Exchange: "kraken-synthetic", Symbol: "BTC-USD", Synced: true, Sequence: 0, ChecksumVerified: true, ExchangeTimeUs: 1700000000123456,
		Bids: []market.Level{{Price: d("100.5"), Quantity: d("2")}, {Price: d("100"), Quantity: d("1")}}, Asks: []market.Level{{Price: d("101"), Quantity: d("0.5")}}}
	var w bytes.Buffer
	renderBook(&w, b, 10)
	want := "kraken-synthetic BTC-USD  sequence 0  2023-11-14T22:13:20.123456Z  checksum verified\nspread 0.5\n" +
		"          BID SIZE                BID | ASK                ASK SIZE          \n" +
		"                 2              100.5 | 101                0.5               \n" +
		"                 1                100 |                                      \n"
	if w.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", w.String(), want)
	}
	w.Reset()
	renderBook(&w, market.Book{Exchange: "x", Symbol: "A-B"}, 10)
	if !strings.Contains(w.String(), "RESYNCING") {
		t.Fatalf("a resyncing book: %q", w.String())
	}
	w.Reset()
	q := market.BBO{Symbol: "BTC-USD", Consolidated: true, BidExchange: "a", BidPrice: d("101"), BidSize: d("1"), HasBid: true, AskExchange: "b", AskPrice: d("101"), AskSize: d("2"), HasAsk: true}
	books := map[string]market.Book{
		"a": {Exchange: "a", Synced: true, Bids: []market.Level{{Price: d("101"), Quantity: d("1")}}},
		"b": {Exchange: "b", Synced: true, Asks: []market.Level{{Price: d("101"), Quantity: d("2")}}, Bids: []market.Level{{Price: d("99"), Quantity: d("3")}}},
		"c": {Exchange: "c"},
	}
	renderConsolidated(&w, "BTC-USD", q, books, 5)
	for _, s := range []string{"best bid 101 x 1 on a | best ask 101 x 2 on b", "crossed across venues", "resyncing (left out): c", "b                                 3             99 |"} {
		if !strings.Contains(w.String(), s) {
			t.Fatalf("consolidated view lacks %q:\n%s", s, w.String())
		}
	}
}
