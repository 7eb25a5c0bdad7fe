package bitstamp

import (
	"errors"
	"strconv"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

const recv = 1700000000000000

func testParser() *parser {
	return newParser(Name, []exchange.Market{{VenueSymbol: "btcusd", Symbol: "BTC-USD"}, {VenueSymbol: "ethusd", Symbol: "ETH-USD"}},
		func() int64 { return recv })
}

func d(s string) market.Decimal { return market.MustDecimal(s) }

func kind(err error) string {
	var fe *exchange.FrameError
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}

// TestParseControl: the control frames of "WebSocket API v2"
// (https://www.bitstamp.net/websocket/v2/, sections Subscriptions,
// Heartbeat and Forced reconnection).
func TestParseControl(t *testing.T) {
	p := testParser()
	for _, c := range []struct {
		frame string
		check func(frame) bool
	}{
		{`{"event":"bts:subscription_succeeded","channel":"live_trades_btcusd","data":{}}`, func(f frame) bool { return f.ack == "live_trades_btcusd" }},
		{`{"event":"bts:unsubscription_succeeded","channel":"live_trades_btcusd","data":{}}`, func(f frame) bool { return f.ack == "" }},
		{`{"event":"bts:heartbeat","channel":"","data":{"status":"success"}}`, func(f frame) bool { return f.heartbeat }},
		{`{"event":"bts:request_reconnect","channel":"","data":""}`, func(f frame) bool { return f.reconnect }},
	} {
		evs, fr, err := p.parse([]byte(c.frame))
		if err != nil || len(evs) != 0 || !c.check(fr) {
			t.Errorf("%s: %v %+v %v", c.frame, evs, fr, err)
		}
	}
	_, _, err := p.parse([]byte(`{"event":"bts:error","channel":"","data":{"code":null,"message":"Bad subscription string."}}`))
	if kind(err) != "venue_error" {
		t.Fatalf("bts:error: %v", err)
	}
}

// TestParseTrade: the live_trades frame as cryptofeed's Bitstamp handler
// quotes a real one (github.com/bmoscon/cryptofeed,
// cryptofeed/exchanges/bitstamp.py, docstring of _trades), fields as the
// "Live ticker" table of https://www.bitstamp.net/websocket/v2/ lists them.
// Its float amount 0.014140160000000001 is not the exact amount_str
// 0.01414016: only the _str fields reach the trade.
func TestParseTrade(t *testing.T) {
	p := testParser()
	evs, _, err := p.parse([]byte(`{"data":{"microtimestamp":"1562650233964229","amount":0.014140160000000001,"buy_order_id":3709484695,"sell_order_id":3709484799,` +
		`"amount_str":"0.01414016","price_str":"12700.00","timestamp":"1562650233","price":12700.0,"type":1,"id":93215787},"event":"trade","channel":"live_trades_btcusd"}`))
	if err != nil || len(evs) != 1 || evs[0].Trade == nil {
		t.Fatalf("trade: %v %v", evs, err)
	}
	want := market.Trade{Exchange: "bitstamp", Symbol: "BTC-USD", VenueSymbol: "btcusd", TradeID: "93215787", Price: d("12700.00"), Quantity: d("0.01414016"),
		Side: market.SideSell, ExchangeTimeUs: 1562650233964229, ReceivedTimeUs: recv}
	if *evs[0].Trade != want {
		t.Fatalf("trade\n got %+v\nwant %+v", *evs[0].Trade, want)
	}
	if evs[0].Trade.Quantity.String() != "0.01414016" || evs[0].Trade.Price.String() != "12700.00" {
		t.Fatalf("not the exact text: %s at %s", evs[0].Trade.Quantity, evs[0].Trade.Price)
	}
}

// TestFloatsDoNotLeak: amount and price are floats that round otherwise
// (and are even wrong, or absent); the trade has exactly the _str values.
func TestFloatsDoNotLeak(t *testing.T) {
	p := testParser()
	for _, c := range []struct{ floats, qty, price string }{
		{`"amount":0.30000000000000004,"price":38416.000000000004`, "0.30000000", "38416"},
		{`"amount":1e-9,"price":1e300`, "0.00000001", "0.1"},
		{`"amount":"oops","price":null`, "123456789.12345678", "99999.99"},
		{``, "0.1", "3"},
	} {
		frame := `{"event":"trade","channel":"live_trades_ethusd","data":{"id":7,` + c.floats
		if c.floats != "" {
			frame += ","
		}
		frame += `"amount_str":"` + c.qty + `","price_str":"` + c.price + `","type":0,"microtimestamp":"1643643584587000"}}`
		evs, _, err := p.parse([]byte(frame))
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %v %v", frame, evs, err)
		}
		tr := evs[0].Trade
		if tr.Quantity.String() != c.qty || tr.Price.String() != c.price || tr.Side != market.SideBuy || tr.Symbol != "ETH-USD" {
			t.Fatalf("%s: got %s at %s (%v), want %s at %s", frame, tr.Quantity, tr.Price, tr.Side, c.qty, c.price)
		}
	}
}

