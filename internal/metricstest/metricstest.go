// Package metricstest scrapes a /metrics endpoint in tests and parses it
// with the Prometheus text parser, so tests check what Prometheus would see.
// It is for tests only.
package metricstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families is one scrape: metric families by name.
type Families map[string]*dto.MetricFamily

// Serve registers cs in a fresh registry and serves it over HTTP for the
// test's lifetime; it returns the /metrics URL.
func Serve(t testing.TB, cs ...prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		reg.MustRegister(c)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// Scrape GETs url (asking for the text format) and parses the body.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: parse: %v", url, err)
	}
	return fams
}

// Value is the sum over the samples of family name whose labels include
// every name=value pair of labels ("" matches any sample): a counter's or
// gauge's value, a histogram's sample count. ok is false when no sample
// matches (the family is missing or has no such series).
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.Metric {
		if !matches(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

// Must is Value that fails the test when no sample matches.
func (f Families) Must(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := f.Value(name, labels...)
	if !ok {
		t.Fatalf("no sample of %s%v in the scrape; families: %s", name, labels, f.names())
	}
	return v
}

func (f Families) names() string {
	var n []string
	for k := range f {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.Label {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Eventually scrapes url until cond holds or the deadline passes, then fails
// the test with what it last saw.
func Eventually(t testing.TB, url string, within time.Duration, what string, cond func(Families) bool) Families {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f := Scrape(t, url)
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s never held on %s", within, what, url)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Type returns the family's type ("counter", "gauge", "histogram", ...).
func (f Families) Type(name string) string {
	if fam := f[name]; fam != nil {
		return strings.ToLower(fam.GetType().String())
	}
	return fmt.Sprintf("missing(%s)", name)
}
