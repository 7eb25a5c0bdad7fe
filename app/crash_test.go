package app

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
)

// The crash test runs the broker in a child process (this test binary,
// re-executed) so that it can be killed with SIGKILL mid-write.
const childEnv = "TICKERTAPE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		runChild(spec)
		return
	}
	os.Exit(m.Run())
}

func runChild(spec string) {
	dir, addr, _ := strings.Cut(spec, "|")
	s, err := Start(Config{KafkaAddr: addr, Broker: broker.Config{DataDir: dir}})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", s.KafkaAddr())
	select {} // until killed
}

type child struct {
	cmd *exec.Cmd
}

func startChild(t *testing.T, dir, addr string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir+"|"+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child broker did not start: %q %v", line, err)
	}
	return &child{cmd: cmd}
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrashLosesNothingAcked kills the broker with SIGKILL while an idempotent
// acks=all producer writes, restarts it, and checks that every acknowledged
// record is there, in order per partition, with no duplicates, including the
// records the producer retried across the crash. TICKERTAPE_CRASH_ROUNDS sets
// the number of rounds (CI runs 20).
func TestCrashLosesNothingAcked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rounds := 3
	if v := os.Getenv("TICKERTAPE_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	for round := range rounds {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) { crashRound(t, round) })
	}
}

func crashRound(t *testing.T, round int) {
	dir, addr := t.TempDir(), freeAddr(t)
	ch := startChild(t, dir, addr)
	defer func() { ch.kill() }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(ctx, 3, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("crash"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(45*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	var mu sync.Mutex
	acked := map[string]int64{} // value -> offset as acknowledged
	var produced int
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("%d", i)
			r := &kgo.Record{Partition: int32(i % 3), Value: []byte(v)}
			mu.Lock()
			produced++
			mu.Unlock()
			prod.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[string(r.Value)] = r.Offset
					mu.Unlock()
				}
			})
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
	ch.kill()
	mu.Lock()
	ackedAtKill := len(acked)
	mu.Unlock()
	close(stop)
	<-done
	ch = startChild(t, dir, addr)
	if err := prod.Flush(ctx); err != nil {
		t.Fatalf("flush after restart: %v", err)
	}
	mu.Lock()
	total := produced
	mu.Unlock()
	if ackedAtKill == 0 {
		t.Logf("round %d: nothing acked before the kill", round)
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("crash"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string]int64{}
	last := map[int32]int{-1: 0, 0: -1, 1: -1, 2: -1}
	for len(seen) < len(acked) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, %d were acked", len(seen), len(acked))
		}
		for _, r := range fs.Records() {
			v := string(r.Value)
			if _, dup := seen[v]; dup {
				t.Fatalf("record %s stored twice (offsets %d and %d)", v, seen[v], r.Offset)
			}
			seen[v] = r.Offset
			n, _ := strconv.Atoi(v)
			if n <= last[r.Partition] {
				t.Fatalf("partition %d: record %d after %d", r.Partition, n, last[r.Partition])
			}
			last[r.Partition] = n
		}
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	var stored int64
	ends.Each(func(o kadm.ListedOffset) { stored += o.Offset })
	if stored != int64(len(seen)) {
		t.Fatalf("the topic holds %d records, %d distinct ones were read", stored, len(seen))
	}
	if len(acked) != total {
		t.Fatalf("%d records produced, %d acknowledged after the broker came back", total, len(acked))
	}
	for v, off := range acked {
		if got, ok := seen[v]; !ok || got != off {
			t.Fatalf("acked record %s at offset %d: found at %d (present %v)", v, off, got, ok)
		}
	}
	t.Logf("round %d: %d produced, %d acked before the kill, %d acked in all, all present once", round, total, ackedAtKill, len(acked))
}
