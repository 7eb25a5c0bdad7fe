package bybit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

const recv = 1700000000000000

func testParser() *parser {
	return newParser(Name, []exchange.Market{{VenueSymbol: "BTCUSDT", Symbol: "BTC-USDT"}}, func() int64 { return recv })
}

func d(s string) market.Decimal { return market.MustDecimal(s) }

func frameKind(err error) string {
	var fe *exchange.FrameError
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}

// The example frames of Bybit's v5 documentation (github.com/bybit-exchange/docs,
// commit 072c197d0), each with its page, compared field by field.
func TestParseGolden(t *testing.T) {
	p := testParser()

	// https://bybit-exchange.github.io/docs/v5/websocket/public/trade (docs/v5/websocket/public/trade.mdx):
	// the page's one example is a linear one (L, a UUID id); spot sends the same
	// fields without L, and ids are strings either way.
	evs, _, err := p.parse([]byte(`{
    "topic": "publicTrade.BTCUSDT",
    "type": "snapshot",
    "ts": 1672304486868,
    "data": [
        {
            "T": 1672304486865,
            "s": "BTCUSDT",
            "S": "Buy",
            "v": "0.001",
            "p": "16578.50",
            "L": "PlusTick",
            "i": "20f43950-d8dd-5b31-9112-a178eb6023af",
            "BT": false,
            "seq": 1783284617
        }
    ]
}`))
	if err != nil || len(evs) != 1 || evs[0].Trade == nil {
		t.Fatalf("trade: %v %v", evs, err)
	}
	want := market.Trade{Exchange: Name, Symbol: "BTC-USDT", VenueSymbol: "BTCUSDT", TradeID: "20f43950-d8dd-5b31-9112-a178eb6023af",
		Price: d("16578.50"), Quantity: d("0.001"), Side: market.SideBuy, ExchangeTimeUs: 1672304486865000, ReceivedTimeUs: recv}
	if *evs[0].Trade != want {
		t.Fatalf("trade\n got %+v\nwant %+v", *evs[0].Trade, want)
	}

	// https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook (docs/v5/websocket/public/orderbook.mdx),
	// the snapshot tab. As printed it elides levels with "...," and is not
	// JSON: that must be a clear malformed-frame error; without the elisions
	// it parses.
	snapDoc := `{
    "topic": "orderbook.50.BTCUSDT",
    "type": "snapshot",
    "ts": 1672304484978,
    "data": {
        "s": "BTCUSDT",
        "b": [
            ...,
            [
                "16493.50",
                "0.006"
            ],
            [
                "16493.00",
                "0.100"
            ]
        ],
        "a": [
            [
                "16611.00",
                "0.029"
            ],
            [
                "16612.00",
                "0.213"
            ],
            ...,
        ],
    "u": 18521288,
    "seq": 7961638724
    },
    "cts": 1672304484976
}`
	if _, _, err := p.parse([]byte(snapDoc)); frameKind(err) != "malformed" {
		t.Fatalf("the documented snapshot with its elisions: %v, want a malformed-frame error", err)
	}
	snap := strings.NewReplacer("            ...,\n", "", "            ],\n            ...,\n        ],", "            ]\n        ],", "        ],\n    \"u\"", "        ],\n    \"u\"").Replace(snapDoc)
	evs, _, err = p.parse([]byte(snap))
	if err != nil || len(evs) != 1 || evs[0].Book == nil {
		t.Fatalf("snapshot: %v %v\n%s", evs, err, snap)
	}
	u := evs[0].Book
	if !u.Snapshot || u.Sequence != 18521288 || u.Exchange != Name || u.Symbol != "BTC-USDT" || u.VenueSymbol != "BTCUSDT" ||
		len(u.Bids) != 2 || u.Bids[0] != (market.Level{Price: d("16493.50"), Quantity: d("0.006")}) || u.Bids[1] != (market.Level{Price: d("16493.00"), Quantity: d("0.100")}) ||
		len(u.Asks) != 2 || u.Asks[1] != (market.Level{Price: d("16612.00"), Quantity: d("0.213")}) ||
		u.ExchangeTimeUs != 1672304484976000 || u.ReceivedTimeUs != recv {
		t.Fatalf("snapshot %+v", *u)
	}

	// The same page, the delta tab.
	evs, _, err = p.parse([]byte(`{
    "topic": "orderbook.50.BTCUSDT",
    "type": "delta",
    "ts": 1687940967466,
    "data": {
        "s": "BTCUSDT",
        "b": [
            ["30247.20", "30.028"], ["30245.40", "0.224"], ["30242.10", "1.593"], ["30240.30", "1.305"], ["30240.00", "0"]
        ],
        "a": [
            ["30248.70", "0"], ["30249.30", "0.892"], ["30249.50", "1.778"], ["30249.60", "0"], ["30251.90", "2.947"], ["30252.20", "0.659"], ["30252.50", "4.591"]
        ],
        "u": 177400507,
        "seq": 66544703342
    },
    "cts": 1687940967464
}`))
	if err != nil || len(evs) != 1 || evs[0].Book == nil {
		t.Fatalf("delta: %v %v", evs, err)
	}
	u = evs[0].Book
	if u.Snapshot || u.Sequence != 177400507 || len(u.Bids) != 5 || !u.Bids[4].Quantity.IsZero() || u.Bids[4].Price.String() != "30240.00" ||
		len(u.Asks) != 7 || !u.Asks[0].Quantity.IsZero() || u.Asks[6] != (market.Level{Price: d("30252.50"), Quantity: d("4.591")}) ||
		u.ExchangeTimeUs != 1687940967464000 {
		t.Fatalf("delta %+v", *u)
	}

	// https://bybit-exchange.github.io/docs/v5/ws/connect (docs/v5/websocket/wss-authentication.mdx):
	// the public answers to ping and subscribe.
	for _, c := range []struct{ name, frame, op, reqID string }{
		{"spot pong", `{"success": true, "ret_msg": "pong", "conn_id": "0970e817-426e-429a-a679-ff7f55e0b16a", "op": "ping"}`, "ping", ""},
		{"linear pong", `{"success": true, "ret_msg": "pong", "conn_id": "465772b1-7630-4fdc-a492-e003e6f0f260", "req_id": "", "op": "ping"}`, "ping", ""},
		{"option pong", `{"args": ["1672916271846"], "op": "pong"}`, "ping", ""},
		{"spot subscribe", `{"success": true, "ret_msg": "subscribe", "conn_id": "2324d924-aa4d-45b0-a858-7b8be29ab52b", "req_id": "10001", "op": "subscribe"}`, "subscribe", "10001"},
		{"linear subscribe", `{"success": true, "ret_msg": "", "conn_id": "3cd84cb1-4d06-4a05-930a-2efe5fc70f0f", "req_id": "", "op": "subscribe"}`, "subscribe", ""},
	} {
		evs, fr, err := p.parse([]byte(c.frame))
		if err != nil || len(evs) != 0 || fr.reply == nil || fr.reply.op != c.op || fr.reply.reqID != c.reqID || !fr.reply.success {
			t.Errorf("%s: %v %+v %v", c.name, evs, fr.reply, err)
		}
	}
	// The option/spread subscribe answer (COMMAND_RESP) never comes on spot:
	// it is counted as an unknown frame, not taken for an acknowledgement.
	if _, fr, err := p.parse([]byte(`{"success": true, "conn_id": "aa01fbfffe80af37-00000001-000b37b9-7147f432704fd28c-00e1c172", "data": {"failTopics": [], "successTopics": ["orderbook.100.BTC-6JAN23-18000-C"]}, "type": "COMMAND_RESP"}`)); fr.reply != nil || frameKind(err) != "unknown_event" {
		t.Errorf("COMMAND_RESP: %+v %v", fr.reply, err)
	}
}

