package coinbase

import (
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

const recv = 1700000000000000

func testParser() *parser {
	return newParser(Name, []string{"ETH-USD", "BTC-USD", "SOL-USDC"}, func() int64 { return recv })
}

func d(s string) market.Decimal { return market.MustDecimal(s) }

// The example frames of "Advanced Trade WebSocket Channels", compared field
// by field.
func TestParseGolden(t *testing.T) {
	p := testParser()
	evs, fr, err := p.parse([]byte(`{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}`))
	if err != nil || len(evs) != 1 || !fr.hasSeq || fr.seq != 0 {
		t.Fatalf("market_trades: %v %+v %v", evs, fr, err)
	}
	want := market.Trade{Exchange: "coinbase", Symbol: "ETH-USD", VenueSymbol: "ETH-USD", TradeID: "000000000", Price: d("1260.01"), Quantity: d("0.3"),
		Side: market.SideBuy, ExchangeTimeUs: 1565815347265000, ReceivedTimeUs: recv}
	if *evs[0].Trade != want {
		t.Fatalf("trade\n got %+v\nwant %+v", *evs[0].Trade, want)
	}

	evs, _, err = p.parse([]byte(`{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"21932.98","volume_24_h":"16038.28770938","low_24_h":"21835.29","high_24_h":"23011.18","low_52_w":"15460","high_52_w":"48240","price_percent_chg_24_h":"-4.15775596190603","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("ticker: %v %v", evs, err)
	}
	wantTk := market.Ticker{Exchange: "coinbase", Symbol: "BTC-USD", VenueSymbol: "BTC-USD", Last: d("21932.98"), DailyChange: d("-0.0415775596190603"),
		HasDailyChange: true, BestBid: d("21931.98"), BestBidSize: d("8000.21"), BestAsk: d("21933.98"), BestAskSize: d("8038.07770938"), HasBBO: true,
		ExchangeTimeUs: 1675974637167359, ReceivedTimeUs: recv}
	if got := *evs[0].Ticker; !got.DailyChange.Equal(wantTk.DailyChange) {
		t.Fatalf("daily change %s", got.DailyChange)
	} else {
		got.DailyChange = wantTk.DailyChange
		if got != wantTk {
			t.Fatalf("ticker\n got %+v\nwant %+v", got, wantTk)
		}
	}

	evs, fr, err = p.parse([]byte(`{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":7,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"},{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.3","new_quantity":"0.02"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"21921.74","new_quantity":"0"}]}]}`))
	if err != nil || len(evs) != 1 || fr.seq != 7 {
		t.Fatalf("l2_data: %v %v", evs, err)
	}
	u := evs[0].Book
	if u.Exchange != "coinbase" || u.Symbol != "BTC-USD" || u.VenueSymbol != "BTC-USD" || !u.Snapshot || u.Sequence != 7 || len(u.Bids) != 2 ||
		u.Bids[0] != (market.Level{Price: d("21921.73"), Quantity: d("0.06317902")}) || u.Bids[1] != (market.Level{Price: d("21921.3"), Quantity: d("0.02")}) ||
		len(u.Asks) != 1 || u.Asks[0] != (market.Level{Price: d("21921.74"), Quantity: d("0")}) || u.ExchangeTimeUs != 1675974770714964 || u.ReceivedTimeUs != recv {
		t.Fatalf("l2_data %+v", *u)
	}

	if evs, _, err := p.parse([]byte(`{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":0,"events":[{"current_time":"2023-06-23 20:31:56.121961769 +0000 UTC m=+91717.525857105","heartbeat_counter":"3049"}]}`)); err != nil || len(evs) != 0 {
		t.Fatalf("heartbeats: %v %v", evs, err)
	}
	if _, fr, err := p.parse([]byte(`{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":2,"events":[{"subscriptions":{"level2":["BTC-USD"],"heartbeats":[]}}]}`)); err != nil || len(fr.acks) != 2 {
		t.Fatalf("subscriptions: %+v %v", fr, err)
	}
	// Subscriptions to -USDC come back tagged -USD.
	evs, _, err = p.parse([]byte(`{"channel":"market_trades","timestamp":"2023-02-09T20:19:35Z","sequence_num":3,"events":[{"type":"update","trades":[{"trade_id":"5","product_id":"SOL-USD","price":"10","size":"1","side":"SELL","time":"2023-02-09T20:19:35Z"}]}]}`))
	if err != nil || len(evs) != 1 || evs[0].Trade.VenueSymbol != "SOL-USDC" || evs[0].Trade.Symbol != "SOL-USDC" {
		t.Fatalf("USDC alias: %v %v", evs, err)
	}
	// REST: GET /api/v3/brokerage/market/products/{id}/ticker, one trade.
	v, _ := p.fj.Parse(`{"trade_id":"34b080bf","product_id":"BTC-USD","price":"140.91","size":"4","time":"2021-05-31T09:59:59Z","side":"BUY","bid":"291.13","ask":"292.40"}`)
	tr, err := p.restTrade(v, recv)
	if err != nil || tr.TradeID != "34b080bf" || !tr.Backfilled || tr.Price != d("140.91") || tr.Quantity != d("4") || tr.ExchangeTimeUs != 1622455199000000 {
		t.Fatalf("REST trade %+v %v", tr, err)
	}
}

func TestParseBadInput(t *testing.T) {
	p := testParser()
	env := func(ch, events string) string {
		return `{"channel":"` + ch + `","timestamp":"2023-02-09T20:19:35Z","sequence_num":1,"events":` + events + `}`
	}
	for kind, frames := range map[string][]string{
		"malformed":       {`{`, `[]`, `{"channel":"ticker","timestamp":"2023-02-09T20:19:35Z","events":[]}`, env("ticker", `{}`)},
		"unknown_channel": {env("status", `[]`)},
		"venue_error":     {`{"type":"error","message":"failure to subscribe"}`},
		"bad_market_trades": {
			env("market_trades", `[{"trades":[{"trade_id":"1","product_id":"BTC-USD","price":"1e3","size":"1","side":"BUY","time":"2023-02-09T20:19:35Z"}]}]`),
			env("market_trades", `[{"trades":[{"trade_id":"1","product_id":"BTC-USD","price":"1","size":"1","side":"buy","time":"2023-02-09T20:19:35Z"}]}]`),
			env("market_trades", `[{"trades":[{"trade_id":"1","product_id":"XRP-USD","price":"1","size":"1","side":"BUY","time":"2023-02-09T20:19:35Z"}]}]`),
			env("market_trades", `[{"trades":[{"trade_id":"1","product_id":"BTC-USD","price":"1","size":"1","side":"BUY","time":"yesterday"}]}]`),
		},
		"bad_book":   {env("l2_data", `[{"type":"update","product_id":"BTC-USD","updates":[{"side":"middle","price_level":"1","new_quantity":"1"}]}]`)},
		"bad_ticker": {env("ticker", `[{"tickers":[{"product_id":"BTC-USD","price":"1","best_bid":"3","best_bid_quantity":"1","best_ask":"2","best_ask_quantity":"1"}]}]`)},
	} {
		for _, f := range frames {
			evs, _, err := p.parse([]byte(f))
			fe, ok := err.(*exchange.FrameError)
			if len(evs) != 0 || !ok || fe.Kind != kind {
				t.Errorf("%s: %v, %v; want a %s frame error", f, evs, err, kind)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"000000000","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"}]}]}`,
		`{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"21921.73","new_quantity":"0.06317902"}]}]}`,
		`{"channel":"ticker","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"tickers":[{"product_id":"BTC-USD","price":"21932.98","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}`,
		`{"type":"error","message":"x"}`, `{`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _, _ := p.parse(b)
		for _, ev := range evs {
			if tr := ev.Trade; tr != nil && (tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.TradeID == "") {
				t.Fatalf("bad trade accepted: %+v", tr)
			}
			if tk := ev.Ticker; tk != nil && tk.HasBBO && tk.BestBid.Sign() > 0 && tk.BestBid.Cmp(tk.BestAsk) >= 0 {
				t.Fatalf("crossed ticker accepted: %+v", tk)
			}
		}
	})
}
