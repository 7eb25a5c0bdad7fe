package broker

// Prometheus metrics of the broker. Counters and histograms are updated at
// a few points of the request path (conn.go: a request decoded, its reply
// written; commitlog's OnFsync hook); everything that is state (log sizes,
// segments, connections, groups) is read when Prometheus scrapes, so the hot
// path pays nothing for it. Collector returns them all.

import (
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

type metrics struct {
	requests     *prometheus.CounterVec   // api
	errors       *prometheus.CounterVec   // api, error
	duration     *prometheus.HistogramVec // api
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	accepted     prometheus.Counter
	authFailures prometheus.Counter
	fsyncTime    prometheus.Histogram
	fsyncRecs    prometheus.Histogram
	fsyncBytes   prometheus.Histogram
	perAPI       [128]atomic.Pointer[apiMetrics] // by api key, made on first use
	connections  *prometheus.Desc
	logSize      *prometheus.Desc
	logSegments  *prometheus.Desc
	logEnd       *prometheus.Desc
	groups       *prometheus.Desc
	members      *prometheus.Desc
	b            *Broker
}

// apiMetrics are one API's children of the labelled vectors, so that the
// request path does not hash label values.
type apiMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
	name     string
	mu       sync.Mutex
	errors   map[int16]prometheus.Counter
}

func newMetrics(b *Broker) *metrics {
	latency := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	return &metrics{
		b: b,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickertape_broker_requests_total",
			Help: "Kafka requests decoded, by API (Produce, Fetch, ...)."}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickertape_broker_request_errors_total",
			Help: "Error codes in Kafka responses (each top-level, topic or partition error counts once), by API and Kafka error name."}, []string{"api", "error"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickertape_broker_request_duration_seconds",
			Help:    "Time from a request being decoded to its response being ready, by API (Produce includes the fsync wait, Fetch the long poll).",
			Buckets: latency}, []string{"api"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickertape_broker_received_bytes_total",
			Help: "Bytes of Kafka request frames received."}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickertape_broker_sent_bytes_total",
			Help: "Bytes of Kafka response frames sent."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickertape_broker_connections_accepted_total",
			Help: "Client connections accepted."}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tickertape_broker_sasl_authentication_failures_total",
			Help: "Failed SASL authentications (each closes its connection)."}),
		fsyncTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickertape_broker_fsync_duration_seconds",
			Help: "Duration of one fsync round of a partition log (group commit covers every append made before it).", Buckets: latency}),
		fsyncRecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickertape_broker_fsync_batch_records",
			Help: "Records made durable by one fsync round (the group commit's batch size).", Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		fsyncBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tickertape_broker_fsync_batch_bytes",
			Help: "Bytes made durable by one fsync round.", Buckets: prometheus.ExponentialBuckets(256, 4, 10)}),
		connections: prometheus.NewDesc("tickertape_broker_connections", "Open client connections.", nil, nil),
		logSize:     prometheus.NewDesc("tickertape_broker_log_size_bytes", "Bytes on disk of a partition's log segments.", []string{"topic", "partition"}, nil),
		logSegments: prometheus.NewDesc("tickertape_broker_log_segments", "Segment files of a partition's log.", []string{"topic", "partition"}, nil),
		logEnd:      prometheus.NewDesc("tickertape_broker_log_end_offset", "Next offset a partition will assign.", []string{"topic", "partition"}, nil),
		groups:      prometheus.NewDesc("tickertape_broker_groups", "Consumer groups by state.", []string{"state"}, nil),
		members:     prometheus.NewDesc("tickertape_broker_group_members", "Members of a consumer group.", []string{"group"}, nil),
	}
}

// Collector returns the broker's Prometheus metrics (register it once).
func (b *Broker) Collector() prometheus.Collector { return b.metrics }