// u=1 is Bybit's snapshot after a service restart, whatever the type says.
func TestRestartSnapshot(t *testing.T) {
	p := testParser()
	evs, _, err := p.parse([]byte(`{"topic":"orderbook.50.BTCUSDT","ts":2,"type":"delta","data":{"s":"BTCUSDT","b":[["1.0","1"]],"a":[],"u":1,"seq":5},"cts":1}`))
	if err != nil || len(evs) != 1 || !evs[0].Book.Snapshot || evs[0].Book.Sequence != 1 {
		t.Fatalf("%v %v", evs, err)
	}
}

func TestBBOTicker(t *testing.T) {
	p := testParser()
	bbo := `{"topic":"orderbook.1.BTCUSDT","ts":1672304484980,"type":"snapshot","data":{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":18521288,"seq":7961638724},"cts":1672304484976}`
	if evs, _, err := p.parse([]byte(bbo)); err != nil || len(evs) != 0 {
		t.Fatalf("a BBO before any trade: %v %v (held back: no last price yet)", evs, err)
	}
	p.symbols["BTCUSDT"].last, p.symbols["BTCUSDT"].hasLast = d("16500.0"), true
	evs, _, err := p.parse([]byte(bbo))
	if err != nil || len(evs) != 1 || evs[0].Ticker == nil {
		t.Fatalf("%v %v", evs, err)
	}
	want := market.Ticker{Exchange: Name, Symbol: "BTC-USDT", VenueSymbol: "BTCUSDT", Last: d("16500.0"), BestBid: d("16493.50"), BestBidSize: d("0.006"),
		BestAsk: d("16611.00"), BestAskSize: d("0.029"), HasBBO: true, ExchangeTimeUs: 1672304484976000, ReceivedTimeUs: recv}
	if *evs[0].Ticker != want {
		t.Fatalf("\n got %+v\nwant %+v", *evs[0].Ticker, want)
	}
}

