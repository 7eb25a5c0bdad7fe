package binance

import (
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

func testParser() *parser {
	return newParser(Name, []exchange.Market{{VenueSymbol: "BNBBTC", Symbol: "BNB-BTC"}, {VenueSymbol: "BNBUSDT", Symbol: "BNB-USDT"}},
		func() int64 { return 1700000000000000 })
}

func d(s string) market.Decimal { return market.MustDecimal(s) }

// The example frames of "WebSocket Streams for Binance" (web-socket-streams.md),
// each compared field by field.
func TestParseGolden(t *testing.T) {
	p := testParser()
	const recv = 1700000000000000

	evs, _, err := p.parse([]byte(`{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}`))
	if err != nil || len(evs) != 1 || evs[0].Trade == nil {
		t.Fatalf("trade: %v %v", evs, err)
	}
	wantTrade := market.Trade{Exchange: "binance", Symbol: "BNB-BTC", VenueSymbol: "BNBBTC", TradeID: "12345", Price: d("0.001"), Quantity: d("100"),
		Side: market.SideSell, ExchangeTimeUs: 1672515782136000, ReceivedTimeUs: recv}
	if *evs[0].Trade != wantTrade {
		t.Fatalf("trade\n got %+v\nwant %+v", *evs[0].Trade, wantTrade)
	}

	evs, _, err = p.parse([]byte(`{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`))
	if err != nil || len(evs) != 0 {
		t.Fatalf("bookTicker before any trade: %v %v (held back: no last price yet)", evs, err)
	}
	p.symbols["BNBUSDT"].last, p.symbols["BNBUSDT"].hasLast = d("25.36"), true
	evs, _, err = p.parse([]byte(`{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("bookTicker: %v %v", evs, err)
	}
	wantBBO := market.Ticker{Exchange: "binance", Symbol: "BNB-USDT", VenueSymbol: "BNBUSDT", Last: d("25.36"), BestBid: d("25.35190000"),
		BestBidSize: d("31.21000000"), BestAsk: d("25.36520000"), BestAskSize: d("40.66000000"), HasBBO: true, ExchangeTimeUs: recv, ReceivedTimeUs: recv}
	if *evs[0].Ticker != wantBBO {
		t.Fatalf("bookTicker\n got %+v\nwant %+v", *evs[0].Ticker, wantBBO)
	}

	evs, fr, err := p.parse([]byte(`{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`))
	if err != nil || len(evs) != 1 || fr.depth != "BNBBTC" {
		t.Fatalf("depth: %v %v", evs, err)
	}
	u := evs[0].Book
	if u.Exchange != "binance" || u.Symbol != "BNB-BTC" || u.VenueSymbol != "BNBBTC" || u.Snapshot || u.Sequence != 160 || u.PrevSequence != 156 ||
		len(u.Bids) != 1 || u.Bids[0] != (market.Level{Price: d("0.0024"), Quantity: d("10")}) || len(u.Asks) != 1 ||
		u.Asks[0] != (market.Level{Price: d("0.0026"), Quantity: d("100")}) || u.ExchangeTimeUs != 1672515782136000 || u.ReceivedTimeUs != recv {
		t.Fatalf("depth %+v", *u)
	}

	evs, _, err = p.parse([]byte(`{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","p":"0.0015","P":"250.00","w":"0.0018","x":"0.0009","c":"0.0025","Q":"10","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"C":1672515782136,"F":0,"L":18150,"n":18151}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("24hrTicker: %v %v", evs, err)
	}
	wantTk := market.Ticker{Exchange: "binance", Symbol: "BNB-BTC", VenueSymbol: "BNBBTC", Last: d("0.0025"), Open: d("0.0010"), High: d("0.0025"),
		Low: d("0.0010"), HasOHLC: true, BaseVolume: d("10000"), QuoteVolume: d("18"), HasVolume: true, TradeCount: 18151, HasTradeCount: true,
		DailyChange: d("2.5"), HasDailyChange: true, BestBid: d("0.0024"), BestBidSize: d("10"), BestAsk: d("0.0026"), BestAskSize: d("100"), HasBBO: true,
		WindowStartUs: 0, ExchangeTimeUs: 1672515782136000, ReceivedTimeUs: recv}
	if *evs[0].Ticker != wantTk {
		t.Fatalf("24hrTicker\n got %+v\nwant %+v", *evs[0].Ticker, wantTk)
	}

	// REST examples (rest-api.md): order book and historical trades.
	snap, err := restDepth([]byte(`{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}`), "binance", p.symbols["BNBBTC"], recv)
	if err != nil || !snap.Snapshot || snap.Sequence != 1027024 || snap.Bids[0] != (market.Level{Price: d("4.00000000"), Quantity: d("431.00000000")}) ||
		snap.Asks[0] != (market.Level{Price: d("4.00000200"), Quantity: d("12.00000000")}) || snap.Symbol != "BNB-BTC" {
		t.Fatalf("depth snapshot %+v %v", snap, err)
	}
	var fj = p.fj
	v, _ := fj.Parse(`{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}`)
	tr, err := restTrade(v, "binance", p.symbols["BNBBTC"], recv)
	want := market.Trade{Exchange: "binance", Symbol: "BNB-BTC", VenueSymbol: "BNBBTC", TradeID: "28457", Price: d("4.00000100"), Quantity: d("12.00000000"),
		QuoteQuantity: d("48.000012"), HasQuoteQty: true, Side: market.SideSell, ExchangeTimeUs: 1499865549590000, ReceivedTimeUs: recv, Backfilled: true}
	if err != nil || tr != want {
		t.Fatalf("historical trade\n got %+v\nwant %+v (%v)", tr, want, err)
	}

	if _, fr, err := p.parse([]byte(`{"e":"serverShutdown","E":1727712000000}`)); err != nil || !fr.shutdown {
		t.Fatal("serverShutdown not recognized")
	}
}

func TestParseBadInput(t *testing.T) {
	p := testParser()
	for kind, frames := range map[string][]string{
		"malformed":     {`{`, `[1]`, `"x"`},
		"unknown_event": {`{"e":"kline","s":"BNBBTC"}`, `{"s":"BNBBTC"}`},
		"venue_error":   {`{"code":-1121,"msg":"Invalid symbol."}`, `{"error":{"code":2,"msg":"Invalid request"},"id":1}`},
		"bad_trade": {
			`{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":"1e3","q":"1","T":1,"m":true}`,
			`{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":"123456789012345678901.5","q":"1","T":1,"m":true}`,
			`{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":1.5,"q":"1","T":1,"m":true}`,
			`{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":"1","q":"0","T":1,"m":true}`,
			`{"e":"trade","E":1,"s":"BNBBTC","t":1,"p":"1","q":"1","T":1,"m":"yes"}`,
			`{"e":"trade","E":1,"s":"XRPBTC","t":1,"p":"1","q":"1","T":1,"m":true}`,
		},
		"bad_book": {
			`{"e":"depthUpdate","E":1,"s":"BNBBTC","U":9,"u":5,"b":[],"a":[]}`,
			`{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[["1","-1"]],"a":[]}`,
			`{"e":"depthUpdate","E":1,"s":"BNBBTC","U":1,"u":2,"b":[["1"]],"a":[]}`,
		},
		"bad_ticker": {`{"u":1,"s":"BNBBTC","b":"2","B":"1","a":"1","A":"1"}`},
	} {
		for _, f := range frames {
			evs, _, err := p.parse([]byte(f))
			var fe *exchange.FrameError
			if len(evs) != 0 || !asFrameError(err, &fe) || fe.Kind != kind {
				t.Errorf("%s: %v, %v; want a %s frame error", f, evs, err, kind)
			}
		}
	}
}

func asFrameError(err error, fe **exchange.FrameError) bool {
	e, ok := err.(*exchange.FrameError)
	*fe = e
	return ok
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}`,
		`{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`,
		`{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`,
		`{"e":"24hrTicker","E":1672515782136,"s":"BNBBTC","P":"250.00","c":"0.0025","b":"0.0024","B":"10","a":"0.0026","A":"100","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18","O":0,"n":18151}`,
		`{"e":"serverShutdown","E":1}`, `{"code":1}`, `[`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _, err := p.parse(b)
		if err != nil && len(evs) > 0 {
			t.Fatalf("events returned with an error: %v", err)
		}
		for _, ev := range evs {
			if tr := ev.Trade; tr != nil && (tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.TradeID == "") {
				t.Fatalf("bad trade accepted: %+v", tr)
			}
			if u := ev.Book; u != nil && u.PrevSequence >= u.Sequence {
				t.Fatalf("book update with U > u accepted: %+v", u)
			}
		}
	})
}
