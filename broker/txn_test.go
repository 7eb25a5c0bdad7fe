package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/poll"
)

func txnClient(t *testing.T, tb *testBroker, id, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return tb.client(append([]kgo.Opt{kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(10 * time.Second)}, opts...)...)
}

// produceTxn produces vals in one transaction and ends it.
func produceTxn(t *testing.T, cl *kgo.Client, commit bool, vals ...string) {
	t.Helper()
	ctx := testCtx(t)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

func values(rs []*kgo.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	return out
}

// readIsolated reads partition 0 of topic from the start, at the isolation
// level given, until it has at least want records and a poll finds nothing
// more.
func readIsolated(t *testing.T, tb *testBroker, topic string, level kgo.IsolationLevel, want int) []string {
	t.Helper()
	cl := tb.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(level), kgo.FetchMaxWait(100*time.Millisecond))
	var out []string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
		})
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)); n++ })
		if n == 0 && len(out) >= want {
			return out
		}
	}
	t.Fatalf("read %v of %s, want %d records", out, topic, want)
	return nil
}

func TestTransactionsCommittedVisibleAbortedHidden(t *testing.T) {
	tb := startBroker(t)
	const topic = "txn-iso"
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl := txnClient(t, tb, "tx-a", topic)
	produceTxn(t, cl, true, "c1", "c2")
	produceTxn(t, cl, false, "a1", "a2", "a3")
	produceTxn(t, cl, true, "c3")
	if got, want := readIsolated(t, tb, topic, kgo.ReadCommitted(), 3), []string{"c1", "c2", "c3"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed: %v, want %v", got, want)
	}
	if got, want := readIsolated(t, tb, topic, kgo.ReadUncommitted(), 6), []string{"c1", "c2", "a1", "a2", "a3", "c3"}; !slices.Equal(got, want) {
		t.Fatalf("read_uncommitted: %v, want %v", got, want)
	}
	// An open transaction holds the LSO at its first offset; the high watermark moves on.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := tb.admin()
	lso, _ := adm.ListCommittedOffsets(testCtx(t), topic)
	hw, _ := adm.ListEndOffsets(testCtx(t), topic)
	l, _ := lso.Lookup(topic, 0)
	h, _ := hw.Lookup(topic, 0)
	// 2 + marker + 3 + marker + 1 + marker = 9: the open transaction starts at 9.
	if l.Offset != 9 || h.Offset != 10 {
		t.Fatalf("LSO %d, HW %d: want 9 and 10", l.Offset, h.Offset)
	}
	d, err := adm.DescribeTransactions(testCtx(t), "tx-a")
	if err != nil {
		t.Fatal(err)
	}
	if s := d["tx-a"]; s.State != "Ongoing" || len(s.Topics[topic]) != 1 || s.ProducerID < 0 {
		t.Fatalf("describe: %+v", s)
	}
	ls, err := adm.ListTransactions(testCtx(t), nil, []string{"Ongoing"})
	if err != nil || len(ls) != 1 || ls["tx-a"].State != "Ongoing" {
		t.Fatalf("list ongoing: %+v %v", ls, err)
	}
	if err := cl.EndTransaction(testCtx(t), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := readIsolated(t, tb, topic, kgo.ReadCommitted(), 4); !slices.Equal(got, []string{"c1", "c2", "c3", "open"}) {
		t.Fatalf("after the last commit: %v", got)
	}
	// The partition's transaction index has the abort, in Kafka's format.
	p := tb.b.partitionOf(tb.b.lookup(topic), 0)
	if ab := p.log.AbortedTxns(0, 100); len(ab) != 1 || ab[0].FirstOffset != 3 || ab[0].LastOffset != 6 {
		t.Fatalf("aborted index: %+v", ab)
	}
}

func TestTransactionZombieFenced(t *testing.T) {
	tb := startBroker(t)
	const topic = "txn-zombie"
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	zombie := txnClient(t, tb, "tx-z", topic)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A new producer with the same transactional id fences the zombie and
	// aborts what it left open.
	fresh := txnClient(t, tb, "tx-z", topic)
	produceTxn(t, fresh, true, "fresh")
	err := zombie.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("zombie2")}).FirstErr()
	if err == nil {
		err = zombie.EndTransaction(testCtx(t), kgo.TryCommit)
	}
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("zombie: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	if got := readIsolated(t, tb, topic, kgo.ReadCommitted(), 1); !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// rawReq sends one request and returns the response.
func rawReq[R kmsg.Response](t *testing.T, tb *testBroker, req kmsg.Request) R {
	t.Helper()
	resp, err := tb.client().Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}

func initTxn(t *testing.T, tb *testBroker, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
	resp := rawReq[*kmsg.InitProducerIDResponse](t, tb, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("init %s: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func endTxn(t *testing.T, tb *testBroker, id string, pid int64, epoch int16, commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return rawReq[*kmsg.EndTxnResponse](t, tb, req).ErrorCode
}

func addPartition(t *testing.T, tb *testBroker, version int16, id string, pid int64, epoch int16, topic string, p int32) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = version
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{p}
	req.Topics = append(req.Topics, rt)
	resp := rawReq[*kmsg.AddPartitionsToTxnResponse](t, tb, req)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func TestTransactionBadInput(t *testing.T) {
	tb := startBroker(t)
	const topic = "txn-bad"
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	expect := func(what string, got int16, want *kerr.Error) {
		t.Helper()
		if got != want.Code {
			t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(got), want)
		}
	}
	pid, epoch := initTxn(t, tb, "tx-bad")
	expect("EndTxn without AddPartitions", endTxn(t, tb, "tx-bad", pid, epoch, true), kerr.InvalidTxnState)
	expect("EndTxn of an unknown id", endTxn(t, tb, "nobody", pid, epoch, true), kerr.InvalidProducerIDMapping)
	expect("EndTxn with another producer id", endTxn(t, tb, "tx-bad", pid+100, epoch, true), kerr.InvalidProducerIDMapping)
	expect("AddPartitions, unknown topic", addPartition(t, tb, 3, "tx-bad", pid, epoch, "no-such-topic", 0), kerr.UnknownTopicOrPartition)
	expect("AddPartitions", addPartition(t, tb, 3, "tx-bad", pid, epoch, topic, 0), nil2(t))
	// A second InitProducerId bumps the epoch: the old one is fenced.
	pid2, epoch2 := initTxn(t, tb, "tx-bad")
	if pid2 != pid || epoch2 != epoch+1 {
		t.Fatalf("re-init: %d/%d after %d/%d", pid2, epoch2, pid, epoch)
	}
	expect("AddPartitions v3 with a stale epoch", addPartition(t, tb, 3, "tx-bad", pid, epoch, topic, 0), kerr.ProducerFenced)
	expect("EndTxn with a stale epoch", endTxn(t, tb, "tx-bad", pid, epoch, false), kerr.ProducerFenced)

	// Produce: a partition not added, then a commit after which an abort is refused.
	batch := txnBatch(t, pid2, epoch2, 0, "x")
	expect("transactional produce before AddPartitions", produceTxnRaw(t, tb, "tx-bad", topic, batch), kerr.InvalidTxnState)
	expect("AddPartitions", addPartition(t, tb, 3, "tx-bad", pid2, epoch2, topic, 0), nil2(t))
	expect("transactional produce", produceTxnRaw(t, tb, "tx-bad", topic, batch), nil2(t))
	expect("non-transactional batch in a transactional produce", produceTxnRaw(t, tb, "tx-bad", topic, makeBatch(t, pid2, epoch2, 1, []string{"y"})), kerr.InvalidRecord)
	// Kafka refuses it before any other check (KafkaApis.handleProduceRequest).
	expect("transactional batch without a transactional id", produceRaw(t, tb, topic, 0, txnBatch(t, pid2, epoch2, 1, "z"), -1).Topics[0].Partitions[0].ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	expect("EndTxn commit", endTxn(t, tb, "tx-bad", pid2, epoch2, true), nil2(t))
	expect("EndTxn commit retried", endTxn(t, tb, "tx-bad", pid2, epoch2, true), nil2(t))
	expect("EndTxn abort after commit", endTxn(t, tb, "tx-bad", pid2, epoch2, false), kerr.InvalidTxnState)

	// TxnOffsetCommit: without AddOffsetsToTxn, then for a stale generation.
	tcommit := func(gen int32, member string) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = "tx-bad", "g-bad", pid2, epoch2
		req.Generation, req.MemberID = gen, member
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawReq[*kmsg.TxnOffsetCommitResponse](t, tb, req).Topics[0].Partitions[0].ErrorCode
	}
	expect("TxnOffsetCommit without AddOffsetsToTxn", tcommit(-1, ""), kerr.InvalidTxnState)
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = "tx-bad", pid2, epoch2, "g-bad"
	expect("AddOffsetsToTxn", rawReq[*kmsg.AddOffsetsToTxnResponse](t, tb, ao).ErrorCode, nil2(t))
	expect("TxnOffsetCommit from a stranger member", tcommit(3, "stranger"), kerr.UnknownMemberID)
	expect("TxnOffsetCommit simple", tcommit(-1, ""), nil2(t))
	// Pending offsets are unstable until the transaction ends.
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group, of.RequireStable = "g-bad", true
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{0}}}
	of.Version = 7
	expect("OffsetFetch require_stable while pending", rawReq[*kmsg.OffsetFetchResponse](t, tb, of).Topics[0].Partitions[0].ErrorCode, kerr.UnstableOffsetCommit)
	expect("EndTxn commit with offsets", endTxn(t, tb, "tx-bad", pid2, epoch2, true), nil2(t))
	offs, err := tb.admin().FetchOffsets(testCtx(t), "g-bad")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(topic, 0); o.At != 1 {
		t.Fatalf("committed offset after the transaction: %+v", o)
	}
	// Describe of an unknown id.
	dreq := kmsg.NewPtrDescribeTransactionsRequest()
	dreq.TransactionalIDs = []string{"nobody"}
	expect("describe unknown", rawReq[*kmsg.DescribeTransactionsResponse](t, tb, dreq).TransactionStates[0].ErrorCode, kerr.TransactionalIDNotFound)
	// Timeout out of range.
	ireq := kmsg.NewPtrInitProducerIDRequest()
	ireq.TransactionalID, ireq.TransactionTimeoutMillis = kmsg.StringPtr("tx-long"), int32(time.Hour/time.Millisecond)
	expect("timeout over the max", rawReq[*kmsg.InitProducerIDResponse](t, tb, ireq).ErrorCode, kerr.InvalidTransactionTimeout)
}

