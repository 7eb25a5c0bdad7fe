package broker

import (
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// At debug level every answered request is logged with its API, version,
// client id and error code, at most requestLogPerSecond lines a second.
func TestDebugRequestLog(t *testing.T) {
	var logs syncBuffer
	tb := startBroker(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	ctx := testCtx(t)
	cl := tb.client(kgo.ClientID("reqlog-test"))
	create := func() {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "logged", 1, 1
		req.Topics = append(req.Topics, rt)
		if _, err := req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	create()
	create() // TOPIC_ALREADY_EXISTS
	out := logs.String()
	if !strings.Contains(out, `msg=request api=CreateTopics version=`) || !strings.Contains(out, "client_id=reqlog-test") ||
		!strings.Contains(out, "error_code=36 error=TOPIC_ALREADY_EXISTS") {
		t.Fatalf("request log:\n%s", out)
	}
	if !strings.Contains(out, "api=ApiVersions") {
		t.Fatalf("the client's ApiVersions is not logged:\n%s", out)
	}
	frozen := time.Now()
	tb.b.reqLog.mu.Lock()
	tb.b.reqLog.now = func() time.Time { return frozen } // one second lasts for ever
	tb.b.reqLog.second = time.Time{}
	tb.b.reqLog.mu.Unlock()
	for range 3 * requestLogPerSecond {
		req := kmsg.NewPtrApiVersionsRequest()
		if _, err := req.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	before := strings.Count(out, "msg=request ")
	if lines := strings.Count(logs.String(), "msg=request ") - before; lines != requestLogPerSecond {
		t.Fatalf("%d request lines for %d requests in one second, want %d", lines, 3*requestLogPerSecond, requestLogPerSecond)
	}
	tb.b.reqLog.mu.Lock()
	frozen = frozen.Add(time.Second)
	tb.b.reqLog.mu.Unlock()
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	// 200 ApiVersions dropped, and whatever else the client sent meanwhile.
	m := regexp.MustCompile(`suppressed_before=(\d+)`).FindStringSubmatch(logs.String())
	if n, _ := strconv.Atoi(append(m, "", "")[1]); n < 2*requestLogPerSecond || n > 2*requestLogPerSecond+5 {
		t.Fatalf("the next second's first line counts %v dropped, want about 200", m)
	}
	// At info level nothing is logged.
	var quiet syncBuffer
	tb2 := startBroker(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&quiet, nil)) })
	if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, tb2.client()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(quiet.String(), "msg=request") {
		t.Fatalf("request logged at info level: %s", quiet.String())
	}
}
