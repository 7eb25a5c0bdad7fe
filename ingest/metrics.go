package ingest

import "github.com/prometheus/client_golang/prometheus"

// Collector returns ingest's Prometheus metrics and its supervisor's
// (the exchange connector's), labelled exchange="<connector name>".
func (in *Ingest) Collector() prometheus.Collector {
	return &collector{in: in, sup: in.Sup.Collector()}
}

type collector struct {
	in  *Ingest
	sup prometheus.Collector
}

func (in *Ingest) descs() (events, produced, failed, retried *prometheus.Desc) {
	cl := prometheus.Labels{"exchange": in.exchange}
	return prometheus.NewDesc("tickertape_ingest_events_total", "Events handed to the producer, by type.", []string{"type"}, cl),
		prometheus.NewDesc("tickertape_ingest_produced_records_total", "Records acknowledged by Kafka (acks=all).", nil, cl),
		prometheus.NewDesc("tickertape_ingest_failed_records_total", "Records Kafka refused after the client's retries (the run stops).", nil, cl),
		prometheus.NewDesc("tickertape_ingest_produce_retries_total", "Produce requests that failed on the wire and were sent again (idempotently).", nil, cl)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	e, p, f, r := c.in.descs()
	ch <- e
	ch <- p
	ch <- f
	ch <- r
	c.in.Stats.latency.Describe(ch)
	c.sup.Describe(ch)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := &c.in.Stats
	e, p, f, r := c.in.descs()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(e, s.Trades.Load(), "trade")
	counter(e, s.Tickers.Load(), "ticker")
	counter(e, s.Books.Load(), "book_update")
	counter(p, s.Produced.Load())
	counter(f, s.Failed.Load())
	counter(r, s.Retried.Load())
	s.latency.Collect(ch)
	c.sup.Collect(ch)
}