// nil2 is "no error" for expect.
func nil2(t *testing.T) *kerr.Error { return &kerr.Error{Message: "NONE", Code: 0} }

func txnBatch(t *testing.T, pid int64, epoch int16, seq int32, vals ...string) []byte {
	b := makeBatch(t, pid, epoch, seq, vals)
	b[22] |= 0x10
	return recrcBatch(b)
}

func produceTxnRaw(t *testing.T, tb *testBroker, id, topic string, batch []byte) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 10000, kmsg.StringPtr(id)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, tb.b.lookup(topic).id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawReq[*kmsg.ProduceResponse](t, tb, req).Topics[0].Partitions[0].ErrorCode
}

// A transaction left open by a producer that disappears is aborted after its
// timeout, and one open at a restart is aborted on start: the LSO catches up.
func TestTransactionTimeoutAndRestartAbort(t *testing.T) {
	shortTxnAbortCheck(t, 50*time.Millisecond)
	tb := startBroker(t, func(c *Config) { c.Logger = discardLogger() })
	const topic = "txn-timeout"
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	lsoHW := func() (int64, int64) {
		p := tb.b.partitionOf(tb.b.lookup(topic), 0)
		return p.log.LastStableOffset(), p.log.HighWatermark()
	}
	pid, epoch := initTxnTimeout(t, tb, "tx-t", 300)
	if c := addPartition(t, tb, 3, "tx-t", pid, epoch, topic, 0); c != 0 {
		t.Fatal(kerr.ErrorForCode(c))
	}
	if c := produceTxnRaw(t, tb, "tx-t", topic, txnBatch(t, pid, epoch, 0, "lost")); c != 0 {
		t.Fatal(kerr.ErrorForCode(c))
	}
	if l, h := lsoHW(); l != 0 || h != 1 {
		t.Fatalf("open: LSO %d HW %d", l, h)
	}
	poll.Until(t, 10*time.Second, "the timed-out transaction to be aborted", func() bool { l, h := lsoHW(); return l == h && h == 2 })
	if c := endTxn(t, tb, "tx-t", pid, epoch, true); c != kerr.ProducerFenced.Code {
		t.Fatalf("commit after the timeout abort: %v", kerr.ErrorForCode(c))
	}
	// Open one more (long timeout) and restart: it is aborted on start.
	pid, epoch = initTxnTimeout(t, tb, "tx-r", 60000)
	addPartition(t, tb, 3, "tx-r", pid, epoch, topic, 0)
	if c := produceTxnRaw(t, tb, "tx-r", topic, txnBatch(t, pid, epoch, 0, "open at restart")); c != 0 {
		t.Fatal(kerr.ErrorForCode(c))
	}
	tb.restart()
	if l, h := lsoHW(); l != h || h != 4 {
		t.Fatalf("after restart: LSO %d HW %d, want both 4", l, h)
	}
	d, err := tb.admin().DescribeTransactions(testCtx(t), "tx-r")
	if err != nil || d["tx-r"].State != "CompleteAbort" || d["tx-r"].ProducerEpoch != epoch+1 {
		t.Fatalf("after restart: %+v %v", d, err)
	}
	if got := readIsolated(t, tb, topic, kgo.ReadCommitted(), 0); len(got) != 0 {
		t.Fatalf("read_committed after aborts: %v", got)
	}
}

