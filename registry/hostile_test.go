package registry_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/registry"
)

// Issue 15 item 8: oversize schemas and names are answered with 4xx before
// they are parsed (or read) in full, and invalid Unicode is refused wherever
// it is in a schema.
func TestOversizeAndInvalidInputGet4xx(t *testing.T) {
	ts := startStack(t)
	// A schema over 1 MB (its record could never be stored): 422 before parsing.
	var fields []string
	for i, n := 0, 0; n < 1100000; i++ {
		f := fmt.Sprintf(`{"name":"f%d","type":"int"}`, i)
		fields, n = append(fields, f), n+len(f)+1
	}
	big := `{"type":"record","name":"Big","fields":[` + strings.Join(fields, ",") + `]}`
	ts.wantError("POST", "/subjects/big/versions", map[string]string{"schema": big}, 422, 42209)
	// A body over 16 MiB: 413 without reading it all.
	for len(big) < 17<<20 {
		big += strings.Repeat(" ", 1<<20)
	}
	if got := ts.call("POST", "/subjects/big/versions", map[string]string{"schema": big}, nil); got != 413 {
		t.Fatalf("a 17 MiB body: %d, want 413", got)
	}
	// A 500,000-character subject: refused with a 4xx by the HTTP server.
	resp, err := http.Get(ts.s.RegistryURL() + "/subjects/" + strings.Repeat("s", 500000) + "/versions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("a 500,000-character subject: %d, want a 4xx", resp.StatusCode)
	}
	long := strings.Repeat("s", 5000)
	ts.wantError("POST", "/subjects/"+long+"/versions", map[string]string{"schema": `"string"`}, 422, 42201)
	// A lone surrogate in a doc, escaped inside the schema text.
	ts.wantError("POST", "/subjects/u/versions", map[string]string{"schema": `{"type":"record","name":"R","doc":"\udc00","fields":[]}`}, 422, 42201)
	// The same, escaped in the request body itself, and raw invalid UTF-8.
	for _, body := range []string{
		`{"schema":"{\"type\":\"record\",\"name\":\"R\",\"doc\":\"\udc00\",\"fields\":[]}"}`,
		"{\"schema\":\"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"R\\\",\\\"doc\\\":\\\"\xff\\\",\\\"fields\\\":[]}\"}",
	} {
		if got := ts.call("POST", "/subjects/u/versions", body, nil); got != 400 {
			t.Fatalf("body %q: %d, want 400", body, got)
		}
	}
	var subjects []string
	ts.call("GET", "/subjects", nil, &subjects)
	if len(subjects) != 0 {
		t.Fatalf("subjects registered: %v", subjects)
	}
}

// Issue 15 item 8: a stalled request body is not held forever.
func TestStalledBodyTimesOut(t *testing.T) {
	s, err := app.Start(app.Config{
		KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0",
		Broker:   broker.Config{DataDir: t.TempDir(), Logger: quietLogger()},
		Registry: registry.Config{ReadTimeout: 500 * time.Millisecond},
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	nc, err := net.Dial("tcp", strings.TrimPrefix(s.RegistryURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "POST /subjects/x/versions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"schema\":")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = bufio.NewReader(nc).ReadString('\n')
	for err == nil {
		_, err = bufio.NewReader(nc).ReadString('\n')
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still holds a stalled body after 10 s")
	}
}

// Issue 15 item 4: the embedded stack refuses to delete _schemas, and a
// registry whose topic is deleted or replaced under it stops writing with an
// error that says how to recover, instead of giving ids out again.
func TestSchemasTopicDeletedOrReplaced(t *testing.T) {
	ts := startStack(t)
	adm := kadm.NewClient(mustClient(t, ts.s.KafkaAddr()))
	resp, err := adm.DeleteTopics(testCtx(t), "_schemas")
	if err != nil {
		t.Fatal(err)
	}
	if r := resp["_schemas"]; r.Err != kerr.TopicAuthorizationFailed {
		t.Fatalf("deleting _schemas in the embedded stack: %v", r.Err)
	}

	// A registry on a broker that does not protect its topic (any Kafka).
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quietLogger()}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	r, err := registry.New(registry.Config{Brokers: []string{s.KafkaAddr()}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := r.NewHTTPServer()
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	var id struct{ ID int }
	if got := call(t, base, "POST", "/subjects/a/versions", map[string]string{"schema": `"string"`}, &id); got != 200 || id.ID != 1 {
		t.Fatalf("first registration: %d %+v", got, id)
	}
	adm2 := kadm.NewClient(mustClient(t, s.KafkaAddr()))
	if resp, err := adm2.DeleteTopics(testCtx(t), "_schemas"); err != nil || resp["_schemas"].Err != nil {
		t.Fatalf("delete _schemas on a plain broker: %v %v", err, resp["_schemas"].Err)
	}
	var e apiError
	if got := call(t, base, "POST", "/subjects/b/versions", map[string]string{"schema": `"int"`}, &e); got != 500 || e.Code != 50001 || !strings.Contains(e.Message, "restore") {
		t.Fatalf("write after _schemas was deleted: %d %+v", got, e)
	}
	// It stays stopped even once the topic exists again (created anew).
	if _, err := adm2.CreateTopic(testCtx(t), 1, 1, nil, "_schemas"); err != nil {
		t.Fatal(err)
	}
	if got := call(t, base, "POST", "/subjects/b/versions", map[string]string{"schema": `"int"`}, &e); got != 500 || e.Code != 50001 {
		t.Fatalf("write after _schemas was replaced: %d %+v", got, e)
	}
	var v struct{ Schema string }
	if got := call(t, base, "GET", "/schemas/ids/1", nil, &v); got != 200 || v.Schema != `"string"` {
		t.Fatalf("reads are still served: %d %+v", got, v)
	}
}

func mustClient(t *testing.T, addr string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
