package registry

// Prometheus metrics of the registry: every HTTP request by endpoint (the
// route pattern, so subjects and ids do not become labels) and status, and
// the state's size, read when Prometheus scrapes.

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	r        *Registry
	requests *prometheus.CounterVec   // method, endpoint, code
	duration *prometheus.HistogramVec // method, endpoint
	schemas  *prometheus.Desc
	subjects *prometheus.Desc
	versions *prometheus.Desc
	leader   *prometheus.Desc
	skipped  *prometheus.Desc
}

func newMetrics(r *Registry) *metrics {
	return &metrics{
		r: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tickertape_registry_requests_total",
			Help: "Schema registry HTTP requests by method, endpoint (route pattern) and status code."}, []string{"method", "endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tickertape_registry_request_duration_seconds",
			Help:    "Schema registry HTTP request latency by method and endpoint (writes include the wait for _schemas).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "endpoint"}),
		schemas:  prometheus.NewDesc("tickertape_registry_schemas", "Distinct schemas (ids) in the registry.", nil, nil),
		subjects: prometheus.NewDesc("tickertape_registry_subjects", "Subjects with at least one version that is not soft-deleted.", nil, nil),
		versions: prometheus.NewDesc("tickertape_registry_subject_versions", "Subject versions, soft-deleted ones included.", nil, nil),
		leader:   prometheus.NewDesc("tickertape_registry_leader", "1 when this instance is the elected writer of the schemas topic.", nil, nil),
		skipped:  prometheus.NewDesc("tickertape_registry_skipped_records_total", "Records of the schemas topic that could not be applied (malformed or foreign).", nil, nil),
	}
}

// Collector returns the registry's Prometheus metrics (register it once).
func (r *Registry) Collector() prometheus.Collector { return r.metrics }

// instrument counts and times every request; the endpoint is the pattern
// the mux matched ("unmatched" for a 404 without a route).
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		began := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, req)
		endpoint := req.Pattern
		if _, path, ok := strings.Cut(endpoint, " "); ok {
			endpoint = path
		}
		if endpoint == "" {
			endpoint = "unmatched"
		}
		m.requests.WithLabelValues(req.Method, endpoint, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(req.Method, endpoint).Observe(time.Since(began).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.duration.Describe(ch)
	for _, d := range []*prometheus.Desc{m.schemas, m.subjects, m.versions, m.leader, m.skipped} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.duration.Collect(ch)
	r := m.r
	r.mu.RLock()
	schemas, skipped := len(r.st.schemas), r.st.skipped
	subjects, versions := 0, 0
	for _, s := range r.st.subjects {
		if s.live() {
			subjects++
		}
		versions += len(s.versions)
	}
	r.mu.RUnlock()
	leader := 0.0
	if r.elec != nil {
		if self, _, _, _ := r.elec.leader(); self {
			leader = 1
		}
	}
	ch <- prometheus.MustNewConstMetric(m.schemas, prometheus.GaugeValue, float64(schemas))
	ch <- prometheus.MustNewConstMetric(m.subjects, prometheus.GaugeValue, float64(subjects))
	ch <- prometheus.MustNewConstMetric(m.versions, prometheus.GaugeValue, float64(versions))
	ch <- prometheus.MustNewConstMetric(m.leader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(m.skipped, prometheus.CounterValue, float64(skipped))
}
