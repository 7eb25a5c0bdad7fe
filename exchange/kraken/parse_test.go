package kraken

import (
	"errors"
	"hash/crc32"
	"testing"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

func lv(p, q string) market.Level {
	return market.Level{Price: market.MustDecimal(p), Quantity: market.MustDecimal(q)}
}

// TestChecksumDocumented checks Checksum against Kraken's checksum guides:
// the level formatting of book-checksum-v2 (45285.2 and 0.00100000 give
// "452852100000") and of the FIX guide (28013.0 and 0.00096506 give
// "28013096506"), the order (asks low→high, then bids high→low, top 10
// only), and that the CRC is the IEEE one (the check value of "123456789"
// is 0xCBF43926).
func TestChecksumDocumented(t *testing.T) {
	if crc32.ChecksumIEEE([]byte("123456789")) != 0xCBF43926 {
		t.Fatal("not the IEEE CRC32")
	}
	for _, c := range []struct {
		l    market.Level
		want string
	}{{lv("45285.2", "0.00100000"), "452852100000"}, {lv("28013.0", "0.00096506"), "28013096506"}, {lv("0.05000", "0.00000304"), "5000304"}} {
		got := string(appendDigits(appendDigits(nil, c.l.Price), c.l.Quantity))
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.l, got, c.want)
		}
		if Checksum(nil, []market.Level{c.l}) != crc32.ChecksumIEEE([]byte(c.want)) {
			t.Errorf("%v: checksum is not the CRC32 of %q", c.l, c.want)
		}
	}
	asks := []market.Level{lv("10.2", "1.00"), lv("10.3", "2.00")}
	bids := []market.Level{lv("10.1", "3.00"), lv("10.0", "4.00")}
	if got, want := Checksum(bids, asks), crc32.ChecksumIEEE([]byte("102100"+"103200"+"101300"+"100400")); got != want {
		t.Fatalf("order: %d, want %d", got, want)
	}
	var deep []market.Level
	for i := 0; i < 12; i++ {
		deep = append(deep, market.Level{Price: market.NewDecimal(int64(100+i), 1), Quantity: market.NewDecimal(1, 0)})
	}
	if Checksum(nil, deep) != Checksum(nil, deep[:10]) {
		t.Fatal("levels beyond the 10th are in the checksum")
	}
}

func TestRescale(t *testing.T) {
	for _, c := range []struct {
		in    string
		scale int
		want  string
		bad   bool
	}{{"0.001", 8, "0.00100000", false}, {"740.0", 8, "740.00000000", false}, {"45285.2", 1, "45285.2", false},
		{"45285.20", 1, "45285.2", false}, {"45285.25", 1, "", true}, {"3", 0, "3", false}, {"3.0", 0, "3", false}} {
		d, err := Rescale(market.MustDecimal(c.in), c.scale)
		if (err != nil) != c.bad || (!c.bad && d.String() != c.want) {
			t.Errorf("Rescale(%s, %d) = %s, %v; want %s", c.in, c.scale, d, err, c.want)
		}
	}
}

// instrumentFrame is the instrument channel's snapshot in the documented
// shape, for the pairs the example frames use.
const instrumentFrame = `{"channel":"instrument","type":"snapshot","data":{"assets":[{"id":"BTC","status":"enabled","precision":10,"precision_display":5,"borrowable":true,"collateral_value":1.0,"margin_rate":0.01}],` +
	`"pairs":[{"symbol":"MATIC/USD","base":"MATIC","quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":4,"cost_precision":5,"marginable":true,"has_index":true,"cost_min":0.5,"margin_initial":0.2,"position_limit_long":250000,"position_limit_short":200000,"tick_size":0.0001,"price_increment":0.0001,"qty_min":5.0},` +
	`{"symbol":"ALGO/USD","base":"ALGO","quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":5,"cost_precision":5,"marginable":false,"has_index":true,"cost_min":0.5,"tick_size":0.00001,"price_increment":0.00001,"qty_min":5.0},` +
	`{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":1,"cost_precision":5,"marginable":true,"has_index":true,"cost_min":0.5,"tick_size":0.1,"price_increment":0.1,"qty_min":0.0001}]}}`

