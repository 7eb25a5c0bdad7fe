package broker

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// Issue 15 item 6: a size prefix alone reserves no memory, and a frame that
// stalls is closed after connections.max.idle.ms.
func TestFramePrefixReservesNothingAndIdleConnectionsClose(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.ConnectionsMaxIdle = 300 * time.Millisecond })
	stillServes(t, tb)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		nc, err := net.Dial("tcp", tb.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(binary.BigEndian.AppendUint32(nil, 100<<20-1)) // 100 MiB declared, nothing sent
		conns = append(conns, nc)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if grown := int64(ms.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
			t.Fatalf("three size prefixes grew the heap by %d MiB", grown>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("connection %d with a stalled frame was not closed: %v", i, err)
		}
	}
	stillServes(t, tb)
}

func TestMaxConnectionsPerIP(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.MaxConnectionsPerIP = 2 })
	a, b := dialRaw(t, tb), dialRaw(t, tb)
	c := dialRaw(t, tb)
	c.expectClosed()
	a.nc.Close()
	b.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tb.b.lnMu.Lock()
		n := len(tb.b.conns)
		tb.b.lnMu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := dialRaw(t, tb)
	d.sendFrame(requestBody(kmsg.NewPtrApiVersionsRequest(), 0, 1))
	if _, err := d.readFrame(); err != nil {
		t.Fatalf("a connection after the others closed: %v", err)
	}
}

// Issue 15 item 3: more connections than the descriptor limit. The broker
// runs in a child process (this test binary) with RLIMIT_NOFILE set to 256;
// the parent opens 600 connections to it. accept fails with EMFILE, and the
// broker must keep serving the client it already had throughout and serve
// new clients once the flood is gone.
func TestDescriptorExhaustion(t *testing.T) {
	if os.Getenv("TT_FD_CHILD") != "" {
		fdChild(t)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDescriptorExhaustion$", "-test.v")
	cmd.Env = append(os.Environ(), "TT_FD_CHILD="+t.TempDir())
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	addr := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "BROKER "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("the child broker did not start")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	ctx := testCtx(t)
	existing, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("fd"), kgo.AllowAutoTopicCreation(),
		kgo.RecordRetries(0), kgo.ProduceRequestTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer existing.Close()
	produce := func(cl *kgo.Client, what string) {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(what)}).FirstErr(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	produce(existing, "before the flood")
	var flood []net.Conn
	for i := 0; i < 600; i++ {
		nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: the flood has done what it can
		}
		flood = append(flood, nc)
		if i%100 == 99 {
			produce(existing, fmt.Sprintf("during the flood, %d connections", i+1))
		}
	}
	if len(flood) < 300 {
		t.Fatalf("only %d flood connections opened; the limit was not reached", len(flood))
	}
	select {
	case err := <-exited:
		t.Fatalf("the broker exited during the flood: %v", err)
	default:
	}
	produce(existing, "at the height of the flood")
	for _, nc := range flood {
		nc.Close()
	}
	fresh, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("fd"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	produce(fresh, "a new client after the flood") // kgo retries until the broker accepts again
	produce(existing, "the old client after the flood")
}

func fdChild(t *testing.T) {
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{DataDir: os.Getenv("TT_FD_CHILD"), Fsync: commitlog.FsyncPolicy{Mode: commitlog.FsyncNever}, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	fmt.Printf("BROKER %s\n", ln.Addr())
	stdinClosed := make(chan struct{})
	go func() { os.Stdin.Read(make([]byte, 1)); close(stdinClosed) }()
	select {
	case err := <-served:
		t.Fatalf("Serve returned: %v", err)
	case <-stdinClosed:
	}
	b.Close(testCtx(t))
}