func initTxnTimeout(t *testing.T, tb *testBroker, id string, ms int32) (int64, int16) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), ms
	resp := rawReq[*kmsg.InitProducerIDResponse](t, tb, req)
	if resp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func recrcBatch(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// shortTxnAbortCheck makes brokers started after it look for expired
// transactions every d.
func shortTxnAbortCheck(t *testing.T, d time.Duration) {
	old := txnAbortCheckInterval.Swap(int64(d))
	t.Cleanup(func() { txnAbortCheckInterval.Store(old) })
}

// A crash after a commit's markers are durable and before its
// CompleteCommit is (here: the last batch cut from __transaction_state, as a
// lost page cache would) leaves PrepareCommit, and the next start finishes
// the commit: the records stay committed, read once, and the LSO is the high
// watermark.
func TestCommitSurvivesLosingCompleteCommit(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.Logger = discardLogger() })
	const topic, id = "txn-complete-lost", "tx-c"
	if _, err := tb.admin().CreateTopic(testCtx(t), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	cl := txnClient(t, tb, id, topic)
	produceTxn(t, cl, true, "a", "b")
	cl.Close()
	sp, err := tb.b.txns.statePartition(id)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tb.cfg.DataDir, sp.dirName())
	d, err := tb.admin().DescribeTransactions(testCtx(t), id)
	if err != nil || d[id].State != "CompleteCommit" {
		t.Fatalf("after the commit: %+v %v", d, err)
	}
	tb.stop()
	seg := filepath.Join(dir, "00000000000000000000.log")
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	var last, at int // the last batch's start
	for rest := data; ; {
		_, r, _, ok := commitlog.NextBatch(rest)
		if !ok {
			break
		}
		last, at = at, len(data)-len(r)
		rest = r
	}
	if at != len(data) || last == 0 {
		t.Fatalf("segment of %d bytes: batches end at %d, the last starts at %d", len(data), at, last)
	}
	var v kmsg.TxnMetadataValue
	recs, err := commitlog.Records(data[last:])
	if err != nil || len(recs) != 1 || v.ReadFrom(recs[0].Value) != nil || v.State != 4 { // 4: CompleteCommit
		t.Fatalf("the last state record is not CompleteCommit: %v %+v", err, v)
	}
	if err := os.Truncate(seg, int64(last)); err != nil {
		t.Fatal(err)
	}
	tb.start(tb.addr)
	d, err = tb.admin().DescribeTransactions(testCtx(t), id)
	if err != nil || d[id].State != "CompleteCommit" {
		t.Fatalf("after the restart: %+v %v", d, err)
	}
	p := tb.b.partitionOf(tb.b.lookup(topic), 0)
	if l, h := p.log.LastStableOffset(), p.log.HighWatermark(); l != h {
		t.Fatalf("after the restart: LSO %d, HW %d", l, h)
	}
	if got := readIsolated(t, tb, topic, kgo.ReadCommitted(), 2); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("read_committed after the restart: %v", got)
	}
}

