package pipeline

// Prometheus metrics of a running pipeline, rendered from Snapshot when
// Prometheus scrapes (exchange connectors, ingest, the candle processor),
// plus each venue's produce-latency histogram, which a snapshot's
// percentiles cannot stand in for. Every venue family carries
// exchange="<name as events carry it>" (poloniex, or poloniex-synthetic for
// the fake), the label the dashboard and market.events use too.

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the pipeline's Prometheus metrics. Register it once,
// before or after Run; before Ready it reports nothing.
func (p *Pipeline) Collector() prometheus.Collector { return &collector{p: p} }

type collector struct{ p *Pipeline }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	ex = "exchange"
	// Exchange connectors (the venue's supervisor).
	mConnections = desc("tickertape_exchange_connections_total", "Streaming connections opened (subscriptions acknowledged).", ex)
	mReconnects  = desc("tickertape_exchange_reconnects_total", "Connections opened after the first one.", ex)
	mConnected   = desc("tickertape_exchange_connected", "1 while a streaming connection is open.", ex)
	mDialErrors  = desc("tickertape_exchange_dial_errors_total", "Attempts to connect that failed.", ex)
	mDisconnects = desc("tickertape_exchange_disconnects_total", "Connections lost, by reason: error (closed or failed) or stall (the heartbeat watchdog fired).", ex, "reason")
	mFrames      = desc("tickertape_exchange_frames_total", "Frames read from the exchange (unusable ones included).", ex)
	mFrameErrors = desc("tickertape_exchange_frame_errors_total", "Unusable frames (or items in them), by kind (malformed, bad_trade, unknown_channel, ...).", ex, "kind")
	mEvents      = desc("tickertape_exchange_events_total", "Normalized events from the exchange, by type (trade, ticker, book_update; backfilled trades included, duplicates not).", ex, "type")
	mDuplicates  = desc("tickertape_exchange_duplicate_trades_total", "Trades dropped because their id was already seen (reconnect overlap, backfill).", ex)
	mGaps        = desc("tickertape_exchange_gaps_total", "Book sequence gaps detected.", ex)
	mResyncs     = desc("tickertape_exchange_resyncs_total", "Book resynchronizations (a fresh snapshot after a gap).", ex)
	mDropped     = desc("tickertape_exchange_book_updates_dropped_total", "Book updates dropped while waiting for a snapshot after a gap.", ex)
	mBackfills   = desc("tickertape_exchange_backfills_total", "REST trade backfills run (one per symbol per connection).", ex)
	mBackfillErr = desc("tickertape_exchange_backfill_errors_total", "REST trade backfills that failed (retried).", ex)
	mIncomplete  = desc("tickertape_exchange_backfills_incomplete_total", "Ranges of trades a backfill could not get back from the venue (trades may be missing).", ex)
	mStreamGaps  = desc("tickertape_exchange_stream_gaps_total", "Gaps in the venue's own stream sequence (not the book's).", ex)
	mRollovers   = desc("tickertape_exchange_rollovers_total", "Planned connection roll-overs (a new session before the venue closes the old one).", ex)
	mMissing     = desc("tickertape_exchange_backfill_missing_trades_total", "Trades in ranges the venue could not give back, where its ids tell.", ex)
	mUnknown     = desc("tickertape_exchange_backfills_incomplete_unknown_size_total", "Ranges of lost trades whose size the venue's ids cannot tell (a short REST history such as Bybit's last 60 trades).", ex)
	mBackfilled  = desc("tickertape_exchange_backfilled_trades_total", "Trades recovered by REST backfill.", ex)
	// Ingest.
	mIngested = desc("tickertape_ingest_events_total", "Events handed to the producer, by type.", ex, "type")
	mProduced = desc("tickertape_ingest_produced_records_total", "Records acknowledged by Kafka (acks=all).", ex)
	mFailed   = desc("tickertape_ingest_failed_records_total", "Records Kafka refused after the client's retries (the run stops).", ex)
	mRetries  = desc("tickertape_ingest_produce_retries_total", "Produce requests that failed on the wire and were sent again (idempotently).", ex)
	// The candle processor.
	mRecords   = desc("tickertape_processor_records_total", "Records read from the events topic, by kind: trade (aggregated), other (known market types the processor does not use), unknown (types it does not know).", "kind")
	mCandles   = desc("tickertape_processor_candles_total", "Candles written, by state: final (the window closed) or update (an open window's progress).", "state")
	mLate      = desc("tickertape_processor_late_trades_total", "Trades that arrived after their window closed (written to the late topic).")
	mDead      = desc("tickertape_processor_dead_letters_total", "Undecodable records written to the dead-letter topic.")
	mCommits   = desc("tickertape_processor_commits_total", "Offset commits (with watermarks) of the processor's group.")
	mBehind    = desc("tickertape_processor_behind_records", "Records of the events topic this processor has not processed yet (end offsets minus its read positions; kafka_consumergroup_lag counts from the committed offset, which stays at the oldest open window).")
	mWatermark = desc("tickertape_processor_watermark_delay_seconds", "Wall-clock time minus a symbol's watermark: how far behind now its candles close (allowed lateness included).", ex, "symbol")
)

