package kclose_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/kclose"
)

// blackhole forwards to the broker until frozen; then it swallows what the
// client sends, as a broker that died after taking the request would.
type blackhole struct {
	ln     net.Listener
	frozen atomic.Bool
	wg     sync.WaitGroup
}

func (h *blackhole) serve(t *testing.T, to string) {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", to)
		if err != nil {
			c.Close()
			continue
		}
		h.wg.Add(2)
		go func() { // client -> broker, dropped once frozen
			defer h.wg.Done()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if err != nil {
					b.Close()
					return
				}
				if !h.frozen.Load() {
					b.Write(buf[:n])
				}
			}
		}()
		go func() { defer h.wg.Done(); io.Copy(c, b); c.Close() }()
	}
}

// brokerBehind starts a broker reachable only through a blackhole proxy
// (its metadata names the proxy, so every connection goes through it) and
// returns the proxy and its address; both stop when the test ends.
func brokerBehind(t *testing.T) (*blackhole, string) {
	t.Helper()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := int32(pl.Addr().(*net.TCPAddr).Port)
	b, err := broker.New(broker.Config{DataDir: t.TempDir(), AdvertisedHost: "127.0.0.1", AdvertisedPort: port,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoGroupInitialRebalanceDelay: true})
	if err != nil {
		t.Fatal(err)
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Serve(bl)
	t.Cleanup(func() { b.Close(context.Background()) })
	h := &blackhole{ln: pl}
	go h.serve(t, bl.Addr().String())
	t.Cleanup(func() { pl.Close(); h.wg.Wait() })
	return h, pl.Addr().String()
}

// A record sent to a broker that never answers is failed by no context:
// ProduceSync would wait for ever. Watch closes the client after its grace
// and the produce returns ErrClientClosed.
func TestWatchClosesAClientStuckOnAGoneBroker(t *testing.T) {
	h, addr := brokerBehind(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("stuck"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	c := kclose.New(cl)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatalf("produce before the freeze: %v", err)
	}
	h.frozen.Store(true)
	runCtx, stop := context.WithCancel(context.Background())
	defer c.Watch(runCtx, 300*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")()
	done := make(chan error, 1)
	go func() { done <- cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("lost")}).FirstErr() }()
	time.Sleep(200 * time.Millisecond) // the request is on the wire
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, kgo.ErrClientClosed) {
			t.Fatalf("produce ended with %v, want ErrClientClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("the produce to a broker that never answers was never failed")
	}
	if !c.Forced() {
		t.Fatal("Forced() is false after the watch closed the client")
	}
}

// A stop that completes on its own is not forced.
func TestWatchStoppedInTimeDoesNothing(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	c := kclose.New(cl)
	ctx, cancel := context.WithCancel(context.Background())
	stop := c.Watch(ctx, 50*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	cancel()
	stop()
	time.Sleep(150 * time.Millisecond)
	if c.Forced() {
		t.Fatal("a watch stopped before its grace closed the client")
	}
	c.Close()
	c.Close() // twice is fine
}

// The owner holds its lock while a produce to a gone broker waits; closing
// the group client runs the revoke callback, which wants that lock. With
// Lock the callback gives up once the close has begun, so the close fails
// the produce instead of waiting for ever (seen as `tickertape process`
// never exiting after its broker was stopped).
func TestLockLetsAClosingGroupClientFailAStuckProduce(t *testing.T) {
	h, addr := brokerBehind(t)

	var mu sync.Mutex
	var closer atomic.Pointer[kclose.Closer]
	callback := func(context.Context, *kgo.Client, map[string][]int32) {
		if !closer.Load().Lock(&mu) {
			return
		}
		mu.Unlock()
	}
	assigned := make(chan struct{}, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("in"), kgo.AllowAutoTopicCreation(),
		kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}),
		kgo.OnPartitionsRevoked(callback), kgo.OnPartitionsLost(callback))
	if err != nil {
		t.Fatal(err)
	}
	c := kclose.New(cl)
	closer.Store(c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatalf("produce before the freeze: %v", err)
	}
	go func() {
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the group never assigned the partition")
	}

	h.frozen.Store(true)
	runCtx, stop := context.WithCancel(context.Background())
	defer c.Watch(runCtx, 300*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")()
	done := make(chan error, 1)
	go func() {
		mu.Lock() // as a processor holds its state while it writes a batch
		defer mu.Unlock()
		done <- cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("lost")}).FirstErr()
	}()
	time.Sleep(200 * time.Millisecond) // the request is on the wire
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, kgo.ErrClientClosed) {
			t.Fatalf("produce ended with %v, want ErrClientClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("closing the group client deadlocked on the revoke callback")
	}
}