// TestCompactedTopicWithTransactions: a compacted topic written in
// transactions, a quarter of them aborted, keeps each key's last committed
// value and nothing aborted once cleaned, for read_committed and
// read_uncommitted consumers alike, before and after a restart.
func TestCompactedTopicWithTransactions(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	const topic = "latest"
	if _, err := tb.admin().CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact"), "segment.bytes": kmsg.StringPtr("1024")}, topic); err != nil {
		t.Fatal(err)
	}
	cl := txnClient(t, tb, "compacting", topic)
	txn := func(commit bool, recs ...*kgo.Record) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 40
	for i := 0; i < n; i++ {
		var recs []*kgo.Record
		for k := 0; k < 3; k++ {
			recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", k)), Value: []byte(fmt.Sprintf("%d:k%d", i, k))})
		}
		txn(i%4 != 3, recs...)
	}
	for i := 0; i < 30; i++ { // rolls the segments holding the above
		txn(true, &kgo.Record{Key: []byte("f"), Value: []byte(fmt.Sprintf("f%d", i))})
	}
	before := readIsolated(t, tb, topic, kgo.ReadUncommitted(), 3*n+30)
	tb.b.ApplyRetention()
	check := func(when string) {
		t.Helper()
		for _, level := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
			var got []string
			for _, v := range readIsolated(t, tb, topic, level, 1) {
				if !strings.HasPrefix(v, "f") {
					got = append(got, v)
				}
			}
			// n-1 is a multiple of 4 minus one: aborted; n-2 is the last commit.
			if want := []string{"38:k0", "38:k1", "38:k2"}; !slices.Equal(got, want) {
				t.Fatalf("%s, %v: %v, want %v (%d records before compaction)", when, level, got, want, len(before))
			}
		}
	}
	check("compacted")
	tb.restart()
	check("compacted, restarted")
}