// Describe sends nothing: the collector is unchecked, because its venues
// (and their histograms) are known only once Run has built them. The
// families are still fixed (allDescs and the histograms).
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	p := c.p
	select {
	case <-p.ready:
	default:
		return
	}
	s := p.Snapshot()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for i, v := range s.Venues {
		name := p.venues[i].v.Connector.Name()
		counter(mConnections, v.Connects, name)
		counter(mReconnects, v.Reconnects, name)
		up := 0.0
		if v.Connected {
			up = 1
		}
		gauge(mConnected, up, name)
		counter(mDialErrors, v.DialErrors, name)
		counter(mDisconnects, v.Disconnects, name, "error")
		counter(mDisconnects, v.Stalls, name, "stall")
		counter(mFrames, v.Frames, name)
		for kind, n := range v.FrameErrorKinds {
			counter(mFrameErrors, n, name, kind)
		}
		sc := &p.venues[i].in.Supervisor.Counters
		counter(mEvents, sc.Trades.Load(), name, "trade")
		counter(mEvents, sc.Tickers.Load(), name, "ticker")
		counter(mEvents, sc.BookUpdates.Load(), name, "book_update")
		counter(mDuplicates, v.Duplicates, name)
		counter(mGaps, v.Gaps, name)
		counter(mResyncs, v.Resyncs, name)
		counter(mDropped, v.BookUpdatesDropped, name)
		counter(mBackfills, v.BackfillRuns, name)
		counter(mBackfillErr, v.BackfillErrors, name)
		counter(mIncomplete, v.BackfillIncomplete, name)
		counter(mBackfilled, v.BackfilledTrades, name)
		counter(mStreamGaps, v.StreamGaps, name)
		counter(mRollovers, v.Rollovers, name)
		counter(mMissing, v.TradesMissing, name)
		counter(mUnknown, v.BackfillUnknownSize, name)
		counter(mIngested, v.Trades, name, "trade")
		counter(mIngested, v.Tickers, name, "ticker")
		counter(mIngested, v.BookUpdates, name, "book_update")
		counter(mProduced, v.Produced, name)
		counter(mFailed, v.ProduceFailed, name)
		counter(mRetries, v.ProduceRetries, name)
		p.venues[i].in.LatencyHistogram().Collect(ch)
	}
	if cs := s.Candles; cs != nil {
		counter(mRecords, cs.Trades, "trade")
		counter(mRecords, cs.SkippedKnown, "other")
		counter(mRecords, cs.SkippedUnknown, "unknown")
		counter(mCandles, cs.FinalCandles, "final")
		counter(mCandles, cs.UpdateCandles, "update")
		counter(mLate, cs.Late)
		counter(mDead, cs.DeadLettered)
		counter(mCommits, cs.Commits)
		if cs.Behind >= 0 {
			gauge(mBehind, float64(cs.Behind))
		}
		nowUs := s.At.UnixMicro()
		for key, wm := range cs.Watermarks {
			exch, sym, _ := strings.Cut(key, ":")
			gauge(mWatermark, time.Duration((nowUs-wm)*1000).Seconds(), exch, sym)
		}
	}
}
