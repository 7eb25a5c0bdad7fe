package okx

import (
	"errors"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// The golden frames are OKX's documented examples, each with the page it
// comes from (docs pages: https://www.okx.com/docs-v5/en/ and the anchor
// named). Only whitespace is changed.

// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-all-trades-channel
// ("Push data example"; also quoted by ccxt's okx.js handleTrades).
const docTradesAll = `{"arg":{"channel":"trades-all","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","source":"0","ts":"1630048897897"}]}`

// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-trades-channel
// ("Push data example": an aggregated trade, count 3).
const docTrades = `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3","source":"0","seqId":1234}]}`

// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-tickers-channel
// ("Push data example").
const docTicker = `{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"9999.99","lastSz":"0.1","askPx":"9999.99","askSz":"11","bidPx":"8888.88","bidSz":"5","open24h":"9000","high24h":"10000","low24h":"8888.88","volCcy24h":"2222","vol24h":"2222","sodUtc0":"2222","sodUtc8":"2222","ts":"1597026383085"}]}`

// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
// ("Push data example": the full snapshot, then an incremental update).
const docBookLevels = `"asks":[["8476.98","415","0","13"],["8477","7","0","2"],["8477.34","85","0","1"],["8477.56","1","0","1"],["8505.84","8","0","1"],["8506.37","85","0","1"],["8506.49","2","0","1"],["8506.96","100","0","2"]],` +
	`"bids":[["8476.97","256","0","12"],["8475.55","101","0","1"],["8475.54","100","0","1"],["8475.3","1","0","1"],["8447.32","6","0","1"],["8447.02","246","0","1"],["8446.83","24","0","1"],["8446","95","0","3"]]`

const docBookSnapshot = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{` + docBookLevels + `,"ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}`

const docBookUpdate = `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{` + docBookLevels + `,"ts":"1597026383085","checksum":-855196043,"prevSeqId":123456,"seqId":123457}]}`

// https://www.okx.com/docs-v5/en/#overview-websocket-subscribe
// ("Response example" and "Failure example").
const (
	docSubscribed = `{"id":"1512","event":"subscribe","arg":{"channel":"tickers","instId":"BTC-USDT"},"connId":"accb8e21"}`
	docError      = `{"id":"1512","event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\", \"argss\":[{ \"channel\" : \"tickers\", \"instId\" : \"BTC-USDT\"}]}","connId":"a4d3ae55"}`
)

// https://www.okx.com/docs-v5/en/#overview-websocket-notice
// (the notice before a disconnection for a service upgrade).
const docNotice = `{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}`

// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-get-trades
// and #order-book-trading-market-data-get-trades-history ("Response
// example", the same for both).
const docRESTTrades = `{"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0.00001","px":"29963.2","tradeId":"242720720","ts":"1654161646974"},{"instId":"BTC-USDT","side":"sell","sz":"0.00001","px":"29964.1","tradeId":"242720719","ts":"1654161641568"}]}`

// https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments
// ("Response example", the fields this package reads).
const docInstruments = `{"code":"0","msg":"","data":[{"alias":"","baseCcy":"BTC","category":"1","ctMult":"","ctType":"","ctVal":"","ctValCcy":"","expTime":"","instFamily":"","instId":"BTC-USDT","instType":"SPOT","lever":"10","listTime":"1606468572000","lotSz":"0.00000001","maxIcebergSz":"9999999999.0000000000000000","maxLmtAmt":"1000000","maxLmtSz":"9999999999","maxMktAmt":"1000000","maxMktSz":"","maxStopSz":"","maxTriggerSz":"9999999999.0000000000000000","maxTwapSz":"9999999999.0000000000000000","minSz":"0.00001","optType":"","quoteCcy":"USDT","settleCcy":"","state":"live","stk":"","tickSz":"0.1","uly":""}]}`

func testParser() *parser { return newParser("okx", func() int64 { return 42 }) }

func lv(p, q string) market.Level {
	return market.Level{Price: market.MustDecimal(p), Quantity: market.MustDecimal(q)}
}

func parseOne(t *testing.T, raw string) []exchange.Event {
	t.Helper()
	evs, _, err := testParser().parse([]byte(raw))
	if err != nil {
		t.Fatalf("%s: %v", raw[:40], err)
	}
	return evs
}

func TestParseDocTradesAll(t *testing.T) {
	evs := parseOne(t, docTradesAll)
	if len(evs) != 1 || evs[0].Trade == nil {
		t.Fatalf("%+v", evs)
	}
	tr := evs[0].Trade
	want := market.Trade{Exchange: "okx", Symbol: "BTC-USDT", VenueSymbol: "BTC-USDT", TradeID: "130639474", Price: market.MustDecimal("42219.9"),
		Quantity: market.MustDecimal("0.12060306"), Side: market.SideBuy, ExchangeTimeUs: 1630048897897000, ReceivedTimeUs: 42}
	if tr.Exchange != want.Exchange || tr.Symbol != want.Symbol || tr.VenueSymbol != want.VenueSymbol || tr.TradeID != want.TradeID ||
		tr.Price.String() != "42219.9" || tr.Quantity.String() != "0.12060306" || tr.Side != want.Side ||
		tr.ExchangeTimeUs != want.ExchangeTimeUs || tr.ReceivedTimeUs != 42 || tr.HasQuoteQty {
		t.Fatalf("got %+v\nwant %+v", *tr, want)
	}
}

// TestParseDocTradesAggregated: the trades channel's documented example
// folds 3 matches into one message; it must not pass for one trade (the
// per-trade REST history would not pair with it).
func TestParseDocTradesAggregated(t *testing.T) {
	evs, _, err := testParser().parse([]byte(docTrades))
	var fe *exchange.FrameError
	if len(evs) != 0 || !errors.As(err, &fe) || fe.Kind != "bad_trade" || !strings.Contains(err.Error(), "count 3") {
		t.Fatalf("%v %v", evs, err)
	}
	one := strings.Replace(docTrades, `"count":"3"`, `"count":"1"`, 1)
	if evs := parseOne(t, one); len(evs) != 1 || evs[0].Trade.TradeID != "130639474" {
		t.Fatalf("count 1: %+v", evs)
	}
}

func TestParseDocTicker(t *testing.T) {
	evs := parseOne(t, docTicker)
	if len(evs) != 1 || evs[0].Ticker == nil {
		t.Fatalf("%+v", evs)
	}
	tk := evs[0].Ticker
	for _, c := range []struct {
		got  market.Decimal
		want string
	}{{tk.Last, "9999.99"}, {tk.BestBid, "8888.88"}, {tk.BestBidSize, "5"}, {tk.BestAsk, "9999.99"}, {tk.BestAskSize, "11"},
		{tk.Open, "9000"}, {tk.High, "10000"}, {tk.Low, "8888.88"}, {tk.BaseVolume, "2222"}, {tk.QuoteVolume, "2222"}} {
		if c.got.String() != c.want {
			t.Errorf("%s, want %s", c.got, c.want)
		}
	}
	if !tk.HasBBO || !tk.HasOHLC || !tk.HasVolume || tk.ExchangeTimeUs != 1597026383085000 || tk.Symbol != "BTC-USDT" || tk.Exchange != "okx" {
		t.Fatalf("%+v", *tk)
	}
	// An empty side: OKX leaves bidPx empty.
	empty := strings.Replace(strings.Replace(docTicker, `"bidPx":"8888.88"`, `"bidPx":""`, 1), `"bidSz":"5"`, `"bidSz":""`, 1)
	if evs := parseOne(t, empty); !evs[0].Ticker.BestBid.IsZero() {
		t.Fatal("empty bidPx")
	}
}

func TestParseDocBook(t *testing.T) {
	evs := parseOne(t, docBookSnapshot)
	if len(evs) != 1 || evs[0].Book == nil {
		t.Fatalf("%+v", evs)
	}
	u := evs[0].Book
	if !u.Snapshot || u.Sequence != 123456 || u.PrevSequence != -1 || len(u.Bids) != 8 || len(u.Asks) != 8 || u.ExchangeTimeUs != 1597026383085000 ||
		u.Symbol != "BTC-USDT" || u.VenueSymbol != "BTC-USDT" || !u.HasChecksum || int32(u.Checksum) != -855196043 {
		t.Fatalf("%+v", *u)
	}
	if u.Bids[0].Price.String() != "8476.97" || u.Bids[0].Quantity.String() != "256" || u.Asks[7].Price.String() != "8506.96" || u.Bids[3].Price.String() != "8475.3" {
		t.Fatalf("levels %v %v", u.Bids, u.Asks)
	}
	up := parseOne(t, docBookUpdate)[0].Book
	if up.Snapshot || up.PrevSequence != 123456 || up.Sequence != 123457 {
		t.Fatalf("%+v", *up)
	}
	// The documented example's checksum is illustrative: it is not the
	// CRC32 of its own levels, which the chain with checksums catches.
	if int32(Checksum(u.Bids, u.Asks)) != -2102840145 {
		t.Fatalf("checksum of the example book: %d", int32(Checksum(u.Bids, u.Asks)))
	}
	s := &exchange.ChainSync{Sum: Checksum}
	if s.Check(u) != exchange.Gap || s.Mismatches != 1 {
		t.Fatal("the example's checksum was not found wrong")
	}
	// With checksum 0 (OKX since 2026-06-23) there is no checksum: the chain
	// alone judges, and the update chains on the snapshot.
	s = &exchange.ChainSync{Sum: Checksum}
	for i, raw := range []string{docBookSnapshot, docBookUpdate} {
		b := parseOne(t, strings.Replace(raw, "-855196043", "0", 1))[0].Book
		if b.HasChecksum || s.Check(b) != exchange.Apply {
			t.Fatalf("message %d with checksum 0 not applied", i)
		}
	}
}

// TestChecksumDocumented checks Checksum against the checksum section of
// https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
// (first published for OKEx v3, https://www.okex.com/docs/en/#futures_ws-checksum,
// with the values): a book of 2 bids and 2 asks gives
// "3366.1:7:3366.8:9:3366:6:3368:8", checksum -1881014294; 1 bid and 3
// asks give "3366.1:7:3366.8:9:3368:8:3372:8", checksum 831078360.
func TestChecksumDocumented(t *testing.T) {
	for _, c := range []struct {
		bids, asks []market.Level
		str        string
		sum        int32
	}{
		{[]market.Level{lv("3366.1", "7"), lv("3366", "6")}, []market.Level{lv("3366.8", "9"), lv("3368", "8")}, "3366.1:7:3366.8:9:3366:6:3368:8", -1881014294},
		{[]market.Level{lv("3366.1", "7")}, []market.Level{lv("3366.8", "9"), lv("3368", "8"), lv("3372", "8")}, "3366.1:7:3366.8:9:3368:8:3372:8", 831078360},
	} {
		if got := string(ChecksumString(c.bids, c.asks)); got != c.str {
			t.Errorf("string %q, want %q", got, c.str)
		}
		if got := int32(Checksum(c.bids, c.asks)); got != c.sum {
			t.Errorf("checksum %d, want %d", got, c.sum)
		}
	}
	var deep []market.Level
	for i := 0; i < 30; i++ {
		deep = append(deep, market.Level{Price: market.NewDecimal(int64(1000+i), 1), Quantity: market.NewDecimal(1, 0)})
	}
	if Checksum(deep, nil) != Checksum(deep[:ChecksumDepth], nil) {
		t.Fatal("levels beyond the 25th are in the checksum")
	}
}

func TestParseDocEvents(t *testing.T) {
	evs, fr, err := testParser().parse([]byte(docSubscribed))
	if err != nil || len(evs) != 0 || len(fr.acks) != 1 || fr.acks[0] != (ack{"subscribe", "tickers", "BTC-USDT"}) {
		t.Fatalf("subscribe: %v %+v %v", evs, fr, err)
	}
	_, fr, err = testParser().parse([]byte(docError))
	var fe *exchange.FrameError
	if !errors.As(err, &fe) || fe.Kind != "venue_error" || !strings.HasPrefix(fr.errMsg, "60012: Invalid request") {
		t.Fatalf("error: %+v %v", fr, err)
	}
	evs, _, err = testParser().parse([]byte(docNotice))
	if err != nil || len(evs) != 1 || evs[0].RollOver == nil || !strings.Contains(evs[0].RollOver.Reason, "64008") {
		t.Fatalf("notice: %+v %v", evs, err)
	}
	evs, fr, err = testParser().parse([]byte("pong"))
	if err != nil || len(evs) != 0 || !fr.pong {
		t.Fatalf("pong: %v %v", evs, err)
	}
}

func TestParseDocREST(t *testing.T) {
	p := testParser()
	items, err := p.restAnswer([]byte(docRESTTrades), "/api/v5/market/trades")
	if err != nil || len(items) != 2 {
		t.Fatal(items, err)
	}
	tr, err := p.trade(items[0], 7)
	if err != nil || tr.TradeID != "242720720" || tr.Price.String() != "29963.2" || tr.Quantity.String() != "0.00001" || tr.Side != market.SideSell ||
		tr.ExchangeTimeUs != 1654161646974000 {
		t.Fatalf("%+v %v", tr, err)
	}
	items, err = p.restAnswer([]byte(docInstruments), "/api/v5/public/instruments")
	if err != nil || len(items) != 1 || string(items[0].GetStringBytes("tickSz")) != "0.1" {
		t.Fatal(items, err)
	}
	_, err = p.restAnswer([]byte(`{"code":"50011","msg":"Too Many Requests","data":[]}`), "/x")
	if !errors.Is(err, exchange.ErrRateLimited) {
		t.Fatalf("50011: %v", err)
	}
	_, err = p.restAnswer([]byte(`{"code":"51001","msg":"Instrument ID doesn't exist.","data":[]}`), "/x")
	if err == nil || errors.Is(err, exchange.ErrRateLimited) || !strings.Contains(err.Error(), "51001") {
		t.Fatalf("51001: %v", err)
	}
}

// TestParseBad: hostile and malformed frames are clear frame errors, and
// a book update claiming to be a snapshot (or the reverse) is refused.
func TestParseBad(t *testing.T) {
	for _, c := range []struct{ raw, kind string }{
		{`{`, "malformed"},
		{`[]`, "malformed"},
		{`{"arg":{"channel":"nope","instId":"BTC-USDT"},"data":[]}`, "unknown_channel"},
		{`{"event":"mystery"}`, "unknown_event"},
		{strings.Replace(docTradesAll, `"42219.9"`, `"4.2e4"`, 1), "bad_trade"},
		{strings.Replace(docTradesAll, `"42219.9"`, `"1234567890123456789012345678901234567890"`, 1), "bad_trade"},
		{strings.Replace(docTradesAll, `"130639474"`, `"13-0"`, 1), "bad_trade"},
		{strings.Replace(docTradesAll, `"1630048897897"`, `"-5"`, 1), "bad_trade"},
		{strings.Replace(docTradesAll, `"buy"`, `"hold"`, 1), "bad_trade"},
		{strings.Replace(docTicker, `"bidPx":"8888.88"`, `"bidPx":"99999"`, 1), "bad_ticker"},
		{strings.Replace(docBookSnapshot, `"prevSeqId":-1`, `"prevSeqId":5`, 1), "bad_book"},
		{strings.Replace(docBookUpdate, `"prevSeqId":123456`, `"prevSeqId":-1`, 1), "bad_book"},
		{strings.Replace(docBookUpdate, `-855196043`, `4294967296`, 1), "bad_book"},
		{strings.Replace(docBookUpdate, `"8477","7"`, `"8477",7`, 1), "bad_book"},
		{strings.Replace(docBookUpdate, `"update"`, `"patch"`, 1), "bad_book"},
	} {
		_, _, err := testParser().parse([]byte(c.raw))
		var fe *exchange.FrameError
		if !errors.As(err, &fe) || fe.Kind != c.kind {
			t.Errorf("%.60s: %v, want kind %s", c.raw, err, c.kind)
		}
	}
}

// FuzzParse: no frame crashes the parser; every event it returns is
// usable (positive prices, consistent book ids).
func FuzzParse(f *testing.F) {
	for _, s := range []string{docTradesAll, docTrades, docTicker, docBookSnapshot, docBookUpdate, docSubscribed, docError, docNotice, "pong", `{"arg":{}}`} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, raw []byte) {
		evs, _, _ := p.parse(raw)
		for _, e := range evs {
			switch {
			case e.Trade != nil:
				if e.Trade.Price.Sign() <= 0 || e.Trade.Quantity.Sign() <= 0 || e.Trade.TradeID == "" {
					t.Fatalf("bad trade %+v", *e.Trade)
				}
			case e.Book != nil:
				if e.Book.Snapshot != (e.Book.PrevSequence == -1) {
					t.Fatalf("bad book %+v", *e.Book)
				}
				for _, l := range append(e.Book.Bids, e.Book.Asks...) {
					if l.Price.Sign() <= 0 || l.Quantity.Sign() < 0 {
						t.Fatalf("bad level %+v", l)
					}
				}
			case e.Ticker != nil:
				if e.Ticker.Last.Sign() <= 0 {
					t.Fatalf("bad ticker %+v", *e.Ticker)
				}
			}
		}
	})
}

// FuzzREST: no REST answer crashes the envelope and trade readers.
func FuzzREST(f *testing.F) {
	for _, s := range []string{docRESTTrades, docInstruments, `{"code":"50011"}`, `{"code":"0","data":{}}`} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := p.restAnswer(body, "/x")
		if err != nil {
			return
		}
		for _, it := range items {
			if tr, err := p.trade(it, 1); err == nil && (tr.Price.Sign() <= 0 || tr.TradeID == "") {
				t.Fatalf("bad trade %+v", *tr)
			}
		}
	})
}
