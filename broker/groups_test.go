package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/poll"
)

func fastGroups(c *Config) {
	c.GroupMinSessionTimeout = 100 * time.Millisecond
	c.GroupInitialRebalanceDelay = 50 * time.Millisecond
}

// killableDialer lets a test cut a client off the network, as if its process died.
type killableDialer struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (d *killableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("killed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *killableDialer) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
}

// groupConsumer consumes in a group and commits what it processed.
type groupConsumer struct {
	cl     *kgo.Client
	dialer *killableDialer
	stop   chan struct{}
	done   chan struct{}
	mine   atomic.Int64
}

func startGroupConsumer(t *testing.T, tb *testBroker, group, topic string, seen *sync.Map, opts ...kgo.Opt) *groupConsumer {
	gc := &groupConsumer{dialer: &killableDialer{}, stop: make(chan struct{}), done: make(chan struct{})}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(tb.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(100 * time.Millisecond),
		kgo.RebalanceTimeout(3 * time.Second), kgo.Dialer(gc.dialer.dial),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) { cl.CommitUncommittedOffsets(ctx) }),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	gc.cl = cl
	go func() {
		defer close(gc.done)
		for {
			select {
			case <-gc.stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			fs := cl.PollFetches(ctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) {
				v, _ := seen.LoadOrStore(string(r.Value), new(atomic.Int32))
				v.(*atomic.Int32).Add(1)
				gc.mine.Add(1)
			})
			if len(fs.Records()) > 0 {
				cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
				cl.CommitRecords(cctx, fs.Records()...)
				ccancel()
			}
		}
	}()
	return gc
}

func (gc *groupConsumer) halt() {
	close(gc.stop)
	<-gc.done
}

func produceN(t *testing.T, tb *testBroker, topic string, from, n int) {
	cl := tb.client(kgo.DefaultProduceTopic(topic))
	for i := from; i < from+n; i++ {
		cl.Produce(testCtx(t), &kgo.Record{Key: []byte(fmt.Sprint(i % 17)), Value: []byte(fmt.Sprint(i))}, nil)
	}
	if err := cl.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	poll.Until(t, d, what, cond)
}

func countSeen(seen *sync.Map) (distinct int, dups int) {
	seen.Range(func(_, v any) bool {
		distinct++
		if v.(*atomic.Int32).Load() > 1 {
			dups++
		}
		return true
	})
	return
}

func TestConsumerGroupSplitLeaveKillRestart(t *testing.T) {
	tb := startBroker(t, fastGroups)
	ctx := testCtx(t)
	if _, err := tb.admin().CreateTopic(ctx, 6, 1, nil, "grp"); err != nil {
		t.Fatal(err)
	}
	produceN(t, tb, "grp", 0, 600)
	var seen sync.Map
	a := startGroupConsumer(t, tb, "g1", "grp", &seen)
	b := startGroupConsumer(t, tb, "g1", "grp", &seen)
	c := startGroupConsumer(t, tb, "g1", "grp", &seen)
	waitFor(t, "600 records consumed", 20*time.Second, func() bool { n, _ := countSeen(&seen); return n == 600 })

	adm := tb.admin()
	waitFor(t, "three members sharing six partitions", 10*time.Second, func() bool {
		dg, err := adm.DescribeGroups(ctx, "g1")
		if err != nil || dg["g1"].State != "Stable" || len(dg["g1"].Members) != 3 {
			return false
		}
		for _, m := range dg["g1"].Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 2 {
				return false
			}
		}
		return true
	})

	// a leaves cleanly, b is killed: c must take over everything.
	a.halt()
	a.cl.Close()
	b.halt()
	b.dialer.kill()
	produceN(t, tb, "grp", 600, 300)
	waitFor(t, "c to consume the records of every partition", 15*time.Second, func() bool { n, _ := countSeen(&seen); return n == 900 })
	if _, dups := countSeen(&seen); dups != 0 {
		t.Fatalf("%d records consumed twice", dups)
	}
	waitFor(t, "group of one", 10*time.Second, func() bool {
		dg, err := adm.DescribeGroups(ctx, "g1")
		return err == nil && dg["g1"].State == "Stable" && len(dg["g1"].Members) == 1
	})
	c.halt()
	c.cl.Close()
	b.cl.Close()

	// Committed offsets survive a restart; a new member resumes from them.
	tb.restart()
	produceN(t, tb, "grp", 900, 60)
	var after sync.Map
	d := startGroupConsumer(t, tb, "g1", "grp", &after)
	defer func() { d.halt(); d.cl.Close() }()
	waitFor(t, "the 60 new records", 15*time.Second, func() bool { n, _ := countSeen(&after); return n >= 60 })
	// Zero lag means the member has read and committed up to the end of every
	// partition, and it reads each partition in offset order from where it
	// started: had it started below the committed offsets, the older records
	// would have been seen by now.
	waitFor(t, "zero lag", 10*time.Second, func() bool {
		lags, err := tb.admin().Lag(ctx, "g1")
		return err == nil && lags["g1"].Lag.Total() == 0
	})
	if n, _ := countSeen(&after); n != 60 {
		t.Fatalf("after restart the new member consumed %d records, want only the 60 uncommitted ones", n)
	}
}

