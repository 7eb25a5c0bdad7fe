package web

import (
	"context"
	"math"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The health view is computed from the same Prometheus registry /metrics
// serves, by one sampler for all browsers, and only while someone watches.

// healthJSON is one sample: rates over the last period, totals since start.
type healthJSON struct {
	TimeUs int64 `json:"time_us"`
	// Per venue.
	Venues []venueHealth `json:"venues"`
	// Pipeline-wide.
	ProducedPerSec   float64            `json:"produced_per_sec"`
	CandlesPerSec    float64            `json:"candles_per_sec"`
	BrokerInBytesSec float64            `json:"broker_in_bytes_per_sec"`
	ProduceP99Ms     float64            `json:"produce_p99_ms"`
	FsyncP99Ms       float64            `json:"fsync_p99_ms"`
	Lag              map[string]float64 `json:"lag"`    // by consumer group, from the committed offsets
	Behind           *float64           `json:"behind"` // records the candle processor has not processed yet
	Errors           errorsJSON         `json:"errors"`
	Dashboard        dashboardJSON      `json:"dashboard"`
	Available        []string           `json:"available"` // which parts of the health view have data (broker, ingest, processor, lag)
}

type venueHealth struct {
	Exchange     string  `json:"exchange"`
	EventsPerSec float64 `json:"events_per_sec"`
	TradesPerSec float64 `json:"trades_per_sec"`
	Connected    bool    `json:"connected"`
	Reconnects   float64 `json:"reconnects"`
	Gaps         float64 `json:"gaps"`
	Backfills    float64 `json:"backfills_incomplete"`
	FrameErrors  float64 `json:"frame_errors"`
}

type errorsJSON struct {
	BrokerRequestErrors float64 `json:"broker_request_errors"`
	DeadLetters         float64 `json:"dead_letters"`
	LateTrades          float64 `json:"late_trades"`
	IngestFailed        float64 `json:"ingest_failed"`
	FrameErrors         float64 `json:"frame_errors"`
}

type dashboardJSON struct {
	Clients int64 `json:"clients"`
	Dropped int64 `json:"dropped"`
}

type sample struct {
	at   time.Time
	fams map[string]*dto.MetricFamily
}

func (s *Server) runHealth(ctx context.Context) {
	t := time.NewTicker(s.cfg.HealthEvery)
	defer t.Stop()
	var prev *sample
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.hub.wanted(healthTopic) {
			prev = nil // nobody watches: no gathering
			continue
		}
		h, cur := s.healthSample(prev)
		prev = cur
		s.lastHealth.Store(&h)
		s.hub.publish(healthTopic, "health", h)
	}
}

