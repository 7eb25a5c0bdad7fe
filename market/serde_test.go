package market_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

func startRegistry(t *testing.T) (*serde.Serde, *sr.Client) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	cl, err := sr.NewClient(sr.URLs(s.RegistryURL()))
	if err != nil {
		t.Fatal(err)
	}
	return serde.New(cl), cl
}

// TestSerdeRoundTrips registers every market schema under its
// TopicRecordNameStrategy subject, encodes with the fast encoders and
// decodes through the registry with a fresh Serde.
func TestSerdeRoundTrips(t *testing.T) {
	sd, cl := startRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type kind struct {
		name   string
		schema avro.Schema
		encode func([]byte) []byte
		check  func(map[string]any) error
	}
	tr := market.Trade{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", TradeID: "1", Price: market.MustDecimal("97000.5"),
		Quantity: market.MustDecimal("0.000001"), Side: market.SideBuy, ExchangeTimeUs: 1700000000000001, ReceivedTimeUs: 1700000000000002}
	tk := market.Ticker{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", Last: market.MustDecimal("97000.5"), ExchangeTimeUs: 1, ReceivedTimeUs: 2}
	bu := market.BookUpdate{Exchange: "poloniex", Symbol: "BTC-USDT", VenueSymbol: "BTC_USDT", Snapshot: true, Sequence: 9, PrevSequence: 8,
		Bids: []market.Level{{Price: market.MustDecimal("1"), Quantity: market.MustDecimal("2")}}}
	cd := market.Candle{Exchange: "poloniex", Symbol: "BTC-USDT", Interval: "1m", Open: market.MustDecimal("1"), High: market.MustDecimal("2"),
		Low: market.MustDecimal("0.5"), Close: market.MustDecimal("1.5"), Volume: market.MustDecimal("3"), QuoteVolume: market.MustDecimal("4.5"),
		VWAP: market.MustDecimal("1.5"), TradeCount: 3, Final: true}
	kinds := []kind{
		{market.TradeName, market.TradeSchema, func(b []byte) []byte { return market.AppendTrade(b, &tr) }, func(m map[string]any) error {
			got, err := market.TradeFromMap(m)
			if err == nil && (got.TradeID != tr.TradeID || !got.Price.Equal(tr.Price) || !got.Quantity.Equal(tr.Quantity) || got.ExchangeTimeUs != tr.ExchangeTimeUs) {
				t.Fatalf("trade %+v", got)
			}
			return err
		}},
		{market.TickerName, market.TickerSchema, func(b []byte) []byte { return market.AppendTicker(b, &tk) }, func(m map[string]any) error {
			got, err := market.TickerFromMap(m)
			if err == nil && !got.Last.Equal(tk.Last) {
				t.Fatalf("ticker %+v", got)
			}
			return err
		}},
		{market.BookUpdateName, market.BookUpdateSchema, func(b []byte) []byte { return market.AppendBookUpdate(b, &bu) }, func(m map[string]any) error {
			got, err := market.BookUpdateFromMap(m)
			if err == nil && (got.Sequence != 9 || len(got.Bids) != 1 || !got.Bids[0].Quantity.Equal(market.MustDecimal("2"))) {
				t.Fatalf("book %+v", got)
			}
			return err
		}},
		{market.CandleName, market.CandleSchema, func(b []byte) []byte { return market.AppendCandle(b, &cd) }, func(m map[string]any) error {
			got, err := market.CandleFromMap(m)
			if err == nil && (!got.VWAP.Equal(cd.VWAP) || !got.Final || got.TradeCount != 3) {
				t.Fatalf("candle %+v", got)
			}
			return err
		}},
	}
	fresh := serde.New(cl)
	for _, k := range kinds {
		id, err := sd.Register(ctx, market.SubjectFor("market.events", k.name), k.schema)
		if err != nil {
			t.Fatal(err)
		}
		rec := k.encode(serde.AppendHeader(nil, id))
		var m map[string]any
		if err := fresh.Decode(ctx, rec, k.schema, &m); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		if err := k.check(m); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
	}
	subjects, _ := cl.Subjects(ctx)
	if strings.Join(subjects, ",") != "market.events-tickertape.market.BookUpdate,market.events-tickertape.market.Candle,market.events-tickertape.market.Ticker,market.events-tickertape.market.Trade" {
		t.Fatalf("subjects %v", subjects)
	}
}

// TestTradeSchemaEvolution writes with a newer Trade schema (an extra field
// with a default) and reads with ours, and the reverse.
func TestTradeSchemaEvolution(t *testing.T) {
	sd, _ := startRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var doc map[string]any
	json.Unmarshal([]byte(market.TradeSchemaText), &doc)
	doc["fields"] = append(doc["fields"].([]any), map[string]any{"name": "venue_sequence", "type": "long", "default": 0})
	newText, _ := json.Marshal(doc)
	newer := avro.MustParse(string(newText))
	subject := market.SubjectFor("market.events", market.TradeName)

	oldID, err := sd.Register(ctx, subject, market.TradeSchema)
	if err != nil {
		t.Fatal(err)
	}
	newID, err := sd.Register(ctx, subject, newer) // BACKWARD compatible: registered
	if err != nil || newID == oldID {
		t.Fatalf("newer schema: id %d (old %d): %v", newID, oldID, err)
	}
	tr := market.Trade{Exchange: "poloniex", Symbol: "ETH-USDT", VenueSymbol: "ETH_USDT", TradeID: "77", Price: market.MustDecimal("3400.01"),
		Quantity: market.MustDecimal("1.5"), Side: market.SideSell, ExchangeTimeUs: 5, ReceivedTimeUs: 6}
	oldRec := market.AppendTrade(serde.AppendHeader(nil, oldID), &tr)
	newRec, err := sd.AppendEncode(nil, newID, newer, map[string]any{
		"exchange": "poloniex", "symbol": "ETH-USDT", "venue_symbol": "ETH_USDT", "trade_id": "78",
		"price": big.NewRat(340002, 100), "quantity": big.NewRat(3, 1), "quote_quantity": nil, "side": "BUY",
		"exchange_time": time.UnixMicro(7).UTC(), "received_time": time.UnixMicro(8).UTC(), "backfilled": false, "venue_sequence": int64(42)})
	if err != nil {
		t.Fatal(err)
	}
	// Our (older) reader reads the newer record: the extra field is skipped.
	var m map[string]any
	if err := sd.Decode(ctx, newRec, market.TradeSchema, &m); err != nil {
		t.Fatal(err)
	}
	got, err := market.TradeFromMap(m)
	if err != nil || got.TradeID != "78" || got.Price.String() != "3400.02" || got.Side != market.SideBuy {
		t.Fatalf("newer record with the older reader: %+v %v", got, err)
	}
	// The newer reader reads our record: the extra field takes its default.
	m = nil
	if err := sd.Decode(ctx, oldRec, newer, &m); err != nil {
		t.Fatal(err)
	}
	if m["venue_sequence"] != int64(0) || m["trade_id"] != "77" {
		t.Fatalf("older record with the newer reader: %v", m)
	}
}
