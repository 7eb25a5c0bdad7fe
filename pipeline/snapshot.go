package pipeline

import (
	"sort"
	"time"

	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/market"
)

// Snapshot is the state of a running pipeline at one moment. Totals count
// from the start of Run; rates are over the last sample period.
type Snapshot struct {
	At     time.Time
	Uptime time.Duration
	// Venues are the venues being ingested, in Config order.
	Venues []VenueSnapshot
	// Candles is nil without a candle processor.
	Candles *CandleSnapshot
	// Books is nil without a book builder.
	Books *BooksSnapshot
}

// BooksSnapshot is the book builder's state.
type BooksSnapshot struct {
	Group, BooksTopic, BBOTopic string
	Depth                       int
	Records, BookRecords        int64 // read from the events topic; of them, book messages
	BBORecords, Undecodable     int64
	Books, BBOs, Consolidated   int64 // records written
	Commits                     int64
	// Venues are the builder's counters per exchange (as events name it).
	Venues map[string]book.VenueStats
	// LatestBBO is the latest BBO written per exchange:SYMBOL (consolidated
	// ones under consolidated:SYMBOL).
	LatestBBO map[string]market.BBO
}

// VenueSnapshot is one venue's ingest.
type VenueSnapshot struct {
	Name      string
	Synthetic bool
	Symbols   []string

	// Events delivered to Kafka per second, by type.
	TradesPerSec, TickersPerSec, BookUpdatesPerSec float64
	// Totals by type, as ingest handed them to the producer.
	Trades, Tickers, BookUpdates int64

	// Delivery.
	EventsIn, Produced, ProduceFailed, ProduceRetries int64
	ProduceLatencyP50, ProduceLatencyP99              time.Duration

	// The connection and exactness (the venue's supervisor).
	Connects, Reconnects, DialErrors, Disconnects, Stalls int64
	Duplicates                                            int64
	Gaps, Resyncs, BookUpdatesDropped                     int64
	BackfillRuns, BackfillErrors, BackfilledTrades        int64
	// BackfillIncomplete counts ranges of trades the venue could not give
	// back (logged with the range); TradesMissing the trades in them where
	// the venue's ids tell.
	BackfillIncomplete, TradesMissing int64
	StreamGaps, Rollovers             int64
	FrameErrors                       int64
	FrameErrorKinds                   map[string]int64
	Frames                            int64 // frames read from the venue
	Connected                         bool  // a streaming connection is open now

	// BackfillUnknownSize counts the BackfillIncomplete ranges whose size
	// the venue's ids cannot tell.
	BackfillUnknownSize int64

	// LatestCandles are the processor's latest candle of each of this
	// venue's symbols and intervals (none without a processor), sorted by
	// symbol, then interval width.
	LatestCandles []market.Candle
}

// CandleSnapshot is the candle processor's state.
type CandleSnapshot struct {
	Group                        string
	Records, Trades              int64
	SkippedKnown, SkippedUnknown int64
	DeadLettered, Late           int64
	FinalCandles, UpdateCandles  int64
	Commits                      int64
	// ExactlyOnce: outputs and offsets commit in one transaction per batch
	// (consumers of the candles topic read committed).
	ExactlyOnce bool
	// Lag is the group's total lag on the events topic (end minus committed
	// offset), as of the last sample; -1 while unknown (LagError says why,
	// when there was an error). The committed offset stays at the oldest
	// open window by design, so this is how far a restart re-reads, not
	// how far behind the processor is: that is Behind.
	Lag int64
	// Behind is the records of this process's partitions not processed yet
	// (end offset minus the processor's read position); -1 while unknown.
	Behind   int64
	LagError string
	// Watermarks are each key's (exchange:SYMBOL) watermark, UTC µs:
	// windows ending at or before it are closed.
	Watermarks map[string]int64
	// LatestCandles are the latest candle of every key, every venue, sorted
	// by exchange, symbol, then interval width.
	LatestCandles []market.Candle
}

