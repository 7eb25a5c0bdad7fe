package poloniex

import (
	"errors"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

func testParser() *parser {
	return &parser{exchange: Name, symbols: map[string]bool{"BTC_USDT": true}, now: func() int64 { return 1700000000123456 }}
}

// Frames as Poloniex documents them (PROTOCOL.md), every normalized field checked.
func TestParseGolden(t *testing.T) {
	p := testParser()
	evs, err := p.parse([]byte(`{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"364.89973","quantity":"0.017","takerSide":"sell","createTime":1661120814818,"price":"21464.69","id":"60183607","ts":1661120814823},{"symbol":"BTC_USDT","amount":"13.41634893","quantity":"0.000537","takerSide":"buy","createTime":1676950548834,"price":"24983.89","id":"62486976","ts":1676950548839}]}`))
	if err != nil || len(evs) != 2 {
		t.Fatalf("trades: %d events, %v", len(evs), err)
	}
	want := market.Trade{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", TradeID: "60183607",
		Price: market.MustDecimal("21464.69"), Quantity: market.MustDecimal("0.017"), QuoteQuantity: market.MustDecimal("364.89973"), HasQuoteQty: true,
		Side: market.SideSell, ExchangeTimeUs: 1661120814818000, ReceivedTimeUs: 1700000000123456}
	if *evs[0].Trade != want {
		t.Fatalf("trade 0:\n got %+v\nwant %+v", *evs[0].Trade, want)
	}
	// quantity is the base amount, amount the quote amount: never swapped.
	if tr := evs[1].Trade; tr.Quantity.String() != "0.000537" || tr.QuoteQuantity.String() != "13.41634893" || tr.Side != market.SideBuy || tr.TradeID != "62486976" {
		t.Fatalf("trade 1: %+v", *tr)
	}

	evs, err = p.parse([]byte(`{"channel":"ticker","data":[{"symbol":"BTC_USDT","startTime":1677280800000,"open":"23154.32","high":"23212.21","low":"22761.01","close":"23148.86","quantity":"105.179566","amount":"2423161.17436702","tradeCount":17582,"dailyChange":"-0.0002","markPrice":"23151.09","closeTime":1677367197924,"ts":1677367251090}]}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("ticker: %v", err)
	}
	tk := evs[0].Ticker
	if tk.Last.String() != "23148.86" || tk.Open.String() != "23154.32" || tk.High.String() != "23212.21" || tk.Low.String() != "22761.01" ||
		tk.BaseVolume.String() != "105.179566" || tk.QuoteVolume.String() != "2423161.17436702" || tk.TradeCount != 17582 ||
		tk.DailyChange.String() != "-0.0002" || tk.MarkPrice.String() != "23151.09" || tk.WindowStartUs != 1677280800000000 ||
		tk.ExchangeTimeUs != 1677367251090000 || !tk.HasOHLC || !tk.HasVolume || !tk.HasTradeCount || tk.HasBBO || tk.Symbol != "BTC-USDT" {
		t.Fatalf("ticker: %+v", *tk)
	}

	evs, err = p.parse([]byte(`{"channel":"book_lv2","data":[{"symbol":"BTC_USDT","createTime":1677368876253,"asks":[["5.65","0.02"],["5.7","1"]],"bids":[["6.16","0.6"]],"lastId":164148724,"id":164148725,"ts":1677368876316}],"action":"snapshot"}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("book snapshot: %v", err)
	}
	b := evs[0].Book
	if !b.Snapshot || b.Sequence != 164148725 || b.PrevSequence != 164148724 || len(b.Asks) != 2 || b.Asks[1].Price.String() != "5.7" ||
		b.Bids[0].Quantity.String() != "0.6" || b.ExchangeTimeUs != 1677368876253000 {
		t.Fatalf("book snapshot: %+v", *b)
	}
	evs, err = p.parse([]byte(`{"channel":"book_lv2","data":[{"symbol":"BTC_USDT","createTime":1677368876882,"asks":[["6.35","3"]],"bids":[["5.65","0"]],"lastId":164148725,"id":164148726,"ts":1677368876890}],"action":"update"}`))
	if err != nil || evs[0].Book.Snapshot || evs[0].Book.PrevSequence != 164148725 || !evs[0].Book.Bids[0].Quantity.IsZero() {
		t.Fatalf("book update: %+v %v", evs, err)
	}

	for _, ctl := range []string{`{"event":"pong"}`, `{"event":"subscribe","channel":"trades","symbols":["BTC_USDT"]}`} {
		if evs, err := p.parse([]byte(ctl)); err != nil || len(evs) != 0 {
			t.Fatalf("%s: %v %v", ctl, evs, err)
		}
	}
}

func TestParseBadInput(t *testing.T) {
	p := testParser()
	for _, c := range []struct{ frame, kind string }{
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT"`, "malformed"},
		{`[1,2,3]`, "malformed"},
		{`{"channel":"mystery","data":[{"symbol":"BTC_USDT"}]}`, "unknown_channel"},
		{`{"event":"surprise"}`, "unknown_event"},
		{`{"event":"error","message":"Invalid request"}`, "venue_error"},
		{`{"channel":"trades","data":[]}`, "empty"},
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"0.1","takerSide":"buy","createTime":1,"price":"1e5","id":"1"}]}`, "bad_trade"},
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"0.1","takerSide":"buy","createTime":1,"price":"10"}]}`, "bad_trade"},
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"-0.1","takerSide":"buy","createTime":1,"price":"10","id":"1"}]}`, "bad_trade"},
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"0.1","takerSide":"up","createTime":1,"price":"10","id":"1"}]}`, "bad_trade"},
		{`{"channel":"trades","data":[{"symbol":"DOGE_USDT","quantity":"0.1","takerSide":"buy","createTime":1,"price":"10","id":"1"}]}`, "bad_trade"},
		{`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"0.1","takerSide":"buy","createTime":1,"price":"10","id":"1x"}]}`, "bad_trade"},
		{`{"channel":"book_lv2","action":"update","data":[{"symbol":"BTC_USDT","asks":[["x","1"]],"bids":[],"lastId":1,"id":2}]}`, "bad_book_lv2"},
		{`{"channel":"book_lv2","action":"sideways","data":[{"symbol":"BTC_USDT","asks":[],"bids":[],"lastId":1,"id":2}]}`, "bad_book_lv2"},
		{`{"channel":"ticker","data":[{"symbol":"BTC_USDT","close":"-5","ts":1}]}`, "bad_ticker"},
	} {
		evs, err := p.parse([]byte(c.frame))
		var fe *exchange.FrameError
		if !errors.As(err, &fe) || fe.Kind != c.kind || len(evs) != 0 {
			t.Errorf("%s: events %v, error %v; want kind %s", c.frame, evs, err, c.kind)
		}
	}
	// One bad item does not spoil the good one next to it.
	evs, err := p.parse([]byte(`{"channel":"trades","data":[{"symbol":"BTC_USDT","quantity":"0.1","takerSide":"buy","createTime":1,"price":"NaN","id":"1"},{"symbol":"BTC_USDT","quantity":"0.2","takerSide":"sell","createTime":2,"price":"10","id":"2"}]}`))
	if err == nil || len(evs) != 1 || evs[0].Trade.TradeID != "2" {
		t.Fatalf("mixed frame: %v %v", evs, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"channel":"trades","data":[{"symbol":"BTC_USDT","amount":"364.89973","quantity":"0.017","takerSide":"sell","createTime":1661120814818,"price":"21464.69","id":"60183607","ts":1661120814823}]}`,
		`{"channel":"book_lv2","data":[{"symbol":"BTC_USDT","createTime":1677368876253,"asks":[["5.65","0.02"]],"bids":[["6.16","0.6"]],"lastId":164148724,"id":164148725,"ts":1677368876316}],"action":"snapshot"}`,
		`{"channel":"ticker","data":[{"symbol":"BTC_USDT","startTime":1677280800000,"open":"23154.32","high":"23212.21","low":"22761.01","close":"23148.86","quantity":"105.179566","amount":"2423161.17436702","tradeCount":17582,"dailyChange":"-0.0002","markPrice":"23151.09","closeTime":1677367197924,"ts":1677367251090}]}`,
		`{"event":"pong"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, _ := p.parse(raw)
		for _, ev := range evs {
			switch {
			case ev.Trade != nil:
				if ev.Trade.Price.Sign() <= 0 || ev.Trade.Quantity.Sign() <= 0 || ev.Trade.TradeID == "" || ev.Trade.Side == market.SideUnknown {
					t.Fatalf("invalid trade passed: %+v", *ev.Trade)
				}
			case ev.Book != nil:
				for _, l := range append(ev.Book.Bids, ev.Book.Asks...) {
					if l.Price.Sign() <= 0 || l.Quantity.Sign() < 0 {
						t.Fatalf("invalid level passed: %+v", l)
					}
				}
			case ev.Ticker != nil:
				if ev.Ticker.Last.Sign() <= 0 {
					t.Fatalf("invalid ticker passed: %+v", *ev.Ticker)
				}
			default:
				t.Fatal("empty event")
			}
		}
	})
}

// A meme coin's 24 h volume beyond 64 bits at its scale is exact, not a
// dropped event (decimal(38,18) holds it).
func TestParseWideVolume(t *testing.T) {
	p := testParser()
	evs, err := p.parse([]byte(`{"channel":"ticker","data":[{"symbol":"BTC_USDT","startTime":1677280800000,"open":"0.0000012","high":"0.0000013","low":"0.0000011","close":"0.0000012","quantity":"12345678901234.123456","amount":"98765432109876543.123456789","tradeCount":17582,"dailyChange":"-0.0002","markPrice":"0.0000012","closeTime":1677367197924,"ts":1677367251090}]}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	tk := evs[0].Ticker
	if tk.BaseVolume.String() != "12345678901234.123456" || tk.QuoteVolume.String() != "98765432109876543.123456789" {
		t.Fatalf("volumes %s %s", tk.BaseVolume, tk.QuoteVolume)
	}
}