func (s *Server) healthSample(prev *sample) (healthJSON, *sample) {
	cur := &sample{at: time.Now(), fams: map[string]*dto.MetricFamily{}}
	if s.cfg.Gatherer != nil {
		fs, _ := s.cfg.Gatherer.Gather() // partial results are fine for a view
		for _, f := range fs {
			cur.fams[f.GetName()] = f
		}
	}
	h := healthJSON{TimeUs: cur.at.UnixMicro(), Lag: map[string]float64{}, Venues: []venueHealth{}, Available: []string{}}
	h.Dashboard = dashboardJSON{Clients: s.hub.count.Load(), Dropped: s.hub.dropped.Load()}
	rate := func(name string, match map[string]string) float64 {
		if prev == nil {
			return 0
		}
		secs := cur.at.Sub(prev.at).Seconds()
		d := sumOf(cur.fams[name], match) - sumOf(prev.fams[name], match)
		if secs <= 0 || d < 0 {
			return 0
		}
		return d / secs
	}
	has := func(name string) bool { return cur.fams[name] != nil }
	for _, part := range []struct{ name, family string }{{"broker", "tickertape_broker_requests_total"}, {"ingest", "tickertape_ingest_produced_records_total"},
		{"processor", "tickertape_processor_records_total"}, {"lag", "kafka_brokers"}} {
		if has(part.family) {
			h.Available = append(h.Available, part.name)
		}
	}
	for _, ex := range labelValues(cur.fams["tickertape_exchange_events_total"], "exchange") {
		m := map[string]string{"exchange": ex}
		h.Venues = append(h.Venues, venueHealth{
			Exchange:     ex,
			EventsPerSec: rate("tickertape_exchange_events_total", m),
			TradesPerSec: rate("tickertape_exchange_events_total", map[string]string{"exchange": ex, "type": "trade"}),
			Connected:    sumOf(cur.fams["tickertape_exchange_connected"], m) > 0,
			Reconnects:   sumOf(cur.fams["tickertape_exchange_reconnects_total"], m),
			Gaps:         sumOf(cur.fams["tickertape_exchange_gaps_total"], m),
			Backfills:    sumOf(cur.fams["tickertape_exchange_backfills_incomplete_total"], m),
			FrameErrors:  sumOf(cur.fams["tickertape_exchange_frame_errors_total"], m),
		})
	}
	h.ProducedPerSec = rate("tickertape_ingest_produced_records_total", nil)
	h.CandlesPerSec = rate("tickertape_processor_candles_total", nil)
	h.BrokerInBytesSec = rate("tickertape_broker_received_bytes_total", nil)
	h.ProduceP99Ms = 1000 * quantile(0.99, cur.fams["tickertape_ingest_produce_duration_seconds"], prevFam(prev, "tickertape_ingest_produce_duration_seconds"))
	h.FsyncP99Ms = 1000 * quantile(0.99, cur.fams["tickertape_broker_fsync_duration_seconds"], prevFam(prev, "tickertape_broker_fsync_duration_seconds"))
	for _, g := range labelValues(cur.fams["kafka_consumergroup_lag"], "consumergroup") {
		h.Lag[g] = sumOf(cur.fams["kafka_consumergroup_lag"], map[string]string{"consumergroup": g})
	}
	if f := cur.fams["tickertape_processor_behind_records"]; f != nil {
		b := sumOf(f, nil)
		h.Behind = &b
	}
	h.Errors = errorsJSON{
		BrokerRequestErrors: sumOf(cur.fams["tickertape_broker_request_errors_total"], nil),
		DeadLetters:         sumOf(cur.fams["tickertape_processor_dead_letters_total"], nil),
		LateTrades:          sumOf(cur.fams["tickertape_processor_late_trades_total"], nil),
		IngestFailed:        sumOf(cur.fams["tickertape_ingest_failed_records_total"], nil),
		FrameErrors:         sumOf(cur.fams["tickertape_exchange_frame_errors_total"], nil),
	}
	return h, cur
}

func prevFam(p *sample, name string) *dto.MetricFamily {
	if p == nil {
		return nil
	}
	return p.fams[name]
}

func matchLabels(m *dto.Metric, match map[string]string) bool {
	for k, v := range match {
		ok := false
		for _, lp := range m.Label {
			if lp.GetName() == k && lp.GetValue() == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// sumOf adds the counter or gauge values of f's samples matching match.
func sumOf(f *dto.MetricFamily, match map[string]string) float64 {
	if f == nil {
		return 0
	}
	var v float64
	for _, m := range f.Metric {
		if !matchLabels(m, match) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v
}

func labelValues(f *dto.MetricFamily, name string) []string {
	if f == nil {
		return nil
	}
	set := map[string]bool{}
	for _, m := range f.Metric {
		for _, lp := range m.Label {
			if lp.GetName() == name {
				set[lp.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// quantile estimates q of the observations between two samples of a
// histogram family (all series added), as histogram_quantile does: the
// upper bound of the bucket holding the q-th observation. 0 when none.
func quantile(q float64, cur, prev *dto.MetricFamily) float64 {
	buckets := func(f *dto.MetricFamily) map[float64]float64 {
		out := map[float64]float64{}
		if f == nil {
			return out
		}
		for _, m := range f.Metric {
			if m.Histogram == nil {
				continue
			}
			for _, b := range m.Histogram.Bucket {
				out[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
			out[math.Inf(1)] += float64(m.Histogram.GetSampleCount())
		}
		return out
	}
	c, p := buckets(cur), buckets(prev)
	bounds := make([]float64, 0, len(c))
	for b := range c {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	total := c[math.Inf(1)] - p[math.Inf(1)]
	if total <= 0 {
		return 0
	}
	for _, b := range bounds {
		if c[b]-p[b] >= q*total {
			if math.IsInf(b, 1) && len(bounds) > 1 {
				return bounds[len(bounds)-2]
			}
			return b
		}
	}
	return 0
}