// TestParseBooks: diff_order_book and order_book frames in the shape of the
// "Live full order book" and "Live order book" tables of
// https://www.bitstamp.net/websocket/v2/ (timestamp, microtimestamp, bids
// and asks as [price, amount] strings; a diff's amount 0 removes).
func TestParseBooks(t *testing.T) {
	p := testParser()
	evs, fr, err := p.parse([]byte(`{"data":{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.50000000"],["38400","0"]],` +
		`"asks":[["38420","1.25000000"]]},"channel":"diff_order_book_btcusd","event":"data"}`))
	if err != nil || len(evs) != 1 || fr.diff != "btcusd" {
		t.Fatalf("diff: %v %+v %v", evs, fr, err)
	}
	u := evs[0].Book
	if u.Exchange != "bitstamp" || u.Symbol != "BTC-USD" || u.VenueSymbol != "btcusd" || u.Snapshot || u.ExchangeTimeUs != 1643643584684047 ||
		len(u.Bids) != 2 || !u.Bids[1].Quantity.IsZero() || u.Bids[0].Quantity.String() != "0.50000000" || len(u.Asks) != 1 || u.ReceivedTimeUs != recv {
		t.Fatalf("diff %+v", *u)
	}

	top := `{"data":{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.50000000"],["38410","2.00000000"]],` +
		`"asks":[["38420","1.25000000"],["38421","0.01000000"]]},"channel":"order_book_btcusd","event":"data"}`
	evs, fr, err = p.parse([]byte(top))
	if err != nil || len(evs) != 0 || fr.top == nil || fr.top.sym != "btcusd" || fr.top.timeUs != 1643643584684047 || len(fr.top.bids) != 2 {
		t.Fatalf("order_book before any trade: %v %+v %v (no ticker: no last price yet)", evs, fr, err)
	}
	p.symbols["btcusd"].last, p.symbols["btcusd"].hasLast = d("38416"), true
	evs, _, err = p.parse([]byte(top))
	if err != nil || len(evs) != 1 || evs[0].Ticker == nil {
		t.Fatalf("order_book: %v %v", evs, err)
	}
	want := market.Ticker{Exchange: "bitstamp", Symbol: "BTC-USD", VenueSymbol: "btcusd", Last: d("38416"), BestBid: d("38416"), BestBidSize: d("0.50000000"),
		BestAsk: d("38420"), BestAskSize: d("1.25000000"), HasBBO: true, ExchangeTimeUs: 1643643584684047, ReceivedTimeUs: recv}
	if *evs[0].Ticker != want {
		t.Fatalf("ticker\n got %+v\nwant %+v", *evs[0].Ticker, want)
	}
	if evs, _, _ := p.parse([]byte(top)); len(evs) != 0 {
		t.Fatalf("an unchanged best bid/ask gave another ticker: %v", evs)
	}
}

