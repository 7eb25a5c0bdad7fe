// Package grouplag exports consumer-group lag and partition offsets of any
// Kafka cluster (the embedded broker or Apache Kafka) to Prometheus under
// the names kafka_exporter users already query: kafka_consumergroup_lag,
// kafka_consumergroup_current_offset, kafka_consumergroup_members,
// kafka_topic_partitions, kafka_topic_partition_current_offset,
// kafka_topic_partition_oldest_offset and kafka_brokers.
//
// It asks the cluster when Prometheus scrapes (ListGroups, DescribeGroups,
// OffsetFetch, ListOffsets, Metadata), as kafka_exporter does, so it costs
// nothing between scrapes. kafka_exporter's *_sum families are left out:
// Prometheus reserves the _sum suffix for summaries and histograms
// (promtool rejects it), and sum by (consumergroup, topic) gives the same.
package grouplag

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Collector is a prometheus.Collector over one cluster.
type Collector struct {
	adm     *kadm.Client
	timeout time.Duration

	lag, current, members   *prometheus.Desc
	partitions, end, oldest *prometheus.Desc
	brokers                 *prometheus.Desc
	errors                  prometheus.Counter
	duration                prometheus.Gauge
}

// New returns a collector that queries the cluster through adm, giving each
// scrape at most timeout (default 5 s).
func New(adm *kadm.Client, timeout time.Duration) *Collector {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	gp := []string{"consumergroup", "topic", "partition"}
	tp := []string{"topic", "partition"}
	return &Collector{
		adm: adm, timeout: timeout,
		lag:        prometheus.NewDesc("kafka_consumergroup_lag", "Current approximate lag of a consumer group at a topic/partition (end offset minus committed offset).", gp, nil),
		current:    prometheus.NewDesc("kafka_consumergroup_current_offset", "Committed offset of a consumer group at a topic/partition.", gp, nil),
		members:    prometheus.NewDesc("kafka_consumergroup_members", "Members of a consumer group.", []string{"consumergroup"}, nil),
		partitions: prometheus.NewDesc("kafka_topic_partitions", "Partitions of a topic.", []string{"topic"}, nil),
		end:        prometheus.NewDesc("kafka_topic_partition_current_offset", "End offset (high watermark) of a topic/partition.", tp, nil),
		oldest:     prometheus.NewDesc("kafka_topic_partition_oldest_offset", "Oldest (log start) offset of a topic/partition.", tp, nil),
		brokers:    prometheus.NewDesc("kafka_brokers", "Brokers in the cluster.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickertape_lag_scrape_errors_total",
			Help: "Scrapes of consumer-group lag that failed (the cluster did not answer in time, or refused)."}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tickertape_lag_scrape_duration_seconds",
			Help: "How long the last scrape of consumer-group lag took."}),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.current, c.members, c.partitions, c.end, c.oldest, c.brokers} {
		ch <- d
	}
	c.errors.Describe(ch)
	c.duration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		c.errors.Inc()
	}
	c.duration.Set(time.Since(began).Seconds())
	c.errors.Collect(ch)
	c.duration.Collect(ch)
}

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	gauge := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	meta, err := c.adm.Metadata(ctx)
	if err != nil {
		return err
	}
	gauge(c.brokers, int64(len(meta.Brokers)))
	for _, t := range meta.Topics.Sorted() {
		if t.Err == nil {
			gauge(c.partitions, int64(len(t.Partitions)), t.Topic)
		}
	}
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return err
	}
	groups := listed.Groups()
	var firstErr error
	// Commits first, end offsets after them, so that in one scrape lag is
	// exactly kafka_topic_partition_current_offset minus
	// kafka_consumergroup_current_offset, and never negative.
	var commits kadm.FetchOffsetsResponses
	if len(groups) > 0 {
		described, err := c.adm.DescribeGroups(ctx, groups...)
		if err != nil && len(described) == 0 {
			return err
		}
		for _, g := range described.Sorted() {
			if g.Err == nil {
				gauge(c.members, int64(len(g.Members)), g.Group)
			} else if firstErr == nil {
				firstErr = g.Err
			}
		}
		commits = c.adm.FetchManyOffsets(ctx, groups...)
	}
	ends, err := c.adm.ListEndOffsets(ctx)
	if err != nil {
		return err
	}
	starts, err := c.adm.ListStartOffsets(ctx)
	if err != nil {
		return err
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			gauge(c.end, o.Offset, o.Topic, strconv.Itoa(int(o.Partition)))
		}
	})
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			gauge(c.oldest, o.Offset, o.Topic, strconv.Itoa(int(o.Partition)))
		}
	})
	for _, g := range groups {
		r, ok := commits[g]
		if !ok {
			continue
		}
		if r.Err != nil {
			if firstErr == nil {
				firstErr = r.Err
			}
			continue
		}
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return // no commit yet: kafka_exporter leaves such partitions out too
			}
			end, ok := ends.Lookup(o.Topic, o.Partition)
			if !ok || end.Err != nil {
				return
			}
			p := strconv.Itoa(int(o.Partition))
			gauge(c.current, o.At, g, o.Topic, p)
			gauge(c.lag, max(end.Offset-o.At, 0), g, o.Topic, p)
		})
	}
	return firstErr
}