func (m *metrics) api(key int16) *apiMetrics {
	if key < 0 || int(key) >= len(m.perAPI) {
		key = 127
	}
	if a := m.perAPI[key].Load(); a != nil {
		return a
	}
	name := kmsg.NameForKey(key)
	if name == "" || key == 127 {
		name = "Unknown"
	}
	a := &apiMetrics{name: name, requests: m.requests.WithLabelValues(name), duration: m.duration.WithLabelValues(name), errors: map[int16]prometheus.Counter{}}
	if !m.perAPI[key].CompareAndSwap(nil, a) {
		return m.perAPI[key].Load()
	}
	return a
}

// replied records a request whose response is ready, with the error codes
// the response carries.
func (m *metrics) replied(key int16, began time.Time, resp kmsg.Response) {
	a := m.api(key)
	a.duration.Observe(time.Since(began).Seconds())
	if resp != nil {
		errorCodes(reflect.ValueOf(resp), func(code int16) {
			a.mu.Lock()
			c := a.errors[code]
			if c == nil {
				name := "UNKNOWN_" + strconv.Itoa(int(code))
				if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok && e.Code == code {
					name = e.Message
				}
				c = m.errors.WithLabelValues(a.name, name)
				a.errors[code] = c
			}
			a.mu.Unlock()
			c.Inc()
		})
	}
}

// errorCodes calls fn for every non-zero int16 field named ErrorCode in v,
// at any depth of structs and slices of structs (kmsg's response shapes).
func errorCodes(v reflect.Value, fn func(int16)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			errorCodes(v.Elem(), fn)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			switch {
			case f.Kind() == reflect.Int16 && t.Field(i).Name == "ErrorCode":
				if c := int16(f.Int()); c != 0 {
					fn(c)
				}
			case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct,
				f.Kind() == reflect.Struct, f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
				if t.Field(i).IsExported() {
					errorCodes(f, fn)
				}
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			errorCodes(v.Index(i), fn)
		}
	}
}

func (m *metrics) fsynced(r commitlog.FsyncRound) {
	m.fsyncTime.Observe(r.Duration.Seconds())
	m.fsyncRecs.Observe(float64(r.Records))
	m.fsyncBytes.Observe(float64(r.Bytes))
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.connections, m.logSize, m.logSegments, m.logEnd, m.groups, m.members} {
		ch <- d
	}
}

func (m *metrics) vectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.errors, m.duration, m.bytesIn, m.bytesOut, m.accepted, m.authFailures, m.fsyncTime, m.fsyncRecs, m.fsyncBytes}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.vectors() {
		c.Collect(ch)
	}
	b := m.b
	b.lnMu.Lock()
	conns := len(b.conns)
	b.lnMu.Unlock()
	ch <- prometheus.MustNewConstMetric(m.connections, prometheus.GaugeValue, float64(conns))
	for _, p := range b.allPartitions() {
		part := strconv.Itoa(int(p.index))
		ch <- prometheus.MustNewConstMetric(m.logSize, prometheus.GaugeValue, float64(p.log.Size()), p.topic.name, part)
		ch <- prometheus.MustNewConstMetric(m.logSegments, prometheus.GaugeValue, float64(p.log.Segments()), p.topic.name, part)
		ch <- prometheus.MustNewConstMetric(m.logEnd, prometheus.GaugeValue, float64(p.log.EndOffset()), p.topic.name, part)
	}
	states := map[groupState]int{groupEmpty: 0, groupPreparingRebalance: 0, groupCompletingRebalance: 0, groupStable: 0}
	members := map[string]int{}
	co := b.groups
	co.mu.Lock()
	for id, g := range co.groups {
		states[g.state]++
		members[id] = len(g.members)
	}
	co.mu.Unlock()
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(m.groups, prometheus.GaugeValue, float64(n), string(s))
	}
	for id, n := range members {
		ch <- prometheus.MustNewConstMetric(m.members, prometheus.GaugeValue, float64(n), id)
	}
}