// TestParseREST: the answers of the REST v2 endpoints in the shapes of
// https://www.bitstamp.net/api/ (Order book, Transactions, Trading pairs
// info).
func TestParseREST(t *testing.T) {
	si := &symbolInfo{venue: "btcusd", norm: "BTC-USD"}
	u, err := restBook([]byte(`{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.50000000"],["38410","2.00000000"]],"asks":[["38420","1.25000000"]]}`),
		"bitstamp", si, recv)
	if err != nil || !u.Snapshot || u.ExchangeTimeUs != 1643643584684047 || len(u.Bids) != 2 || len(u.Asks) != 1 || u.VenueSymbol != "btcusd" {
		t.Fatalf("order_book: %+v %v", u, err)
	}
	ts, err := restTrades([]byte(`[{"date":"1643643585","tid":"212337563","amount":"0.01000000","type":"1","price":"38415"},`+
		`{"date":"1643643584","tid":"212337562","amount":"0.00280000","type":"0","price":"38416"}]`), "bitstamp", si, recv)
	if err != nil || len(ts) != 2 {
		t.Fatalf("transactions: %v %v", ts, err)
	}
	want := market.Trade{Exchange: "bitstamp", Symbol: "BTC-USD", VenueSymbol: "btcusd", TradeID: "212337562", Price: d("38416"), Quantity: d("0.00280000"),
		Side: market.SideBuy, ExchangeTimeUs: 1643643584000000, ReceivedTimeUs: recv, Backfilled: true}
	if ts[1] != want || ts[0].Side != market.SideSell {
		t.Fatalf("transactions\n got %+v\nwant %+v", ts[1], want)
	}
	ms, err := restPairs([]byte(`[{"name":"BTC/USD","url_symbol":"btcusd","base_decimals":8,"counter_decimals":0,"instant_order_counter_decimals":2,` +
		`"minimum_order":"10 USD","trading":"Enabled","instant_and_market_orders":"Enabled","description":"Bitcoin / U.S. dollar"}]`))
	if err != nil || len(ms) != 1 || ms[0] != (exchange.Market{VenueSymbol: "btcusd", Symbol: "BTC-USD", Base: "BTC", Quote: "USD", PriceScale: 0, SizeScale: 8, Status: "Enabled"}) {
		t.Fatalf("trading-pairs-info: %+v %v", ms, err)
	}
	for _, bad := range []string{`{"bids":[],"asks":[]}`, `{"microtimestamp":"1","bids":[["2","1"]],"asks":[["1","1"]]}`, `{"microtimestamp":"1","bids":[["2","0"]],"asks":[]}`, `[]`} {
		if _, err := restBook([]byte(bad), "bitstamp", si, recv); err == nil {
			t.Errorf("order_book %s accepted", bad)
		}
	}
	for _, bad := range []string{`{}`, `[{"date":"1","tid":"x","amount":"1","type":"0","price":"1"}]`, `[{"date":"1","tid":"1","amount":"1","type":"2","price":"1"}]`,
		`[{"date":"1","tid":"1","amount":"-1","type":"0","price":"1"}]`} {
		if _, err := restTrades([]byte(bad), "bitstamp", si, recv); err == nil {
			t.Errorf("transactions %s accepted", bad)
		}
	}
	if _, err := restPairs([]byte(`[{"name":"BTCUSD","url_symbol":"btcusd"}]`)); err == nil {
		t.Error("a pair name without / accepted")
	}
}

