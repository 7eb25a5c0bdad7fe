package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/twmb/franz-go/pkg/sr"
)

// testStack is an embedded broker + registry on free loopback ports.
type testStack struct {
	t   *testing.T
	dir string
	s   *app.Stack
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startStack(t *testing.T) *testStack {
	t.Helper()
	ts := &testStack{t: t, dir: t.TempDir()}
	ts.start()
	t.Cleanup(func() { ts.s.Close(context.Background()) })
	return ts
}

func (ts *testStack) start() {
	ts.t.Helper()
	s, err := app.Start(app.Config{
		KafkaAddr:    "127.0.0.1:0",
		RegistryAddr: "127.0.0.1:0",
		Broker:       broker.Config{DataDir: ts.dir, Logger: quietLogger()},
		Logger:       quietLogger(),
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.s = s
}

func (ts *testStack) restart() {
	ts.t.Helper()
	if err := ts.s.Close(context.Background()); err != nil {
		ts.t.Fatal(err)
	}
	ts.start()
}

func (ts *testStack) client() *sr.Client {
	ts.t.Helper()
	cl, err := sr.NewClient(sr.URLs(ts.s.RegistryURL()))
	if err != nil {
		ts.t.Fatal(err)
	}
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call does one HTTP request and decodes the JSON answer into out (when not
// nil). It returns the status.
func (ts *testStack) call(method, path string, body any, out any) int {
	ts.t.Helper()
	return call(ts.t, ts.s.RegistryURL(), method, path, body, out)
}

func call(t *testing.T, base, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		rd = bytes.NewReader(mustJSON(t, b))
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.schemaregistry.v1+json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiError is the registry's error body.
type apiError struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

// wantError asserts an HTTP status and Confluent error code.
func (ts *testStack) wantError(method, path string, body any, status, code int) apiError {
	ts.t.Helper()
	var e apiError
	if got := ts.call(method, path, body, &e); got != status || e.Code != code || e.Message == "" {
		ts.t.Fatalf("%s %s: %d %+v, want %d with error_code %d", method, path, got, e, status, code)
	}
	return e
}
