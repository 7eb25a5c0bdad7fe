package market

// Hand-written Avro binary encoders for the market schemas. They are the hot
// path of ingest (one call per event, no allocation beyond growing b), and
// are checked against hamba/avro's decoder field by field in the tests; if
// a schema file changes, those tests fail until this file follows.

import (
	"encoding/binary"
)

func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendDecimal writes d as Avro decimal(38,18): the unscaled value as
// minimal big-endian two's complement bytes.
func appendDecimal(b []byte, d Decimal) []byte {
	hi, lo := d.Unscaled18()
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(hi))
	binary.BigEndian.PutUint64(buf[8:], lo)
	i := 0
	for i < 15 && ((buf[i] == 0 && buf[i+1]&0x80 == 0) || (buf[i] == 0xff && buf[i+1]&0x80 != 0)) {
		i++
	}
	b = binary.AppendVarint(b, int64(16-i))
	return append(b, buf[i:]...)
}

// appendOptDecimal writes the union ["null", decimal].
func appendOptDecimal(b []byte, d Decimal, ok bool) []byte {
	if !ok {
		return append(b, 0)
	}
	return appendDecimal(append(b, 2), d) // branch 1, zigzag
}

func appendOptLong(b []byte, v int64, ok bool) []byte {
	if !ok {
		return append(b, 0)
	}
	return appendLong(append(b, 2), v)
}

// AppendTrade appends t in the Avro binary encoding of TradeSchema.
func AppendTrade(b []byte, t *Trade) []byte {
	b = appendString(b, t.Exchange)
	b = appendString(b, t.Symbol)
	b = appendString(b, t.VenueSymbol)
	b = appendString(b, t.TradeID)
	b = appendDecimal(b, t.Price)
	b = appendDecimal(b, t.Quantity)
	b = appendOptDecimal(b, t.QuoteQuantity, t.HasQuoteQty)
	b = appendLong(b, t.Side.avroIndex())
	b = appendLong(b, t.ExchangeTimeUs)
	b = appendLong(b, t.ReceivedTimeUs)
	return appendBool(b, t.Backfilled)
}

// AppendTicker appends t in the Avro binary encoding of TickerSchema.
func AppendTicker(b []byte, t *Ticker) []byte {
	b = appendString(b, t.Exchange)
	b = appendString(b, t.Symbol)
	b = appendString(b, t.VenueSymbol)
	b = appendDecimal(b, t.Last)
	b = appendOptDecimal(b, t.Open, t.HasOHLC)
	b = appendOptDecimal(b, t.High, t.HasOHLC)
	b = appendOptDecimal(b, t.Low, t.HasOHLC)
	b = appendOptDecimal(b, t.BaseVolume, t.HasVolume)
	b = appendOptDecimal(b, t.QuoteVolume, t.HasVolume)
	b = appendOptLong(b, t.TradeCount, t.HasTradeCount)
	b = appendOptDecimal(b, t.DailyChange, t.HasDailyChange)
	b = appendOptDecimal(b, t.MarkPrice, t.HasMarkPrice)
	b = appendOptDecimal(b, t.BestBid, t.HasBBO)
	b = appendOptDecimal(b, t.BestBidSize, t.HasBBO)
	b = appendOptDecimal(b, t.BestAsk, t.HasBBO)
	b = appendOptDecimal(b, t.BestAskSize, t.HasBBO)
	b = appendOptLong(b, t.WindowStartUs, t.WindowStartUs != 0)
	b = appendLong(b, t.ExchangeTimeUs)
	return appendLong(b, t.ReceivedTimeUs)
}

func appendLevels(b []byte, ls []Level) []byte {
	if len(ls) > 0 {
		b = appendLong(b, int64(len(ls)))
		for _, l := range ls {
			b = appendDecimal(b, l.Price)
			b = appendDecimal(b, l.Quantity)
		}
	}
	return append(b, 0)
}

// AppendBookUpdate appends u in the Avro binary encoding of BookUpdateSchema.
func AppendBookUpdate(b []byte, u *BookUpdate) []byte {
	b = appendString(b, u.Exchange)
	b = appendString(b, u.Symbol)
	b = appendString(b, u.VenueSymbol)
	b = appendBool(b, u.Snapshot)
	b = appendLong(b, u.Sequence)
	b = appendLong(b, u.PrevSequence)
	b = appendLevels(b, u.Bids)
	b = appendLevels(b, u.Asks)
	b = appendLong(b, u.ExchangeTimeUs)
	b = appendLong(b, u.ReceivedTimeUs)
	b = appendBool(b, u.ChecksumVerified)
	b = appendBool(b, u.Chained)
	return appendBool(b, u.Resync)
}

// AppendCandle appends c in the Avro binary encoding of CandleSchema.
func AppendCandle(b []byte, c *Candle) []byte {
	b = appendString(b, c.Exchange)
	b = appendString(b, c.Symbol)
	b = appendString(b, c.Interval)
	b = appendLong(b, c.OpenTimeUs)
	b = appendLong(b, c.CloseTimeUs)
	b = appendDecimal(b, c.Open)
	b = appendDecimal(b, c.High)
	b = appendDecimal(b, c.Low)
	b = appendDecimal(b, c.Close)
	b = appendDecimal(b, c.Volume)
	b = appendDecimal(b, c.QuoteVolume)
	b = appendLong(b, c.TradeCount)
	b = appendDecimal(b, c.VWAP)
	b = appendBool(b, c.Final)
	return appendLong(b, c.UpdatedTimeUs)
}

// AppendBook appends b in the Avro binary encoding of BookSchema.
func AppendBook(buf []byte, b *Book) []byte {
	buf = appendString(buf, b.Exchange)
	buf = appendString(buf, b.Symbol)
	buf = appendString(buf, b.VenueSymbol)
	if b.Synced {
		buf = appendLong(buf, 0)
	} else {
		buf = appendLong(buf, 1)
	}
	buf = appendLong(buf, b.Sequence)
	buf = appendBool(buf, b.ChecksumVerified)
	buf = appendLong(buf, int64(b.Depth))
	buf = appendLevels(buf, b.Bids)
	buf = appendLevels(buf, b.Asks)
	buf = appendLong(buf, b.ExchangeTimeUs)
	buf = appendLong(buf, b.UpdatedTimeUs)
	buf = appendLong(buf, int64(b.SourcePartition))
	return appendLong(buf, b.SourceOffset)
}

// AppendBBO appends q in the Avro binary encoding of BBOSchema.
func AppendBBO(b []byte, q *BBO) []byte {
	b = appendString(b, q.Symbol)
	b = appendString(b, q.Exchange)
	b = appendBool(b, q.Consolidated)
	b = appendString(b, q.BidExchange)
	b = appendOptDecimal(b, q.BidPrice, q.HasBid)
	b = appendOptDecimal(b, q.BidSize, q.HasBid)
	b = appendString(b, q.AskExchange)
	b = appendOptDecimal(b, q.AskPrice, q.HasAsk)
	b = appendOptDecimal(b, q.AskSize, q.HasAsk)
	b = appendLong(b, q.Sequence)
	b = appendLong(b, q.ExchangeTimeUs)
	return appendLong(b, q.UpdatedTimeUs)
}
