package market

import (
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"
)

func sampleTrade() Trade {
	return Trade{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", TradeID: "60183607",
		Price: MustDecimal("21464.69"), Quantity: MustDecimal("0.017"), QuoteQuantity: MustDecimal("364.89973"), HasQuoteQty: true,
		Side: SideSell, ExchangeTimeUs: 1661120814818000, ReceivedTimeUs: 1661120814823456, Backfilled: true}
}

func sampleTicker() Ticker {
	return Ticker{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", Last: MustDecimal("23148.86"),
		Open: MustDecimal("23154.32"), High: MustDecimal("23212.21"), Low: MustDecimal("22761.01"), HasOHLC: true,
		BaseVolume: MustDecimal("105.179566"), QuoteVolume: MustDecimal("2423161.17436702"), HasVolume: true,
		TradeCount: 17582, HasTradeCount: true, DailyChange: MustDecimal("-0.0002"), HasDailyChange: true,
		MarkPrice: MustDecimal("23151.09"), HasMarkPrice: true, WindowStartUs: 1677280800000000,
		ExchangeTimeUs: 1677367197924000, ReceivedTimeUs: 1677367251090000}
}

func sampleBook() BookUpdate {
	return BookUpdate{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", Snapshot: false, Sequence: 164148726, PrevSequence: 164148725,
		Bids: []Level{{MustDecimal("5.65"), MustDecimal("0")}}, Asks: []Level{{MustDecimal("6.35"), MustDecimal("3")}, {MustDecimal("6.4"), MustDecimal("0.000001")}},
		ExchangeTimeUs: 1677368876882000, ReceivedTimeUs: 1677368876890000, ChecksumVerified: true, Chained: true}
}

func sampleCandle() Candle {
	return Candle{Exchange: "poloniex", Symbol: "BTC-USDT", Interval: "1m", OpenTimeUs: 1700000040000000, CloseTimeUs: 1700000100000000,
		Open: MustDecimal("1.5"), High: MustDecimal("2"), Low: MustDecimal("1"), Close: MustDecimal("1.25"), Volume: MustDecimal("10"),
		QuoteVolume: MustDecimal("15.5"), TradeCount: 4, VWAP: MustDecimal("1.55"), Final: true, UpdatedTimeUs: 1700000100500000}
}

// equalExact compares with Decimal.Equal (Avro keeps the value, not the scale).
func equalExact(t *testing.T, what string, got, want any) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		switch w := w.(type) {
		case Decimal:
			if !g.(Decimal).Equal(w) {
				t.Fatalf("%s.%s = %s, want %s", what, name, g, w)
			}
		case []Level:
			gl := g.([]Level)
			if len(gl) != len(w) {
				t.Fatalf("%s.%s: %d levels, want %d", what, name, len(gl), len(w))
			}
			for j := range w {
				if !gl[j].Price.Equal(w[j].Price) || !gl[j].Quantity.Equal(w[j].Quantity) {
					t.Fatalf("%s.%s[%d] = %v, want %v", what, name, j, gl[j], w[j])
				}
			}
		default:
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("%s.%s = %v, want %v", what, name, g, w)
			}
		}
	}
}

// TestEncodersMatchSchemas decodes what the hand-written encoders write with
// hamba/avro and the embedded schemas: every field must come back.
func TestEncodersMatchSchemas(t *testing.T) {
	decode := func(s avro.Schema, b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := avro.Unmarshal(s, b, &m); err != nil {
			t.Fatalf("%s: %v", s.(avro.NamedSchema).FullName(), err)
		}
		return m
	}
	tr := sampleTrade()
	got, err := TradeFromMap(decode(TradeSchema, AppendTrade(nil, &tr)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "Trade", got, tr)
	tr2 := tr
	tr2.HasQuoteQty, tr2.QuoteQuantity, tr2.Side, tr2.Backfilled = false, Decimal{}, SideUnknown, false
	got, _ = TradeFromMap(decode(TradeSchema, AppendTrade(nil, &tr2)))
	equalExact(t, "Trade without quote quantity", got, tr2)

	tk := sampleTicker()
	gtk, err := TickerFromMap(decode(TickerSchema, AppendTicker(nil, &tk)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "Ticker", gtk, tk)
	bare := Ticker{Exchange: "x", Symbol: "A-B", VenueSymbol: "A_B", Last: MustDecimal("1"), BestBid: MustDecimal("0.9"), BestBidSize: MustDecimal("3"), BestAsk: MustDecimal("1.1"), BestAskSize: MustDecimal("4"), HasBBO: true}
	gtk, _ = TickerFromMap(decode(TickerSchema, AppendTicker(nil, &bare)))
	equalExact(t, "bare Ticker", gtk, bare)

	bu := sampleBook()
	gbu, err := BookUpdateFromMap(decode(BookUpdateSchema, AppendBookUpdate(nil, &bu)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "BookUpdate", gbu, bu)
	empty := BookUpdate{Exchange: "x", Symbol: "A-B", VenueSymbol: "A_B", Snapshot: true, Sequence: 1, Bids: []Level{}, Asks: []Level{}, Resync: true}
	gbu, _ = BookUpdateFromMap(decode(BookUpdateSchema, AppendBookUpdate(nil, &empty)))
	equalExact(t, "empty BookUpdate", gbu, empty)

	c := sampleCandle()
	gc, err := CandleFromMap(decode(CandleSchema, AppendCandle(nil, &c)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "Candle", gc, c)
}

func BenchmarkAppendTrade(b *testing.B) {
	tr := sampleTrade()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTrade(buf[:0], &tr)
	}
}

func TestBookAndBBORoundTrip(t *testing.T) {
	decode := func(s avro.Schema, b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := avro.Unmarshal(s, b, &m); err != nil {
			t.Fatalf("%s: %v", s.(avro.NamedSchema).FullName(), err)
		}
		return m
	}
	b := Book{Exchange: "kraken", Symbol: "BTC-USD", VenueSymbol: "BTC/USD", Synced: true, Sequence: 42, ChecksumVerified: true, Depth: 50,
		Bids: []Level{{MustDecimal("100.5"), MustDecimal("2")}}, Asks: []Level{{MustDecimal("101"), MustDecimal("0.000000000000000001")}},
		ExchangeTimeUs: 1700000000000001, UpdatedTimeUs: 1700000000000002, SourcePartition: 3, SourceOffset: 77}
	got, err := BookFromMap(decode(BookSchema, AppendBook(nil, &b)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "Book", got, b)
	rs := Book{Exchange: "x", Symbol: "A-B", VenueSymbol: "A_B", Depth: 5, Bids: []Level{}, Asks: []Level{}, SourceOffset: -1}
	got, err = BookFromMap(decode(BookSchema, AppendBook(nil, &rs)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "resyncing Book", got, rs)

	q := BBO{Symbol: "BTC-USD", Exchange: ConsolidatedExchange, Consolidated: true, BidExchange: "kraken", BidPrice: MustDecimal("100.5"), BidSize: MustDecimal("2"), HasBid: true,
		AskExchange: "coinbase", AskPrice: MustDecimal("100.75"), AskSize: MustDecimal("1.5"), HasAsk: true, ExchangeTimeUs: 5, UpdatedTimeUs: 6}
	gq, err := BBOFromMap(decode(BBOSchema, AppendBBO(nil, &q)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "BBO", gq, q)
	empty := BBO{Symbol: "A-B", Exchange: "x", Sequence: 9}
	gq, err = BBOFromMap(decode(BBOSchema, AppendBBO(nil, &empty)))
	if err != nil {
		t.Fatal(err)
	}
	equalExact(t, "empty BBO", gq, empty)
}
