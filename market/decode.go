package market

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// The FromMap functions convert a record decoded generically by hamba/avro
// (map[string]any: decimals as *big.Rat, timestamps as time.Time, enums as
// strings, null union branches as nil) into the Go types. Serde resolves the
// writer's schema against ours first, so fields a writer did not have arrive
// with their defaults; a missing required field is an error.

type fields map[string]any

func (f fields) str(name string) (string, error) {
	v, ok := f[name].(string)
	if !ok {
		return "", fmt.Errorf("market: field %s: want a string, got %T", name, f[name])
	}
	return v, nil
}

func (f fields) dec(name string) (Decimal, bool, error) {
	switch v := f[name].(type) {
	case nil:
		return Decimal{}, false, nil
	case *big.Rat:
		d, err := DecimalFromRat(v)
		return d, err == nil, err
	}
	return Decimal{}, false, fmt.Errorf("market: field %s: want a decimal, got %T", name, f[name])
}

func (f fields) reqDec(name string) (Decimal, error) {
	d, ok, err := f.dec(name)
	if err == nil && !ok {
		err = fmt.Errorf("market: field %s is missing", name)
	}
	return d, err
}

func (f fields) micros(name string) (int64, bool, error) {
	switch v := f[name].(type) {
	case nil:
		return 0, false, nil
	case time.Time:
		return v.UnixMicro(), true, nil
	case int64:
		return v, true, nil
	}
	return 0, false, fmt.Errorf("market: field %s: want a timestamp, got %T", name, f[name])
}

func (f fields) long(name string) (int64, bool, error) {
	switch v := f[name].(type) {
	case nil:
		return 0, false, nil
	case int64:
		return v, true, nil
	case int:
		return int64(v), true, nil
	case int32:
		return int64(v), true, nil
	}
	return 0, false, fmt.Errorf("market: field %s: want a long, got %T", name, f[name])
}

func (f fields) boolean(name string) bool {
	b, _ := f[name].(bool)
	return b
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// TradeFromMap converts a generically decoded Trade.
func TradeFromMap(m map[string]any) (Trade, error) {
	f := fields(m)
	var t Trade
	var errs [10]error
	t.Exchange, errs[0] = f.str("exchange")
	t.Symbol, errs[1] = f.str("symbol")
	t.VenueSymbol, errs[2] = f.str("venue_symbol")
	t.TradeID, errs[3] = f.str("trade_id")
	t.Price, errs[4] = f.reqDec("price")
	t.Quantity, errs[5] = f.reqDec("quantity")
	t.QuoteQuantity, t.HasQuoteQty, errs[6] = f.dec("quote_quantity")
	switch f["side"] {
	case "BUY":
		t.Side = SideBuy
	case "SELL":
		t.Side = SideSell
	}
	t.ExchangeTimeUs, _, errs[7] = f.micros("exchange_time")
	t.ReceivedTimeUs, _, errs[8] = f.micros("received_time")
	t.Backfilled = f.boolean("backfilled")
	return t, firstErr(errs[:]...)
}

// TickerFromMap converts a generically decoded Ticker.
func TickerFromMap(m map[string]any) (Ticker, error) {
	f := fields(m)
	var t Ticker
	var errs [20]error
	t.Exchange, errs[0] = f.str("exchange")
	t.Symbol, errs[1] = f.str("symbol")
	t.VenueSymbol, errs[2] = f.str("venue_symbol")
	t.Last, errs[3] = f.reqDec("last")
	t.Open, t.HasOHLC, errs[4] = f.dec("open")
	t.High, _, errs[5] = f.dec("high")
	t.Low, _, errs[6] = f.dec("low")
	t.BaseVolume, t.HasVolume, errs[7] = f.dec("base_volume")
	t.QuoteVolume, _, errs[8] = f.dec("quote_volume")
	t.TradeCount, t.HasTradeCount, errs[9] = f.long("trade_count")
	t.DailyChange, t.HasDailyChange, errs[10] = f.dec("daily_change")
	t.MarkPrice, t.HasMarkPrice, errs[11] = f.dec("mark_price")
	t.BestBid, t.HasBBO, errs[12] = f.dec("best_bid")
	t.BestBidSize, _, errs[13] = f.dec("best_bid_size")
	t.BestAsk, _, errs[14] = f.dec("best_ask")
	t.BestAskSize, _, errs[15] = f.dec("best_ask_size")
	t.WindowStartUs, _, errs[16] = f.micros("window_start_time")
	t.ExchangeTimeUs, _, errs[17] = f.micros("exchange_time")
	t.ReceivedTimeUs, _, errs[18] = f.micros("received_time")
	return t, firstErr(errs[:]...)
}

func levelsFrom(v any) ([]Level, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("market: levels: want an array, got %T", v)
	}
	out := make([]Level, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("market: level: want a record, got %T", it)
		}
		p, err1 := fields(m).reqDec("price")
		q, err2 := fields(m).reqDec("quantity")
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		out = append(out, Level{p, q})
	}
	return out, nil
}

