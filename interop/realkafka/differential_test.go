//go:build realkafka

package realkafka

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/poll"
)

// scenario runs one scripted sequence of admin, produce, fetch, list-offsets
// and group operations and returns what it observed, one line per fact, in
// a form that does not depend on the cluster (no ids, addresses or times).
func scenario(t *testing.T, brokers []string, topic string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var obs []string
	note := func(format string, args ...any) { obs = append(obs, fmt.Sprintf(format, args...)) }
	errName := func(err error) string {
		if err == nil {
			return "ok"
		}
		if ke, ok := err.(*kerr.Error); ok {
			return ke.Message
		}
		for _, e := range []*kerr.Error{kerr.TopicAlreadyExists, kerr.InvalidConfig, kerr.UnknownTopicOrPartition, kerr.OffsetOutOfRange, kerr.InvalidPartitions, kerr.InvalidReplicationFactor, kerr.PolicyViolation} {
			if strings.Contains(err.Error(), e.Message) {
				return e.Message
			}
		}
		return "error"
	}

	// Admin: create, create again, bad config.
	r, err := adm.CreateTopic(ctx, 3, -1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
	note("create: %s partitions=%d", errName(firstErr(err, r.Err)), r.NumPartitions)
	r, err = adm.CreateTopic(ctx, 3, -1, nil, topic)
	note("create again: %s", errName(firstErr(err, r.Err)))
	r, err = adm.CreateTopic(ctx, 1, -1, map[string]*string{"retention.ms": kadm.StringPtr("abc")}, topic+"-bad")
	note("create with retention.ms=abc: %s", errName(firstErr(err, r.Err)))
	r, err = adm.CreateTopic(ctx, 0, -1, nil, topic+"-zero")
	note("create with 0 partitions: %s", errName(firstErr(err, r.Err)))
	// Real Kafka propagates metadata to every broker asynchronously: wait
	// until the broker asked knows the topic and a leader for each partition.
	poll.Until(t, 30*time.Second, "metadata of "+topic+" with a leader per partition", func() bool {
		md, err := adm.Metadata(ctx, topic)
		if err != nil || md.Topics[topic].Err != nil || len(md.Topics[topic].Partitions) != 3 {
			return false
		}
		for _, p := range md.Topics[topic].Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
		return true
	})

	// Metadata.
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics[topic]
	note("metadata: err=%s partitions=%d topicID set=%v internal=%v", errName(td.Err), len(td.Partitions), td.ID != [16]byte{}, td.IsInternal)
	for _, p := range td.Partitions.Sorted() {
		note("metadata partition %d: err=%s leader set=%v leaderEpoch>=0=%v", p.Partition, errName(p.Err), p.Leader >= 0, p.LeaderEpoch >= 0)
	}

	// Produce 30 records with explicit timestamps, 10 per partition.
	t0 := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("v", i)), Timestamp: t0.Add(time.Duration(i) * time.Second),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(fmt.Sprint(i))}}})
	}
	res := cl.ProduceSync(ctx, recs...)
	offs := map[int32][]int64{}
	for _, pr := range res {
		if pr.Err != nil {
			note("produce: %s", errName(pr.Err))
			continue
		}
		offs[pr.Record.Partition] = append(offs[pr.Record.Partition], pr.Record.Offset)
	}
	for p := int32(0); p < 3; p++ {
		sort.Slice(offs[p], func(i, j int) bool { return offs[p][i] < offs[p][j] })
		note("produce partition %d: offsets %v", p, offs[p])
	}

	// List offsets.
	starts, _ := adm.ListStartOffsets(ctx, topic)
	ends, _ := adm.ListEndOffsets(ctx, topic)
	byTs, _ := adm.ListOffsetsAfterMilli(ctx, t0.Add(15*time.Second).UnixMilli(), topic)
	for p := int32(0); p < 3; p++ {
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		b, _ := byTs.Lookup(topic, p)
		note("list offsets partition %d: earliest=%d latest=%d after t0+15s=%d (ts %d) err=%s/%s/%s", p, s.Offset, e.Offset, b.Offset, b.Timestamp-t0.UnixMilli(), errName(s.Err), errName(e.Err), errName(b.Err))
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp = 7, -1
	lt.Partitions = append(lt.Partitions, lp)
	lreq.Topics = append(lreq.Topics, lt)
	if lresp, err := lreq.RequestWith(ctx, cl); err == nil && len(lresp.Topics) == 1 && len(lresp.Topics[0].Partitions) == 1 {
		note("list offsets of partition 7: %s", errName(kerr.ErrorForCode(lresp.Topics[0].Partitions[0].ErrorCode)))
	} else {
		note("list offsets of partition 7: request %s", errName(err))
	}

	// Fetch back partition 1 and check every field.
	fc, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {1: kgo.NewOffset().At(0)}}))
	if err != nil {
		t.Fatal(err)
	}
	var got []*kgo.Record
	for len(got) < 10 && ctx.Err() == nil {
		got = append(got, fc.PollFetches(ctx).Records()...)
	}
	fc.Close()
	var fetched []string
	for _, r := range got {
		fetched = append(fetched, fmt.Sprintf("%d:%s=%s@%d[%s=%s]", r.Offset, r.Key, r.Value, r.Timestamp.Sub(t0).Milliseconds(), r.Headers[0].Key, r.Headers[0].Value))
	}
	note("fetch partition 1: %s", strings.Join(fetched, " "))

	// Configs.
	// (The order of configs in the answer is not part of the protocol: sorted here.)
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err == nil {
		if rc, err := rcs.On(topic, nil); err == nil {
			var cs []string
			for _, c := range rc.Configs {
				switch c.Key {
				case "retention.ms", "cleanup.policy", "segment.bytes", "max.message.bytes", "message.timestamp.type", "compression.type", "min.compaction.lag.ms":
					cs = append(cs, fmt.Sprintf("config %s=%s source=%s", c.Key, c.MaybeValue(), c.Source))
				}
			}
			sort.Strings(cs)
			obs = append(obs, cs...)
		}
	}
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("7200000")}}, topic)
	note("incremental alter retention.ms: %s", errName(firstErr(err, firstAlterErr(alt))))
	alt, err = adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "no.such.config", Value: kadm.StringPtr("1")}}, topic)
	note("alter an unknown config: %s", errName(firstErr(err, firstAlterErr(alt))))
	// The alter reaches every broker asynchronously too: wait (at most 30 s)
	// for it to show, then note what shows.
	_ = poll.Wait(30*time.Second, func() bool {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return false
		}
		rc, err := rcs.On(topic, nil)
		if err != nil {
			return false
		}
		for _, c := range rc.Configs {
			if c.Key == "retention.ms" {
				return c.MaybeValue() == "7200000"
			}
		}
		return false
	})
	if rcs, err := adm.DescribeTopicConfigs(ctx, topic); err == nil {
		if rc, err := rcs.On(topic, nil); err == nil {
			for _, c := range rc.Configs {
				if c.Key == "retention.ms" {
					note("after alter: retention.ms=%s", c.MaybeValue())
				}
			}
		}
	}

	// Delete records.
	dro := kadm.Offsets{}
	dro.Add(kadm.Offset{Topic: topic, Partition: 0, At: 5})
	drr, err := adm.DeleteRecords(ctx, dro)
	if err == nil {
		d, _ := drr.Lookup(topic, 0)
		note("delete records before 5: %s low watermark %d", errName(d.Err), d.LowWatermark)
	}
	starts, _ = adm.ListStartOffsets(ctx, topic)
	s0, _ := starts.Lookup(topic, 0)
	note("earliest after delete records: %d", s0.Offset)

	// Groups: commit and fetch offsets for an empty group.
	group := topic + "-group"
	co := kadm.Offsets{}
	co.Add(kadm.Offset{Topic: topic, Partition: 1, At: 7, LeaderEpoch: -1, Metadata: "meta"})
	cr, err := adm.CommitOffsets(ctx, group, co)
	note("commit offsets: %s", errName(firstErr(err, cr.Error())))
	fo, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		o, ok := fo.Lookup(topic, 1)
		note("fetch offsets: found=%v at=%d metadata=%q err=%s", ok, o.At, o.Metadata, errName(o.Err))
	}
	lags, err := adm.Lag(ctx, group)
	if err == nil {
		l := lags[group]
		note("group state=%s members=%d lag total=%d", l.State, len(l.Members), l.Lag.Total())
	}
	dg, err := adm.DeleteGroup(ctx, group)
	note("delete group: %s", errName(firstErr(err, dg.Err)))

	obs = append(obs, txnScenario(t, ctx, brokers, adm, topic+"-txn")...)

	// Delete the topic.
	dr, err := adm.DeleteTopic(ctx, topic)
	note("delete topic: %s", errName(firstErr(err, dr.Err)))
	dr, err = adm.DeleteTopic(ctx, topic+"-never")
	note("delete a topic that does not exist: %s", errName(firstErr(err, dr.Err)))
	return obs
}

