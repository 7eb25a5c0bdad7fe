package registry_test

import (
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/metricstest"
)

// The registry's families exist and move with requests and registrations,
// as Prometheus parses them.
func TestMetricsMoveWithTheirEvents(t *testing.T) {
	ts := startStack(t)
	url := metricstest.Serve(t, ts.s.Registry.Collector())
	f := metricstest.Scrape(t, url)
	if v := f.Must(t, "tickertape_registry_schemas"); v != 0 {
		t.Fatalf("schemas before any registration = %v", v)
	}
	schema := map[string]any{"schema": `{"type":"record","name":"M","fields":[{"name":"a","type":"long"}]}`}
	for _, subj := range []string{"m-value", "n-value"} {
		if code := ts.call("POST", "/subjects/"+subj+"/versions", schema, nil); code != 200 {
			t.Fatalf("register %s: %d", subj, code)
		}
	}
	if code := ts.call("GET", "/subjects/nope/versions", nil, nil); code != 404 {
		t.Fatalf("unknown subject: %d", code)
	}
	ts.call("GET", "/no/such/endpoint", nil, nil)

	f = metricstest.Eventually(t, url, 10*time.Second, "this instance to be the leader", func(f metricstest.Families) bool {
		v, _ := f.Value("tickertape_registry_leader")
		return v == 1
	})
	if v := f.Must(t, "tickertape_registry_schemas"); v != 1 {
		t.Errorf("schemas = %v, want 1 (two subjects share one schema)", v)
	}
	if v := f.Must(t, "tickertape_registry_subjects"); v != 2 {
		t.Errorf("subjects = %v, want 2", v)
	}
	if v := f.Must(t, "tickertape_registry_subject_versions"); v != 2 {
		t.Errorf("subject versions = %v, want 2", v)
	}
	if v := f.Must(t, "tickertape_registry_requests_total", "method", "POST", "endpoint", "/subjects/{subject}/versions", "code", "200"); v != 2 {
		t.Errorf("registrations counted = %v, want 2", v)
	}
	if v := f.Must(t, "tickertape_registry_requests_total", "endpoint", "/subjects/{subject}/versions", "code", "404"); v != 1 {
		t.Errorf("404s on the versions endpoint = %v, want 1", v)
	}
	if v := f.Must(t, "tickertape_registry_requests_total", "endpoint", "unmatched", "code", "404"); v != 1 {
		t.Errorf("unmatched requests = %v, want 1", v)
	}
	if v := f.Must(t, "tickertape_registry_request_duration_seconds", "method", "POST"); v != 2 {
		t.Errorf("POST latency observations = %v, want 2", v)
	}
	f.Must(t, "tickertape_registry_skipped_records_total")
}