// A message with one bad trade keeps the good ones and reports the bad.
func TestPartialTradeFrame(t *testing.T) {
	p := testParser()
	evs, _, err := p.parse([]byte(`{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":2,"data":[` +
		`{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.5","p":"10.1","i":"1","BT":false},{"T":1,"s":"BTCUSDT","S":"Sell","v":"0.5","p":"1e3","i":"2"}]}`))
	if frameKind(err) != "bad_trade" || len(evs) != 1 || evs[0].Trade.TradeID != "1" || evs[0].Trade.Side != market.SideSell {
		t.Fatalf("%v %v", evs, err)
	}
}

// serve answers every request with body.
func serve(t *testing.T, body string) *Connector {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	t.Cleanup(srv.Close)
	c, err := New(Config{RESTURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// https://bybit-exchange.github.io/docs/v5/market/instrument (docs/v5/market/instrument.mdx), the spot response example.
const instrumentsDoc = `{
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "spot",
        "list": [
            {
                "symbolId": 9,
                "symbol": "BTCUSDT",
                "baseCoin": "BTC",
                "quoteCoin": "USDT",
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "utaOnly",
                "stTag": "0",
                "lotSizeFilter": {
                    "basePrecision": "0.000001",
                    "quotePrecision": "0.0000001",
                    "minOrderQty": "0.000011",
                    "maxOrderQty": "83",
                    "minOrderAmt": "5",
                    "maxOrderAmt": "8000000",
                    "maxLimitOrderQty": "83",
                    "maxMarketOrderQty": "41.5",
                    "postOnlyMaxLimitOrderSize":"60000"

                },
                "priceFilter": {
                    "tickSize": "0.1"
                },
                "riskParameters": {
                    "priceLimitRatioX": "0.005",
                    "priceLimitRatioY": "0.01"
                },
                "symbolType": ""
            }
        ]
    },
    "retExtInfo": {},
    "time": 1760027412300
}`

func TestMarketsGolden(t *testing.T) {
	ms, err := serve(t, instrumentsDoc).Markets(context.Background())
	if err != nil || len(ms) != 1 {
		t.Fatalf("%v %v", ms, err)
	}
	want := exchange.Market{VenueSymbol: "BTCUSDT", Symbol: "BTC-USDT", Base: "BTC", Quote: "USDT", PriceScale: 1, SizeScale: 6, Status: "Trading"}
	if ms[0] != want {
		t.Fatalf("\n got %+v\nwant %+v", ms[0], want)
	}
}

// https://bybit-exchange.github.io/docs/v5/market/recent-trade (docs/v5/market/recent-trade.mdx), the response example.
const recentTradeDoc = `{
    "retCode": 0,
    "retMsg": "OK",
    "result": {
        "category": "spot",
        "list": [
            {
                "execId": "2100000000007764263",
                "symbol": "BTCUSDT",
                "price": "16618.49",
                "size": "0.00012",
                "side": "Buy",
                "time": "1672052955758",
                "isBlockTrade": false,
                "isRPITrade": true,
                "seq":"123456"
            }
        ]
    },
    "retExtInfo": {},
    "time": 1672053054358
}`

func TestTradesGolden(t *testing.T) {
	c := serve(t, strings.Replace(instrumentsDoc, "", "", 0))
	c.markets["BTCUSDT"] = exchange.Market{VenueSymbol: "BTCUSDT", Symbol: "BTC-USDT"}
	c2 := serve(t, recentTradeDoc)
	c2.markets = c.markets
	page, err := c2.Trades(context.Background(), "BTCUSDT", exchange.TradeCursor{}, 60)
	if err != nil || len(page.Trades) != 1 || page.Gap != nil {
		t.Fatalf("%+v %v", page, err)
	}
	got := page.Trades[0]
	got.ReceivedTimeUs = 0
	want := market.Trade{Exchange: Name, Symbol: "BTC-USDT", VenueSymbol: "BTCUSDT", TradeID: "2100000000007764263", Price: d("16618.49"),
		Quantity: d("0.00012"), Side: market.SideBuy, ExchangeTimeUs: 1672052955758000, Backfilled: true}
	if got != want {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	// The cursor is that trade: nothing after it, nothing lost.
	page, err = c2.Trades(context.Background(), "BTCUSDT", exchange.TradeCursor{ID: "2100000000007764263", TimeUs: 1672052955758000}, 60)
	if err != nil || len(page.Trades) != 0 || page.Gap != nil {
		t.Fatalf("at the cursor: %+v %v", page, err)
	}
	// A cursor older than the whole page: the backfill is incomplete.
	page, err = c2.Trades(context.Background(), "BTCUSDT", exchange.TradeCursor{ID: "2100000000007700000", TimeUs: 1672052900000000}, 60)
	if err != nil || len(page.Trades) != 1 || page.Gap == nil || page.Gap.Missing != -1 || page.Gap.AfterID != "2100000000007700000" ||
		page.Gap.BeforeID != "2100000000007764263" || page.More {
		t.Fatalf("before the page: %+v %v", page, err)
	}
	// A venue error in the envelope; a rate limit matches ErrRateLimited.
	_, err = serve(t, `{"retCode":10006,"retMsg":"Too many visits!","result":{}}`).Markets(context.Background())
	if !errors.Is(err, exchange.ErrRateLimited) {
		t.Fatalf("rate limit: %v", err)
	}
}

func tr(id string, ms int64) market.Trade {
	return market.Trade{TradeID: id, ExchangeTimeUs: ms * 1000}
}

func TestAfterCursor(t *testing.T) {
	page := []market.Trade{tr("10", 1), tr("11", 2), tr("12", 2), tr("13", 3)}
	for _, c := range []struct {
		name     string
		cur      exchange.TradeCursor
		first    string
		n        int
		gap      bool
		gapAfter string
	}{
		{"cursor inside", exchange.TradeCursor{ID: "11", TimeUs: 2000}, "12", 2, false, ""},
		{"cursor is the newest", exchange.TradeCursor{ID: "13", TimeUs: 3000}, "", 0, false, ""},
		{"cursor older than the page", exchange.TradeCursor{ID: "5", TimeUs: 500}, "10", 4, true, "5"},
		{"an id-less cursor reached by time", exchange.TradeCursor{ID: "x", TimeUs: 2500}, "13", 1, false, ""},
	} {
		p := afterCursor("BTCUSDT", append([]market.Trade(nil), page...), c.cur)
		if len(p.Trades) != c.n || (c.n > 0 && p.Trades[0].TradeID != c.first) || (p.Gap != nil) != c.gap || (c.gap && p.Gap.AfterID != c.gapAfter) {
			t.Errorf("%s: %+v", c.name, p)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","i":"20f4","BT":false,"seq":1783284617}]}`,
		`{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[["30247.20","30.028"]],"a":[["30248.70","0"]],"u":177400507,"seq":66544703342},"cts":1687940967464}`,
		`{"topic":"orderbook.1.BTCUSDT","ts":1,"type":"snapshot","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[["2","1"]],"u":1,"seq":1},"cts":1}`,
		`{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}`, `{"op":"pong"}`, `[`,
		`{"topic":"publicTrade.BTCUSDT"}`, `{"topic":"orderbook.50.BTCUSDT","type":"delta"}`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	p.symbols["BTCUSDT"].last, p.symbols["BTCUSDT"].hasLast = d("1.5"), true
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, _, err := p.parse(b)
		if err != nil && frameKind(err) == "" {
			t.Fatalf("an error that is not a FrameError: %v", err)
		}
		for _, ev := range evs {
			if tr := ev.Trade; tr != nil && (tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.TradeID == "" || tr.ExchangeTimeUs <= 0) {
				t.Fatalf("bad trade accepted: %+v", tr)
			}
			if u := ev.Book; u != nil && (u.Sequence <= 0 || (!u.Snapshot && u.PrevSequence != u.Sequence-1)) {
				t.Fatalf("bad book update accepted: %+v", u)
			}
			if tk := ev.Ticker; tk != nil && tk.BestBid.Cmp(tk.BestAsk) >= 0 {
				t.Fatalf("crossed ticker accepted: %+v", tk)
			}
		}
	})
}

// FuzzREST feeds the REST decoders (instruments-info, recent-trade).
func FuzzREST(f *testing.F) {
	f.Add([]byte(instrumentsDoc))
	f.Add([]byte(recentTradeDoc))
	f.Add([]byte(`{"retCode":10006,"retMsg":"Too many visits!"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ms, err := parseInstruments(b, "/x"); err == nil {
			for _, m := range ms {
				if m.VenueSymbol == "" || m.Base == "" || m.Quote == "" {
					t.Fatalf("a market without symbol, base or quote: %+v", m)
				}
			}
		}
		trades, err := restTrades(b, "/x", Name, &symbolInfo{venue: "BTCUSDT", norm: "BTC-USDT"}, 1)
		if err == nil {
			for _, tr := range trades {
				if tr.Price.Sign() <= 0 || tr.Quantity.Sign() <= 0 || tr.TradeID == "" || tr.ExchangeTimeUs <= 0 {
					t.Fatalf("bad trade accepted: %+v", tr)
				}
			}
		}
	})
}

// HTTP 403 is Bybit's IP limit: rate limited, with its 10-minute wait.
func TestIPLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "access too frequent", http.StatusForbidden)
	}))
	defer srv.Close()
	c, _ := New(Config{RESTURL: srv.URL})
	_, err := c.Markets(context.Background())
	if !errors.Is(err, exchange.ErrRateLimited) || exchange.RetryAfter(err) != IPBanWait {
		t.Fatalf("%v (retry after %s)", err, exchange.RetryAfter(err))
	}
}
