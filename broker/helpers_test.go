package broker

import (
	"context"
	crand "crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/poll"
)

// testBroker is a real broker on a loopback port with its data in a temp dir.
type testBroker struct {
	t    testing.TB
	b    *Broker
	cfg  Config
	addr string
}

func startBroker(t testing.TB, mod ...func(*Config)) *testBroker {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Fsync: commitlog.FsyncPolicy{Mode: commitlog.FsyncAlways}}
	for _, m := range mod {
		m(&cfg)
	}
	tb := &testBroker{t: t, cfg: cfg}
	tb.start("127.0.0.1:0")
	t.Cleanup(func() { tb.stop() })
	return tb
}

func (tb *testBroker) start(addr string) {
	tb.t.Helper()
	b, err := New(tb.cfg)
	if err != nil {
		tb.t.Fatalf("start broker: %v", err)
	}
	var ln net.Listener
	// A restart reuses the port; it may take a moment to free.
	if poll.Wait(time.Second, func() bool { ln, err = net.Listen("tcp", addr); return err == nil }) != nil {
		b.Close(context.Background())
		tb.t.Fatalf("listen: %v", err)
	}
	go b.Serve(ln)
	tb.b, tb.addr = b, ln.Addr().String()
}

func (tb *testBroker) stop() {
	if tb.b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tb.b.Close(ctx); err != nil {
		tb.t.Errorf("close broker: %v", err)
	}
	tb.b = nil
}

// restart closes the broker cleanly and opens the same data dir on the same port.
func (tb *testBroker) restart() {
	tb.t.Helper()
	tb.stop()
	tb.start(tb.addr)
}

func (tb *testBroker) client(opts ...kgo.Opt) *kgo.Client {
	tb.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tb.addr), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Cleanup(cl.Close)
	return cl
}

func (tb *testBroker) admin() *kadm.Client {
	return kadm.NewClient(tb.client())
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads every record of a topic from the start until it has n.
func consumeAll(t *testing.T, tb *testBroker, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := tb.client(append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records before timeout", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func contextWithDeadline(ctx context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, d)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// randomBytes returns incompressible bytes, so that sizes survive the client's compression.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	crand.Read(b)
	return b
}