func newTestParser(t *testing.T) *parser {
	p := newParser("kraken", func() int64 { return 42 })
	_, fr, err := p.parse([]byte(instrumentFrame))
	if err != nil || !fr.instruments || len(p.pairs) != 3 || p.pairs["MATIC/USD"].priceScale != 4 || p.pairs["BTC/USD"].qtyScale != 8 {
		t.Fatalf("instrument: %v %+v %v", err, fr, p.pairs)
	}
	return p
}

func eq(t *testing.T, what string, got market.Decimal, want string) {
	t.Helper()
	if got.String() != want {
		t.Errorf("%s = %s, want %s (at the pair's precision)", what, got, want)
	}
}

// TestGoldenFrames parses the example frames of Kraken's trade, ticker and
// book pages (as documented; PROTOCOL.md) and checks every normalized field.
func TestGoldenFrames(t *testing.T) {
	p := newTestParser(t)
	evs, _, err := p.parse([]byte(`{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5147,"qty":6423.46326,"ord_type":"limit","trade_id":4665846,"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"MATIC/USD","side":"sell","price":0.5147,"qty":1136.19677815,"ord_type":"market","trade_id":4665847,"timestamp":"2023-09-25T07:49:36.925603Z"}]}`))
	if err != nil || len(evs) != 2 {
		t.Fatalf("trade: %v %v", evs, err)
	}
	tr := evs[0].Trade
	if tr.Exchange != "kraken" || tr.Symbol != "MATIC-USD" || tr.VenueSymbol != "MATIC/USD" || tr.TradeID != "4665846" || tr.Side != market.SideBuy ||
		tr.ExchangeTimeUs != 1695628116925533 || tr.ReceivedTimeUs != 42 || tr.HasQuoteQty || tr.Backfilled {
		t.Fatalf("trade: %+v", tr)
	}
	eq(t, "price", tr.Price, "0.5147")
	eq(t, "qty", tr.Quantity, "6423.46326000")
	if tr := evs[1].Trade; tr.Side != market.SideSell || tr.TradeID != "4665847" || tr.ExchangeTimeUs != 1695628176925603 {
		t.Fatalf("trade 2: %+v", tr)
	}
	eq(t, "qty 2", evs[1].Trade.Quantity, "1136.19677815")

	evs, _, err = p.parse([]byte(`{"channel":"ticker","type":"snapshot","data":[{"symbol":"ALGO/USD","bid":0.10025,"bid_qty":740.0,"ask":0.10036,"ask_qty":1361.44813783,"last":0.10035,"volume":997038.98383185,"vwap":0.10148,"low":0.09979,"high":0.10285,"change":-0.00017,"change_pct":-0.17}]}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("ticker: %v %v", evs, err)
	}
	tk := evs[0].Ticker
	if tk.Exchange != "kraken" || tk.Symbol != "ALGO-USD" || tk.VenueSymbol != "ALGO/USD" || !tk.HasBBO || !tk.HasOHLC || !tk.HasVolume || !tk.HasDailyChange ||
		tk.ExchangeTimeUs != 42 || tk.ReceivedTimeUs != 42 || tk.HasTradeCount || tk.HasMarkPrice {
		t.Fatalf("ticker: %+v", tk)
	}
	for _, c := range []struct {
		what string
		got  market.Decimal
		want string
	}{{"bid", tk.BestBid, "0.10025"}, {"bid_qty", tk.BestBidSize, "740.00000000"}, {"ask", tk.BestAsk, "0.10036"}, {"ask_qty", tk.BestAskSize, "1361.44813783"},
		{"last", tk.Last, "0.10035"}, {"open = last - change", tk.Open, "0.10052"}, {"high", tk.High, "0.10285"}, {"low", tk.Low, "0.09979"},
		{"volume", tk.BaseVolume, "997038.98383185"}, {"quote volume = vwap × volume", tk.QuoteVolume, "101179.516079256138"}, {"change", tk.DailyChange, "-0.0017"}} {
		eq(t, c.what, c.got, c.want)
	}

	snap := `{"channel":"book","type":"snapshot","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5666,"qty":4831.75496356},{"price":0.5665,"qty":6658.22734739},{"price":0.5664,"qty":18724.91513344},{"price":0.5663,"qty":7563.90678944},{"price":0.5662,"qty":14006.69054237}],` +
		`"asks":[{"price":0.5668,"qty":4410.79769741},{"price":0.5669,"qty":4655.40412487},{"price":0.567,"qty":49844.89443758},{"price":0.5671,"qty":2217.9978},{"price":0.5672,"qty":6758.87010296}],"checksum":2439117997}]}`
	evs, _, err = p.parse([]byte(snap))
	if err != nil || len(evs) != 1 {
		t.Fatalf("book snapshot: %v %v", evs, err)
	}
	u := evs[0].Book
	if !u.Snapshot || u.Symbol != "MATIC-USD" || u.VenueSymbol != "MATIC/USD" || u.Exchange != "kraken" || !u.HasChecksum || u.Checksum != 2439117997 ||
		len(u.Bids) != 5 || len(u.Asks) != 5 || u.Sequence != 0 || u.ReceivedTimeUs != 42 {
		t.Fatalf("book snapshot: %+v", u)
	}
	eq(t, "ask 3 (JSON 0.567)", u.Asks[2].Price, "0.5670")
	eq(t, "ask 4 qty (JSON 2217.9978)", u.Asks[3].Quantity, "2217.99780000")
	eq(t, "best bid", u.Bids[0].Price, "0.5666")

	evs, _, err = p.parse([]byte(`{"channel":"book","type":"update","data":[{"symbol":"MATIC/USD","bids":[{"price":0.5657,"qty":1098.3947558}],"asks":[],"checksum":2114181697,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`))
	if err != nil || len(evs) != 1 {
		t.Fatalf("book update: %v %v", evs, err)
	}
	u = evs[0].Book
	if u.Snapshot || len(u.Bids) != 1 || len(u.Asks) != 0 || u.Checksum != 2114181697 || u.ExchangeTimeUs != 1696613755440295 {
		t.Fatalf("book update: %+v", u)
	}
	eq(t, "update qty", u.Bids[0].Quantity, "1098.39475580")

	for _, ctl := range []string{`{"channel":"heartbeat"}`, `{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":12393906104898154338,"system":"online","version":"2.0.4"}]}`,
		`{"method":"pong","req_id":101,"time_in":"2023-09-24T14:10:23.799685Z","time_out":"2023-09-24T14:10:23.799703Z"}`} {
		if evs, _, err := p.parse([]byte(ctl)); err != nil || len(evs) != 0 {
			t.Errorf("%s: %v %v", ctl, evs, err)
		}
	}
	_, fr, err := p.parse([]byte(`{"method":"subscribe","result":{"channel":"book","depth":10,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}`))
	if err != nil || len(fr.acks) != 1 || fr.acks[0] != (subAck{method: "subscribe", channel: "book", symbol: "BTC/USD", ok: true}) {
		t.Fatalf("ack: %+v %v", fr, err)
	}
	_, fr, err = p.parse([]byte(`{"error":"Currency pair not supported XBT/XYZ","method":"subscribe","success":false,"symbol":"XBT/XYZ","time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}`))
	var fe *exchange.FrameError
	if !errors.As(err, &fe) || fe.Kind != "venue_error" || len(fr.acks) != 1 || fr.acks[0].ok || fr.acks[0].symbol != "XBT/XYZ" {
		t.Fatalf("refusal: %+v %v", fr, err)
	}
}

// TestBadFrames: each is an error of the right kind, nothing is published
// from it, and good items beside a bad one are kept.
func TestBadFrames(t *testing.T) {
	p := newTestParser(t)
	for _, c := range []struct{ frame, kind string }{
		{`{"channel":"trade"`, "malformed"},
		{`[1,2]`, "malformed"},
		{`{"channel":"mystery","data":[]}`, "unknown_channel"},
		{`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":1e5,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`, "bad_trade"},
		{`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":97000.25,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`, "bad_trade"},
		{`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":"97000.2","qty":1,"trade_id":-1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`, "bad_trade"},
		{`{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":11,"bid_qty":1,"ask":10,"ask_qty":1,"last":10}]}`, "bad_ticker"},
		{`{"channel":"book","type":"update","data":[{"symbol":"DOGE/XYZ","bids":[],"asks":[],"checksum":1}]}`, "bad_book"},
		{`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[]}]}`, "bad_book"},
		{`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[],"asks":[],"checksum":4294967296}]}`, "bad_book"},
		{`{"channel":"book","type":"partial","data":[]}`, "bad_book"},
	} {
		evs, _, err := p.parse([]byte(c.frame))
		var fe *exchange.FrameError
		if !errors.As(err, &fe) || fe.Kind != c.kind || len(evs) != 0 {
			t.Errorf("%s: %v %v, want %s", c.frame, evs, err, c.kind)
		}
	}
	evs, _, err := p.parse([]byte(`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"up","price":1,"qty":1,"trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"},{"symbol":"BTC/USD","side":"buy","price":1,"qty":1,"trade_id":2,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`))
	if err == nil || len(evs) != 1 || evs[0].Trade.TradeID != "2" {
		t.Fatalf("a good trade beside a bad one: %v %v", evs, err)
	}
}

func TestRESTTrade(t *testing.T) {
	p := newTestParser(t)
	v, err := p.fj.Parse(`{"error":[],"result":{"XXBTZUSD":[["97000.10000","0.00100000",1688669597.8277,"b","l","",68544412],["97000.2","1.5",1688669598,"s","m","",68544413]],"last":"1688669598000000000"}}`)
	if err != nil {
		t.Fatal(err)
	}
	rows := v.GetArray("result", "XXBTZUSD")
	a, err := p.restTrade(rows[0], "BTC/USD", 7)
	if err != nil || a.TradeID != "68544412" || a.Side != market.SideBuy || a.ExchangeTimeUs != 1688669597827700 || !a.Backfilled || a.Symbol != "BTC-USD" || a.VenueSymbol != "BTC/USD" {
		t.Fatalf("%+v %v", a, err)
	}
	eq(t, "price", a.Price, "97000.1")
	eq(t, "qty", a.Quantity, "0.00100000")
	b, err := p.restTrade(rows[1], "BTC/USD", 7)
	if err != nil || b.Side != market.SideSell || b.ExchangeTimeUs != 1688669598000000 {
		t.Fatalf("%+v %v", b, err)
	}
	for _, s := range []string{"1688669597.8277", "1688669597.827712345"} {
		if us, err := restTime([]byte(s)); err != nil || us/1000 != 1688669597827 {
			t.Errorf("%s: %d %v", s, us, err)
		}
	}
}

// FuzzParse: no frame crashes the parser; every event it returns is whole
// and at the pair's precision.
func FuzzParse(f *testing.F) {
	f.Add([]byte(instrumentFrame))
	f.Add([]byte(`{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"buy","price":97000.1,"qty":0.001,"ord_type":"limit","trade_id":1,"timestamp":"2023-09-25T07:48:36.925533Z"}]}`))
	f.Add([]byte(`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":97000.1,"qty":0}],"asks":[{"price":97000.2,"qty":1.5}],"checksum":123,"timestamp":"2023-10-06T17:35:55.440295Z"}]}`))
	f.Add([]byte(`{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":1,"bid_qty":1,"ask":2,"ask_qty":1,"last":1.5,"volume":3,"vwap":1.2,"low":1,"high":2,"change":-0.5,"change_pct":-25}]}`))
	f.Add([]byte(`{"method":"subscribe","result":{"channel":"trade","symbol":"BTC/USD"},"success":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newParser("kraken", func() int64 { return 1 })
		p.parse([]byte(instrumentFrame))
		evs, _, _ := p.parse(b)
		for _, e := range evs {
			switch {
			case e.Trade != nil:
				if e.Trade.Price.Sign() <= 0 || e.Trade.Quantity.Sign() <= 0 || e.Trade.TradeID == "" || e.Trade.Side == market.SideUnknown {
					t.Fatalf("bad trade published: %+v", e.Trade)
				}
			case e.Book != nil:
				ps, qs := p.scales(e.Book.VenueSymbol)
				for _, l := range append(append([]market.Level{}, e.Book.Bids...), e.Book.Asks...) {
					if int(l.Price.Scale) != ps || int(l.Quantity.Scale) != qs || l.Price.Sign() <= 0 || l.Quantity.Sign() < 0 {
						t.Fatalf("level %v not at the precision %d/%d", l, ps, qs)
					}
				}
			}
		}
	})
}

func TestVenueError(t *testing.T) {
	if !errors.Is(venueError("/0/public/Trades", "EAPI:Rate limit exceeded"), exchange.ErrRateLimited) ||
		errors.Is(venueError("/0/public/Trades", "EQuery:Unknown asset pair"), exchange.ErrRateLimited) {
		t.Fatal("rate limits in the body are not ErrRateLimited")
	}
}