// Snapshot returns the pipeline's current state. It is safe to call at any
// time from any goroutine; before Ready it is empty.
func (p *Pipeline) Snapshot() Snapshot {
	select {
	case <-p.ready:
	default:
		return Snapshot{At: time.Now().UTC()}
	}
	p.mu.Lock()
	smp := p.sample
	p.mu.Unlock()
	s := Snapshot{At: time.Now().UTC(), Uptime: time.Since(p.started)}
	var latest []market.Candle
	if p.proc != nil {
		c := &p.proc.Counters
		for _, cd := range c.Latest() {
			latest = append(latest, cd)
		}
		sortCandles(latest)
		s.Candles = &CandleSnapshot{Group: p.proc.Group(),
			Records: c.Records.Load(), Trades: c.Trades.Load(), SkippedKnown: c.SkippedKnown.Load(), SkippedUnknown: c.SkippedUnknown.Load(),
			DeadLettered: c.DeadLettered.Load(), Late: c.Late.Load(), FinalCandles: c.FinalCandles.Load(), UpdateCandles: c.UpdateCandles.Load(),
			Commits: c.Commits.Load(), ExactlyOnce: p.proc.ExactlyOnce(), Lag: smp.lag, Behind: smp.behind, LatestCandles: latest, Watermarks: c.Watermarks()}
		if smp.lagErr != nil {
			s.Candles.LagError = smp.lagErr.Error()
		}
	}
	if p.books != nil {
		c := &p.books.Counters
		s.Books = &BooksSnapshot{Group: p.books.Group(), BooksTopic: p.info.BooksTopic, BBOTopic: p.info.BBOTopic, Depth: p.books.Depth(),
			Records: c.Records.Load(), BookRecords: c.BookRecords.Load(), BBORecords: c.BBORecords.Load(), Undecodable: c.Undecodable.Load(),
			Books: c.Books.Load(), BBOs: c.BBOs.Load(), Consolidated: c.Consolidated.Load(), Commits: c.Commits.Load(),
			Venues: c.Venues(), LatestBBO: c.LatestBBO()}
	}
	for _, v := range p.venues {
		ic, sc := &v.in.Counters, &v.in.Supervisor.Counters
		r := smp.rates[v.cfg.Name]
		p50, p99 := ic.ProduceLatency()
		vs := VenueSnapshot{Name: v.cfg.Name, Synthetic: v.v.Synthetic, Symbols: v.cfg.Symbols,
			TradesPerSec: r[0], TickersPerSec: r[1], BookUpdatesPerSec: r[2],
			Trades: ic.Trades.Load(), Tickers: ic.Tickers.Load(), BookUpdates: ic.Books.Load(),
			EventsIn: ic.EventsIn.Load(), Produced: ic.Produced.Load(), ProduceFailed: ic.Failed.Load(), ProduceRetries: ic.Retried.Load(),
			ProduceLatencyP50: p50, ProduceLatencyP99: p99,
			Connects: sc.Connects.Load(), Reconnects: max(sc.Connects.Load()-1, 0), DialErrors: sc.DialErrors.Load(), Disconnects: sc.Disconnects.Load(),
			Stalls: sc.Stalls.Load(), Duplicates: sc.Duplicates.Load(), Gaps: sc.Gaps.Load(), Resyncs: sc.Resyncs.Load(),
			BookUpdatesDropped: sc.BookUpdatesDropped.Load(), BackfillRuns: sc.BackfillRuns.Load(), BackfillErrors: sc.BackfillErrors.Load(),
			BackfilledTrades: sc.BackfilledTrades.Load(), BackfillIncomplete: sc.BackfillGaps.Load(), TradesMissing: sc.BackfillMissing.Load(), BackfillUnknownSize: sc.BackfillUnknown.Load(),
			StreamGaps: sc.StreamGaps.Load(), Rollovers: sc.Rollovers.Load(),
			FrameErrors: sc.FrameErrors.Load(), FrameErrorKinds: sc.FrameErrorKinds(), Frames: sc.Frames.Load(), Connected: sc.Connected.Load()}
		for _, c := range latest {
			if c.Exchange == v.v.Connector.Name() {
				vs.LatestCandles = append(vs.LatestCandles, c)
			}
		}
		s.Venues = append(s.Venues, vs)
	}
	return s
}

// intervalWidth orders interval names by their duration ("1s" < "1m").
func intervalWidth(name string) time.Duration {
	d, err := time.ParseDuration(name)
	if err != nil {
		return 1 << 62
	}
	return d
}

func sortCandles(cs []market.Candle) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Exchange != b.Exchange {
			return a.Exchange < b.Exchange
		}
		if a.Symbol != b.Symbol {
			return a.Symbol < b.Symbol
		}
		return intervalWidth(a.Interval) < intervalWidth(b.Interval)
	})
}
