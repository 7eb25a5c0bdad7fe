package exchange

import "github.com/prometheus/client_golang/prometheus"

// Collector returns the supervisor's counters as Prometheus metrics,
// labelled exchange="<connector name>" (a constant label, so that several
// supervisors of different venues register side by side). Values are read
// when Prometheus scrapes.
func (s *Supervisor) Collector() prometheus.Collector {
	return newCollector(s)
}

type collector struct {
	s     *Supervisor
	descs []counterDesc
	conn  *prometheus.Desc
	kinds *prometheus.Desc
}

type counterDesc struct {
	d     *prometheus.Desc
	value func(*Counters) int64
	label string // the variable label's value, if the desc has one
}

func newCollector(s *Supervisor) *collector {
	cl := prometheus.Labels{"exchange": s.cfg.Connector.Name()}
	c := &collector{s: s}
	add := func(name, help string, v func(*Counters) int64) {
		c.descs = append(c.descs, counterDesc{d: prometheus.NewDesc(name, help, nil, cl), value: v})
	}
	addL := func(d *prometheus.Desc, label string, v func(*Counters) int64) {
		c.descs = append(c.descs, counterDesc{d: d, value: v, label: label})
	}
	add("tickertape_exchange_connections_total", "Streaming connections opened (subscriptions acknowledged).", func(c *Counters) int64 { return c.Connects.Load() })
	add("tickertape_exchange_reconnects_total", "Connections opened after the first one.", func(c *Counters) int64 { return max(c.Connects.Load()-1, 0) })
	add("tickertape_exchange_dial_errors_total", "Attempts to connect that failed.", func(c *Counters) int64 { return c.DialErrors.Load() })
	lost := prometheus.NewDesc("tickertape_exchange_disconnects_total", "Connections lost, by reason: error (closed or failed) or stall (the heartbeat watchdog fired).", []string{"reason"}, cl)
	addL(lost, "error", func(c *Counters) int64 { return c.Disconnects.Load() })
	addL(lost, "stall", func(c *Counters) int64 { return c.Stalls.Load() })
	add("tickertape_exchange_frames_total", "Frames read from the exchange (unusable ones included).", func(c *Counters) int64 { return c.Frames.Load() })
	ev := prometheus.NewDesc("tickertape_exchange_events_total", "Normalized events passed on, by type (backfilled trades included, duplicates not).", []string{"type"}, cl)
	addL(ev, "trade", func(c *Counters) int64 { return c.Trades.Load() })
	addL(ev, "ticker", func(c *Counters) int64 { return c.Tickers.Load() })
	addL(ev, "book_update", func(c *Counters) int64 { return c.BookUpdates.Load() })
	add("tickertape_exchange_duplicate_trades_total", "Trades dropped because their id was already seen (reconnect overlap, backfill).", func(c *Counters) int64 { return c.Duplicates.Load() })
	add("tickertape_exchange_gaps_total", "Book sequence gaps detected.", func(c *Counters) int64 { return c.Gaps.Load() })
	add("tickertape_exchange_resyncs_total", "Book resynchronizations (a fresh snapshot after a gap).", func(c *Counters) int64 { return c.Resyncs.Load() })
	add("tickertape_exchange_book_updates_dropped_total", "Book updates dropped while waiting for a snapshot after a gap.", func(c *Counters) int64 { return c.BookUpdatesDropped.Load() })
	add("tickertape_exchange_backfills_total", "REST trade backfills run (one per symbol per connection).", func(c *Counters) int64 { return c.BackfillRuns.Load() })
	add("tickertape_exchange_backfill_errors_total", "REST trade backfills that failed (retried).", func(c *Counters) int64 { return c.BackfillErrors.Load() })
	add("tickertape_exchange_backfills_incomplete_total", "Backfills that could not reach back to the last trade seen (trades may be missing).", func(c *Counters) int64 { return c.BackfillIncomplete.Load() })
	add("tickertape_exchange_backfilled_trades_total", "Trades recovered by REST backfill.", func(c *Counters) int64 { return c.BackfilledTrades.Load() })
	c.conn = prometheus.NewDesc("tickertape_exchange_connected", "1 while a streaming connection is open.", nil, cl)
	c.kinds = prometheus.NewDesc("tickertape_exchange_frame_errors_total", "Unusable frames (or items in them), by kind (malformed, bad_trade, unknown_channel, ...).", []string{"kind"}, cl)
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, d := range c.descs {
		if !seen[d.d] {
			seen[d.d] = true
			ch <- d.d
		}
	}
	ch <- c.conn
	ch <- c.kinds
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctr := &c.s.Counters
	for _, d := range c.descs {
		var labels []string
		if d.label != "" {
			labels = []string{d.label}
		}
		ch <- prometheus.MustNewConstMetric(d.d, prometheus.CounterValue, float64(d.value(ctr)), labels...)
	}
	up := 0.0
	if ctr.Connected.Load() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.conn, prometheus.GaugeValue, up)
	for kind, n := range ctr.FrameErrorKinds() {
		ch <- prometheus.MustNewConstMetric(c.kinds, prometheus.CounterValue, float64(n), kind)
	}
}