// txnScenario: a committed, an aborted and an open transaction on one
// partition; the last stable offset, what read_committed and
// read_uncommitted see, and the coordinator's answers to bad requests.
func txnScenario(t *testing.T, ctx context.Context, brokers []string, adm *kadm.Client, topic string) []string {
	var obs []string
	note := func(format string, args ...any) { obs = append(obs, fmt.Sprintf(format, args...)) }
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "metadata of "+topic, func() bool {
		md, err := adm.Metadata(ctx, topic)
		return err == nil && md.Topics[topic].Err == nil && len(md.Topics[topic].Partitions) == 1 && md.Topics[topic].Partitions[0].Leader >= 0
	})
	tid := topic + "-tx"
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.TransactionalID(tid), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	run := func(end *kgo.TransactionEndTry, vals ...string) {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := tx.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				note("transactional produce: %v", err)
			}
		}
		if end != nil {
			note("end transaction (commit %v): %v", bool(*end), tx.EndTransaction(ctx, *end))
		}
	}
	commit, abort := kgo.TryCommit, kgo.TryAbort
	run(&commit, "c1", "c2")
	run(&abort, "a1", "a2")
	run(nil, "open")
	offsets := func() (int64, int64) {
		hw, _ := adm.ListEndOffsets(ctx, topic)
		lso, _ := adm.ListCommittedOffsets(ctx, topic)
		h, _ := hw.Lookup(topic, 0)
		l, _ := lso.Lookup(topic, 0)
		return h.Offset, l.Offset
	}
	// Kafka writes markers after answering EndTxn: wait for the LSO to settle.
	_ = poll.Wait(10*time.Second, func() bool { _, l := offsets(); return l == 6 })
	h, l := offsets()
	note("open transaction: high watermark %d, last stable offset %d", h, l)
	read := func(level kgo.IsolationLevel, upTo int64) string {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchIsolationLevel(level),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0)}}), kgo.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var vals []string
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			done := false
			fs.EachRecord(func(r *kgo.Record) {
				vals = append(vals, fmt.Sprintf("%d:%s", r.Offset, r.Value))
				done = done || r.Offset+1 >= upTo
			})
			if done || len(fs.Records()) == 0 && len(vals) > 0 {
				break
			}
		}
		return strings.Join(vals, " ")
	}
	note("read_committed with a transaction open: %s", read(kgo.ReadCommitted(), l))
	note("read_uncommitted with a transaction open: %s", read(kgo.ReadUncommitted(), h))
	note("end the open transaction: %v", tx.EndTransaction(ctx, kgo.TryCommit))
	_ = poll.Wait(10*time.Second, func() bool { h, l := offsets(); return l == h && h == 8 })
	h, l = offsets()
	note("after the commit: high watermark %d, last stable offset %d", h, l)
	note("read_committed after the commit: %s", read(kgo.ReadCommitted(), l))
	if d, err := adm.DescribeTransactions(ctx, tid); err == nil {
		s := d[tid]
		note("describe transaction: state %s partitions %d err %v", s.State, len(s.Topics[topic]), s.Err)
	} else {
		note("describe transaction: %v", err)
	}
	// Bad requests to the coordinator.
	er := kmsg.NewPtrEndTxnRequest()
	er.TransactionalID, er.ProducerID, er.ProducerEpoch, er.Commit = topic+"-nobody", 12345, 0, true
	if resp, err := er.RequestWith(ctx, tx); err == nil {
		note("EndTxn of an unknown transactional id: %v", kerr.ErrorForCode(resp.ErrorCode))
	} else {
		note("EndTxn of an unknown transactional id: request %v", err)
	}
	dr := kmsg.NewPtrDescribeTransactionsRequest()
	dr.TransactionalIDs = []string{topic + "-nobody"}
	if resp, err := dr.RequestWith(ctx, tx); err == nil && len(resp.TransactionStates) == 1 {
		note("describe an unknown transactional id: %v", kerr.ErrorForCode(resp.TransactionStates[0].ErrorCode))
	}
	adm.DeleteTopic(ctx, topic)
	return obs
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func firstAlterErr(rs kadm.AlterConfigsResponses) error {
	for _, r := range rs {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// knownDifferences are observations that differ for a documented reason
// (docs/COMPATIBILITY.md, "Differences from Apache Kafka").
var knownDifferences = map[string]string{}

// TestDifferential runs the same scenario against real Apache Kafka and the
// embedded broker and compares every observation.
func TestDifferential(t *testing.T) {
	c := realCluster(t)
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir(), Logger: quiet()}, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	topic := fmt.Sprintf("diff-%d", rand.IntN(1_000_000))
	real := scenario(t, c.brokers(), topic)
	ours := scenario(t, []string{s.KafkaAddr()}, topic)
	if len(real) != len(ours) {
		t.Fatalf("%d observations from Kafka, %d from tickertape:\nkafka:\n%s\ntickertape:\n%s", len(real), len(ours), strings.Join(real, "\n"), strings.Join(ours, "\n"))
	}
	diffs := 0
	for i := range real {
		if real[i] == ours[i] {
			t.Logf("same  %s", real[i])
			continue
		}
		if why, ok := knownDifferences[real[i]]; ok {
			t.Logf("known %s\n      tickertape: %s (%s)", real[i], ours[i], why)
			continue
		}
		diffs++
		t.Errorf("kafka:      %s\ntickertape: %s", real[i], ours[i])
	}
	if diffs == 0 {
		t.Logf("%d observations, no unexplained difference", len(real))
	}
}