// TestBadFrames: each unusable frame is a FrameError of the right kind.
func TestBadFrames(t *testing.T) {
	p := testParser()
	for _, c := range []struct{ frame, kind string }{
		{`{`, "malformed"},
		{`[1]`, "malformed"},
		{`{"channel":"live_trades_btcusd"}`, "malformed"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":"x"}`, "malformed"},
		{`{"event":"bts:mystery","channel":""}`, "unknown_event"},
		{`{"event":"data","channel":"live_orders_btcusd","data":{}}`, "unknown_channel"},
		{`{"event":"trade","channel":"live_trades_xrpusd","data":{"id":1,"amount_str":"1","price_str":"1","type":0,"microtimestamp":"1"}}`, "bad_trade"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":{"id":1,"amount":1,"price":1,"type":0,"microtimestamp":"1"}}`, "bad_trade"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":{"id":1,"amount_str":"1e3","price_str":"1","type":0,"microtimestamp":"1"}}`, "bad_trade"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":{"id":1,"amount_str":"0","price_str":"1","type":0,"microtimestamp":"1"}}`, "bad_trade"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":{"id":1,"amount_str":"1","price_str":"1","type":0,"microtimestamp":1}}`, "bad_trade"},
		{`{"event":"trade","channel":"live_trades_btcusd","data":{"id":-1,"amount_str":"1","price_str":"1","type":0,"microtimestamp":"1"}}`, "bad_trade"},
		{`{"event":"data","channel":"diff_order_book_btcusd","data":{"microtimestamp":"1","bids":[["1"]],"asks":[]}}`, "bad_book"},
		{`{"event":"data","channel":"diff_order_book_btcusd","data":{"microtimestamp":"1","bids":[],"asks":[["1","-2"]]}}`, "bad_book"},
		{`{"event":"data","channel":"order_book_btcusd","data":{"microtimestamp":"1","bids":[["3","1"]],"asks":[["2","1"]]}}`, "bad_ticker"},
	} {
		evs, _, err := p.parse([]byte(c.frame))
		if len(evs) != 0 || kind(err) != c.kind {
			t.Errorf("%s: %v, kind %q (%v), want %q", c.frame, evs, kind(err), err, c.kind)
		}
	}
}

func TestVenueSymbol(t *testing.T) {
	for in, want := range map[string]string{"btcusd": "btcusd", "BTC/USD": "btcusd", "BTC-USD": "btcusd", " ETHEUR ": "etheur"} {
		if got := venueSymbol(in); got != want {
			t.Errorf("venueSymbol(%q) = %q, want %q", in, got, want)
		}
	}
	if m := guessMarket("ethusdt"); m.Symbol != "ETH-USDT" {
		t.Errorf("guessMarket(ethusdt) = %+v", m)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"data":{"microtimestamp":"1562650233964229","amount":0.014140160000000001,"amount_str":"0.01414016","price_str":"12700.00","price":12700.0,"type":1,"id":93215787},"event":"trade","channel":"live_trades_btcusd"}`,
		`{"data":{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.5"]],"asks":[["38420","1.25"]]},"channel":"diff_order_book_btcusd","event":"data"}`,
		`{"data":{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.5"]],"asks":[["38420","1.25"]]},"channel":"order_book_btcusd","event":"data"}`,
		`{"event":"bts:subscription_succeeded","channel":"live_trades_btcusd","data":{}}`, `{"event":"bts:request_reconnect","channel":"","data":""}`,
		`{"event":"bts:error","channel":"","data":{"message":"x"}}`, `[`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	p.symbols["btcusd"].hasLast = true
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, fr, err := p.parse(b)
		if err != nil && len(evs) > 0 {
			t.Fatalf("events returned with an error: %v", err)
		}
		for _, ev := range evs {
			if tr := ev.Trade; tr != nil && (tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.TradeID == "" || tr.Side == market.SideUnknown) {
				t.Fatalf("bad trade accepted: %+v", tr)
			}
			if u := ev.Book; u != nil && u.ExchangeTimeUs <= 0 {
				t.Fatalf("book update without a time accepted: %+v", u)
			}
			if tk := ev.Ticker; tk != nil && tk.BestBid.Cmp(tk.BestAsk) >= 0 {
				t.Fatalf("crossed ticker accepted: %+v", tk)
			}
		}
		if fr.top != nil && uncrossed(fr.top.bids, fr.top.asks) != nil {
			t.Fatalf("crossed order_book accepted")
		}
	})
}

// FuzzREST feeds the three REST decoders the same bytes: an error, or
// values within range.
func FuzzREST(f *testing.F) {
	for _, s := range []string{
		`{"timestamp":"1643643584","microtimestamp":"1643643584684047","bids":[["38416","0.5"]],"asks":[["38420","1.25"]]}`,
		`[{"date":"1643643584","tid":"212337562","amount":"0.00280000","type":"0","price":"38416"}]`,
		`[{"name":"BTC/USD","url_symbol":"btcusd","base_decimals":8,"counter_decimals":0,"trading":"Enabled"}]`,
	} {
		f.Add([]byte(s))
	}
	si := &symbolInfo{venue: "btcusd", norm: "BTC-USD"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := restBook(b, "bitstamp", si, recv); err == nil && (!u.Snapshot || u.ExchangeTimeUs <= 0) {
			t.Fatalf("order_book: %+v", u)
		}
		if ts, err := restTrades(b, "bitstamp", si, recv); err == nil {
			for _, tr := range ts {
				if n, err := strconv.ParseInt(tr.TradeID, 10, 64); err != nil || n <= 0 || tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.ExchangeTimeUs <= 0 {
					t.Fatalf("transactions: %+v", tr)
				}
			}
		}
		if ms, err := restPairs(b); err == nil {
			for _, m := range ms {
				if m.VenueSymbol == "" || m.Base == "" || m.Quote == "" {
					t.Fatalf("trading-pairs-info: %+v", m)
				}
			}
		}
	})
}