// BookUpdateFromMap converts a generically decoded BookUpdate.
func BookUpdateFromMap(m map[string]any) (BookUpdate, error) {
	f := fields(m)
	var u BookUpdate
	var errs [10]error
	u.Exchange, errs[0] = f.str("exchange")
	u.Symbol, errs[1] = f.str("symbol")
	u.VenueSymbol, errs[2] = f.str("venue_symbol")
	u.Snapshot = f.boolean("snapshot")
	u.Sequence, _, errs[3] = f.long("sequence")
	u.PrevSequence, _, errs[4] = f.long("prev_sequence")
	u.Bids, errs[5] = levelsFrom(m["bids"])
	u.Asks, errs[6] = levelsFrom(m["asks"])
	u.ExchangeTimeUs, _, errs[7] = f.micros("exchange_time")
	u.ReceivedTimeUs, _, errs[8] = f.micros("received_time")
	u.ChecksumVerified = f.boolean("checksum_verified")
	u.Chained = f.boolean("chained")
	u.Resync = f.boolean("resync")
	return u, firstErr(errs[:]...)
}

// CandleFromMap converts a generically decoded Candle.
func CandleFromMap(m map[string]any) (Candle, error) {
	f := fields(m)
	var c Candle
	var errs [16]error
	c.Exchange, errs[0] = f.str("exchange")
	c.Symbol, errs[1] = f.str("symbol")
	c.Interval, errs[2] = f.str("interval")
	c.OpenTimeUs, _, errs[3] = f.micros("open_time")
	c.CloseTimeUs, _, errs[4] = f.micros("close_time")
	c.Open, errs[5] = f.reqDec("open")
	c.High, errs[6] = f.reqDec("high")
	c.Low, errs[7] = f.reqDec("low")
	c.Close, errs[8] = f.reqDec("close")
	c.Volume, errs[9] = f.reqDec("volume")
	c.QuoteVolume, errs[10] = f.reqDec("quote_volume")
	c.TradeCount, _, errs[11] = f.long("trade_count")
	c.VWAP, errs[12] = f.reqDec("vwap")
	c.Final = f.boolean("final")
	c.UpdatedTimeUs, _, errs[13] = f.micros("updated_time")
	return c, firstErr(errs[:]...)
}

// BookFromMap converts a generically decoded Book.
func BookFromMap(m map[string]any) (Book, error) {
	f := fields(m)
	var b Book
	var errs [12]error
	b.Exchange, errs[0] = f.str("exchange")
	b.Symbol, errs[1] = f.str("symbol")
	b.VenueSymbol, errs[2] = f.str("venue_symbol")
	status, err := f.str("status")
	switch {
	case err != nil:
		errs[3] = err
	case status == "SYNCED":
		b.Synced = true
	case status != "RESYNCING":
		errs[3] = fmt.Errorf("market: field status: unknown value %q", status)
	}
	b.Sequence, _, errs[4] = f.long("sequence")
	b.ChecksumVerified = f.boolean("checksum_verified")
	var depth, part int64
	depth, _, errs[5] = f.long("depth")
	b.Bids, errs[6] = levelsFrom(m["bids"])
	b.Asks, errs[7] = levelsFrom(m["asks"])
	b.ExchangeTimeUs, _, errs[8] = f.micros("exchange_time")
	b.UpdatedTimeUs, _, errs[9] = f.micros("updated_time")
	part, _, errs[10] = f.long("source_partition")
	b.SourceOffset, _, errs[11] = f.long("source_offset")
	if depth < 0 || depth > 1<<31-1 || part < 0 || part > 1<<31-1 {
		return b, fmt.Errorf("market: depth %d or source_partition %d out of range", depth, part)
	}
	b.Depth, b.SourcePartition = int32(depth), int32(part)
	if e := firstErr(errs[:]...); e != nil {
		return b, e
	}
	if !b.Synced && len(b.Bids)+len(b.Asks) > 0 {
		return b, errors.New("market: a RESYNCING book carries levels")
	}
	return b, nil
}

// BBOFromMap converts a generically decoded BBO.
func BBOFromMap(m map[string]any) (BBO, error) {
	f := fields(m)
	var q BBO
	var errs [12]error
	var hasBS, hasAS bool
	q.Symbol, errs[0] = f.str("symbol")
	q.Exchange, errs[1] = f.str("exchange")
	q.Consolidated = f.boolean("consolidated")
	q.BidExchange, errs[2] = f.str("bid_exchange")
	q.BidPrice, q.HasBid, errs[3] = f.dec("bid_price")
	q.BidSize, hasBS, errs[4] = f.dec("bid_size")
	q.AskExchange, errs[5] = f.str("ask_exchange")
	q.AskPrice, q.HasAsk, errs[6] = f.dec("ask_price")
	q.AskSize, hasAS, errs[7] = f.dec("ask_size")
	q.Sequence, _, errs[8] = f.long("sequence")
	q.ExchangeTimeUs, _, errs[9] = f.micros("exchange_time")
	q.UpdatedTimeUs, _, errs[10] = f.micros("updated_time")
	if q.HasBid != hasBS || q.HasAsk != hasAS {
		errs[11] = errors.New("market: a BBO side has a price without a size or a size without a price")
	}
	return q, firstErr(errs[:]...)
}
