package stream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the processor's Prometheus metrics, read when
// Prometheus scrapes.
func (p *Processor) Collector() prometheus.Collector { return &collector{p: p} }

type collector struct{ p *Processor }

var (
	descRecords    = prometheus.NewDesc("tickertape_processor_records_total", "Records read from the events topic, by kind: trade (aggregated), other (known market types the processor does not use), unknown (types it does not know).", []string{"kind"}, nil)
	descCandles    = prometheus.NewDesc("tickertape_processor_candles_total", "Candles written, by state: final (the window closed) or update (an open window's progress).", []string{"state"}, nil)
	descLate       = prometheus.NewDesc("tickertape_processor_late_trades_total", "Trades that arrived after their window closed (written to the late topic).", nil, nil)
	descDead       = prometheus.NewDesc("tickertape_processor_dead_letters_total", "Undecodable records written to the dead-letter topic.", nil, nil)
	descCommits    = prometheus.NewDesc("tickertape_processor_commits_total", "Offset commits (with watermarks) of the processor's group.", nil, nil)
	descWatermarkD = prometheus.NewDesc("tickertape_processor_watermark_delay_seconds", "Wall-clock time minus a symbol's watermark: how far behind now its candles close (allowed lateness included).", []string{"exchange", "symbol"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descCandles, descLate, descDead, descCommits, descWatermarkD} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := &c.p.Stats
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descRecords, s.Trades.Load(), "trade")
	counter(descRecords, s.SkippedKnown.Load(), "other")
	counter(descRecords, s.SkippedUnknown.Load(), "unknown")
	counter(descCandles, s.FinalCandles.Load(), "final")
	counter(descCandles, s.UpdateCandles.Load(), "update")
	counter(descLate, s.Late.Load())
	counter(descDead, s.DeadLettered.Load())
	counter(descCommits, s.Commits.Load())
	now := c.p.cfg.Now().UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, wm := range s.watermarks {
		ch <- prometheus.MustNewConstMetric(descWatermarkD, prometheus.GaugeValue, time.Duration((now-wm)*1000).Seconds(), k[0], k[1])
	}
}