func TestCooperativeStickyMovesOnlyWhatItMust(t *testing.T) {
	tb := startBroker(t, fastGroups)
	ctx := testCtx(t)
	if _, err := tb.admin().CreateTopic(ctx, 6, 1, nil, "coop"); err != nil {
		t.Fatal(err)
	}
	var seen sync.Map
	var mu sync.Mutex
	revoked := map[string]int{}
	opts := func(name string) kgo.Opt {
		return kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			mu.Lock()
			revoked[name] += len(r["coop"])
			mu.Unlock()
			cl.CommitUncommittedOffsets(ctx)
		})
	}
	a := startGroupConsumer(t, tb, "g2", "coop", &seen, kgo.Balancers(kgo.CooperativeStickyBalancer()), opts("a"))
	defer func() { a.halt(); a.cl.Close() }()
	adm := tb.admin()
	assigned := func(n int) func() bool {
		return func() bool {
			dg, err := adm.DescribeGroups(ctx, "g2")
			if err != nil || dg["g2"].State != "Stable" || len(dg["g2"].Members) != n {
				return false
			}
			total := 0
			for _, m := range dg["g2"].Members {
				ca, _ := m.Assigned.AsConsumer()
				for _, t := range ca.Topics {
					total += len(t.Partitions)
				}
			}
			return total == 6
		}
	}
	waitFor(t, "a owns all six partitions", 10*time.Second, assigned(1))
	b := startGroupConsumer(t, tb, "g2", "coop", &seen, kgo.Balancers(kgo.CooperativeStickyBalancer()), opts("b"))
	defer func() { b.halt(); b.cl.Close() }()
	waitFor(t, "a and b share the partitions", 15*time.Second, func() bool {
		if !assigned(2)() {
			return false
		}
		dg, _ := adm.DescribeGroups(ctx, "g2")
		for _, m := range dg["g2"].Members {
			ca, _ := m.Assigned.AsConsumer()
			if len(ca.Topics) == 0 || len(ca.Topics[0].Partitions) != 3 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	if revoked["a"] != 3 || revoked["b"] != 0 {
		t.Fatalf("cooperative rebalance revoked %v partitions; want exactly the 3 that moved from a", revoked)
	}
}

func TestGroupErrorsForStrangers(t *testing.T) {
	tb := startBroker(t, fastGroups)
	ctx := testCtx(t)
	cl := tb.client()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	// A commit from a member the group never saw.
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "t", Partition: 0, At: 1})
	resp, err := adm.CommitOffsets(ctx, "nobody-home", offs)
	if err != nil || resp.Error() != nil {
		t.Fatalf("simple commit to an empty group: %v %v", err, resp.Error())
	}
	fo, err := adm.FetchOffsets(ctx, "nobody-home")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fo.Lookup("t", 0); o.At != 1 {
		t.Fatalf("fetched offset %+v", o)
	}
	if dr, err := adm.DeleteGroups(ctx, "nobody-home"); err != nil || dr.Error() != nil {
		t.Fatalf("delete empty group: %v %v", err, dr.Error())
	}
	if dr, _ := adm.DeleteGroups(ctx, "never-existed"); dr.Error() == nil {
		t.Fatal("deleting an unknown group succeeded")
	}
}

// TestOffsetsTopicCompaction commits over and over, compacts __consumer_offsets
// and checks that only the latest commit per partition is left and that a
// restarted broker still serves it.
func TestOffsetsTopicCompaction(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "src"); err != nil {
		t.Fatal(err)
	}
	commit := func(i int) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "src", Partition: 0, At: int64(i), LeaderEpoch: -1})
		os.Add(kadm.Offset{Topic: "src", Partition: 1, At: int64(2 * i), LeaderEpoch: -1})
		r, err := adm.CommitOffsets(ctx, "g", os)
		if err != nil || r.Error() != nil {
			t.Fatalf("commit %d: %v %v", i, err, r.Error())
		}
	}
	commit(0) // creates __consumer_offsets
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: kgoStr("1024")}}, offsetsTopic); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 1; i <= n; i++ {
		commit(i)
	}
	p, err := tb.b.groups.offsetsPartition("g")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := countRecords(t, p)
	tb.b.ApplyRetention()
	after, _ := countRecords(t, p)
	if after >= before/4 {
		t.Fatalf("__consumer_offsets holds %d records after compaction, %d before", after, before)
	}
	tb.restart()
	fetched, err := tb.admin().FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for part, want := range map[int32]int64{0: n, 1: 2 * n} {
		if o, ok := fetched.Lookup("src", part); !ok || o.At != want {
			t.Fatalf("committed offset for src-%d after compaction and restart: %+v, want %d", part, o, want)
		}
	}
}

