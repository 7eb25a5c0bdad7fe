package market

import "time"

// Side is the taker's side of a trade.
type Side uint8

// The sides, in the order of the Avro enum's symbols.
const (
	SideUnknown Side = iota
	SideBuy
	SideSell
)

var sideNames = [...]string{"UNKNOWN", "BUY", "SELL"}

func (s Side) String() string {
	if int(s) < len(sideNames) {
		return sideNames[s]
	}
	return "UNKNOWN"
}

// avroSide maps a Side to its index in the Avro enum Side, whose symbols
// are BUY, SELL, UNKNOWN (UNKNOWN last, as the enum's default).
func (s Side) avroIndex() int64 {
	switch s {
	case SideBuy:
		return 0
	case SideSell:
		return 1
	}
	return 2
}

// Micros converts a time to UTC microseconds since the epoch.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Trade is one executed trade.
type Trade struct {
	Exchange    string  // "poloniex"
	Symbol      string  // normalized BASE-QUOTE
	VenueSymbol string  // as the exchange spells it (BTC_USDT)
	TradeID     string  // the exchange's id, unique per exchange and symbol
	Price       Decimal // quote per base
	Quantity    Decimal // base quantity
	// QuoteQuantity is the quote amount the exchange reports (Poloniex:
	// amount), when it reports one. Not recomputed: venues round it.
	QuoteQuantity  Decimal
	HasQuoteQty    bool
	Side           Side  // taker side
	ExchangeTimeUs int64 // when the exchange executed it (UTC µs)
	ReceivedTimeUs int64 // when we received it (UTC µs)
	Backfilled     bool  // it came from the REST backfill, not the stream
}

// Ticker is a venue's summary of one market: last price, best bid and ask
// when the venue sends them, and its rolling 24h figures.
type Ticker struct {
	Exchange, Symbol, VenueSymbol string
	Last                          Decimal
	// Optional figures: a venue that does not send one leaves its Has flag
	// false, and the Avro field is null.
	Open, High, Low                Decimal
	HasOHLC                        bool
	BaseVolume, QuoteVolume        Decimal
	HasVolume                      bool
	TradeCount                     int64
	HasTradeCount                  bool
	DailyChange                    Decimal // relative change over the window (Poloniex dailyChange)
	HasDailyChange                 bool
	MarkPrice                      Decimal
	HasMarkPrice                   bool
	BestBid, BestBidSize           Decimal
	BestAsk, BestAskSize           Decimal
	HasBBO                         bool
	WindowStartUs                  int64 // start of the 24h window, 0 if unknown
	ExchangeTimeUs, ReceivedTimeUs int64
}

// Level is one price level of an L2 book. In an update a zero Quantity
// removes the level.
type Level struct {
	Price, Quantity Decimal
}

// BookUpdate is an L2 book snapshot (Snapshot true: replaces the book) or
// an incremental update, with the venue's sequence numbers: an update
// follows its predecessor when its PrevSequence equals the predecessor's
// Sequence.
type BookUpdate struct {
	Exchange, Symbol, VenueSymbol  string
	Snapshot                       bool
	Sequence                       int64
	PrevSequence                   int64
	Bids, Asks                     []Level
	ExchangeTimeUs, ReceivedTimeUs int64
	// Checksum is the venue's checksum of the book after this message
	// (Kraken's CRC32 of the top 10 levels), when HasChecksum; it is
	// verified by the venue's BookSync and not encoded in market.events.
	Checksum    uint32
	HasChecksum bool
	// ChecksumVerified: ingest verified the venue's checksum of the book
	// after this message (Avro checksum_verified).
	ChecksumVerified bool
	// Chained: PrevSequence chains this symbol's book messages, so a
	// consumer can detect a gap itself (Avro chained).
	Chained bool
	// Resync: a marker, not a change: ingest lost book messages of this
	// symbol and asked for a new snapshot; the book is unknown until the
	// next snapshot. It carries no levels.
	Resync bool
}

// Candle is an OHLCV bar for one symbol and interval, with VWAP. Final is
// false while its window is open (an update) and true once it has closed.
type Candle struct {
	Exchange, Symbol        string
	Interval                string // "1s", "1m", "5m", "1h"
	OpenTimeUs, CloseTimeUs int64  // [open, close)
	Open, High, Low, Close  Decimal
	Volume                  Decimal // base
	QuoteVolume             Decimal // Σ price × quantity
	TradeCount              int64
	VWAP                    Decimal // QuoteVolume / Volume, rounded half away from zero to at most 18 decimals that fit 64 bits
	Final                   bool
	UpdatedTimeUs           int64 // when this record was computed
}

// Book is a venue's verified top-N L2 book as the book builder publishes it
// to market.books (keyed exchange:SYMBOL). A book that is not Synced
// carries no levels: its true state is unknown.
type Book struct {
	Exchange, Symbol, VenueSymbol string
	Synced                        bool  // Avro status SYNCED; false is RESYNCING
	Sequence                      int64 // of the last book message applied
	ChecksumVerified              bool
	Depth                         int32
	Bids, Asks                    []Level // best first, at most Depth each
	ExchangeTimeUs, UpdatedTimeUs int64
	SourcePartition               int32 // the market.events partition it is built from
	SourceOffset                  int64 // the offset there of the last record applied
}

// Key is the book's record key (exchange:SYMBOL).
func (b *Book) Key() string { return EventKey(b.Exchange, b.Symbol) }

// BBO is a best bid and ask: one venue's, or (Consolidated) the best
// across venues, naming the venue that holds each side. A missing side has
// its Has flag false.
type BBO struct {
	Symbol                        string // normalized BASE-QUOTE; the record key
	Exchange                      string // the venue, or ConsolidatedExchange
	Consolidated                  bool
	BidExchange                   string
	BidPrice, BidSize             Decimal
	HasBid                        bool
	AskExchange                   string
	AskPrice, AskSize             Decimal
	HasAsk                        bool
	Sequence                      int64
	ExchangeTimeUs, UpdatedTimeUs int64
}

// ConsolidatedExchange is the Exchange of a consolidated BBO.
const ConsolidatedExchange = "consolidated"