// TestTransactionalOffsetsCompaction: an exactly-once processor commits its
// offsets in transactions, many a second; __consumer_offsets must still
// compact (aborted commits and superseded committed ones go, and so do the
// markers of emptied transactions past delete.retention.ms), and the group's
// offsets must be the same live, after compaction and after a restart. A
// plain commit written after a transaction's offsets, before its EndTxn,
// wins, as in Kafka (the later record).
func TestTransactionalOffsetsCompaction(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "src"); err != nil {
		t.Fatal(err)
	}
	plain := func(part int32, at int64) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: "src", Partition: part, At: at, LeaderEpoch: -1})
		if r, err := adm.CommitOffsets(ctx, "g", os); err != nil || r.Error() != nil {
			t.Fatalf("commit: %v %v", err, r.Error())
		}
	}
	plain(0, 0) // creates __consumer_offsets
	for name, v := range map[string]string{"segment.bytes": "1024", "delete.retention.ms": "1"} {
		if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: kgoStr(v)}}, offsetsTopic); err != nil {
			t.Fatal(err)
		}
	}
	pid, epoch := initTxn(t, tb, "eos")
	retry := func(what string, send func() int16) {
		t.Helper()
		for i := 0; ; i++ {
			code := send()
			if code == 0 {
				return
			}
			if code != kerr.ConcurrentTransactions.Code || i == 100 {
				t.Fatalf("%s: %v", what, kerr.ErrorForCode(code))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	txnCommit := func(part int32, at int64) {
		t.Helper()
		retry("AddOffsetsToTxn", func() int16 {
			req := kmsg.NewPtrAddOffsetsToTxnRequest()
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = "eos", pid, epoch, "g"
			return rawReq[*kmsg.AddOffsetsToTxnResponse](t, tb, req).ErrorCode
		})
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "eos", "g", pid, epoch, -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "src"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = part, at, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		if code := rawReq[*kmsg.TxnOffsetCommitResponse](t, tb, req).Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
		}
	}
	end := func(commit bool) {
		t.Helper()
		retry("EndTxn", func() int16 { return endTxn(t, tb, "eos", pid, epoch, commit) })
	}
	const n = 120
	for i := 1; i <= n; i++ {
		txnCommit(0, int64(i))
		end(i%3 != 0) // every third transaction aborts
	}
	// A plain commit after the transaction's offsets, before its end, wins.
	txnCommit(1, 1000)
	plain(1, 5)
	end(true)
	want := map[int32]int64{0: n - 1, 1: 5} // n is a multiple of 3: its transaction aborted
	check := func(when string) {
		t.Helper()
		fetched, err := tb.admin().FetchOffsets(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		for part, at := range want {
			if o, ok := fetched.Lookup("src", part); !ok || o.At != at {
				t.Fatalf("%s: committed offset of src-%d is %+v, want %d", when, part, o, at)
			}
		}
	}
	check("live")
	p, err := tb.b.groups.offsetsPartition("g")
	if err != nil {
		t.Fatal(err)
	}
	beforeRecs, beforeMarkers := countRecords(t, p)
	time.Sleep(5 * time.Millisecond) // past delete.retention.ms
	tb.b.ApplyRetention()
	afterRecs, afterMarkers := countRecords(t, p)
	if beforeMarkers < n || afterMarkers > beforeMarkers/10 || afterRecs > beforeRecs/10 {
		t.Fatalf("__consumer_offsets: %d records (%d markers) before compaction, %d (%d) after", beforeRecs, beforeMarkers, afterRecs, afterMarkers)
	}
	check("after compaction")
	tb.restart()
	check("after compaction and a restart")
}

// countRecords counts the records of a partition's log, and its transaction
// markers among them.
func countRecords(t *testing.T, p *partition) (records, markers int) {
	t.Helper()
	for off := p.log.StartOffset(); off < p.log.HighWatermark(); {
		data, err := p.log.Read(off, 1<<20)
		if err != nil || len(data) == 0 {
			t.Fatalf("read %s at %d: %v", p, off, err)
		}
		for {
			b, rest, next, ok := commitlog.NextBatch(data)
			if !ok {
				break
			}
			recs, err := commitlog.Records(b)
			if err != nil {
				t.Fatal(err)
			}
			if info, _ := commitlog.Info(b); info.Control {
				markers++
			}
			records += len(recs)
			off, data = next, rest
		}
	}
	return records, markers
}
