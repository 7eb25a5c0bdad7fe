package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fastConsumerGroups(t *testing.T) {
	oldS := consumerSessionTimeout.Swap(int64(1500 * time.Millisecond))
	oldH := consumerHeartbeatInterval.Swap(int64(100 * time.Millisecond))
	t.Cleanup(func() { consumerSessionTimeout.Store(oldS); consumerHeartbeatInterval.Store(oldH) })
}

// start848Consumer consumes in a KIP-848 group (franz-go's ServerSideBalancer)
// and commits what it read.
func start848Consumer(t *testing.T, tb *testBroker, group, topic string, seen *sync.Map, balancer kgo.GroupBalancer) *groupConsumer {
	gc := &groupConsumer{dialer: &killableDialer{}, stop: make(chan struct{}), done: make(chan struct{})}
	cl, err := kgo.NewClient(kgo.SeedBrokers(tb.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.Dialer(gc.dialer.dial),
		kgo.ServerSideBalancer(), kgo.Balancers(balancer), kgo.FetchMaxWait(200*time.Millisecond))
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

// franz-go's KIP-848 consumers split a topic with the server-side uniform
// (and range) assignor, take over a member that leaves and one that dies,
// and between them read every record, committing as they go.
func TestConsumerGroupProtocol848(t *testing.T) {
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"uniform", kgo.CooperativeStickyBalancer()}, {"range", kgo.RangeBalancer()}} {
		t.Run(bal.name, func(t *testing.T) {
			fastConsumerGroups(t)
			tb := startBroker(t, fastGroups, func(c *Config) { c.Logger = discardLogger() })
			topic, group := "k848-"+bal.name, "g848-"+bal.name
			if _, err := tb.admin().CreateTopic(testCtx(t), 6, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			var seen sync.Map
			produceN(t, tb, topic, 0, 300)
			a := start848Consumer(t, tb, group, topic, &seen, bal.b)
			b := start848Consumer(t, tb, group, topic, &seen, bal.b)
			c := start848Consumer(t, tb, group, topic, &seen, bal.b)
			defer func() { b.halt(); b.cl.Close(); c.halt(); c.cl.Close() }()
			waitFor(t, "three members, each with two partitions", 15*time.Second, func() bool {
				d := describe848(t, tb, group)
				if len(d.Members) != 3 || d.State != "Stable" {
					return false
				}
				for _, m := range d.Members {
					if n := countParts(m.Assignment); n != 2 {
						return false
					}
				}
				return true
			})
			if d := describe848(t, tb, group); d.AssignorName != map[string]string{"uniform": "uniform", "range": "range"}[bal.name] {
				t.Fatalf("assignor %q", d.AssignorName)
			}
			a.dialer.kill() // dies: its partitions move after the session timeout
			a.halt()
			produceN(t, tb, topic, 300, 300)
			waitFor(t, "every record read", 30*time.Second, func() bool { n, _ := countSeen(&seen); return n == 600 })
			waitFor(t, "two members left with three partitions each", 15*time.Second, func() bool {
				d := describe848(t, tb, group)
				return len(d.Members) == 2 && d.State == "Stable" && countParts(d.Members[0].Assignment) == 3
			})
			// A classic member cannot join the consumer group while it has members.
			jg := kmsg.NewPtrJoinGroupRequest()
			jg.Group, jg.ProtocolType, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis = group, "consumer", 10000, 10000
			jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
			jresp, err := tb.client().Request(testCtx(t), jg)
			if err != nil || jresp.(*kmsg.JoinGroupResponse).ErrorCode != kerr.InconsistentGroupProtocol.Code {
				t.Fatalf("classic join of a consumer group: %v %v", err, jresp)
			}
		})
	}
}

func countParts(a kmsg.Assignment) int {
	n := 0
	for _, t := range a.TopicPartitions {
		n += len(t.Partitions)
	}
	return n
}

func describe848(t *testing.T, tb *testBroker, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := tb.client().Request(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*kmsg.ConsumerGroupDescribeResponse).Groups[0]
}

func TestConsumerGroupHeartbeatBadInput(t *testing.T) {
	tb := startBroker(t)
	hb := func(mut func(*kmsg.ConsumerGroupHeartbeatRequest)) *kmsg.ConsumerGroupHeartbeatResponse {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.RebalanceTimeoutMillis = "hb-bad", "m-1", 10000
		req.SubscribedTopicNames = []string{"x"}
		mut(req)
		resp, err := tb.client().Request(testCtx(t), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.ConsumerGroupHeartbeatResponse)
	}
	if r := hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 3 }); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = kmsg.StringPtr("nope") }); r.ErrorCode != kerr.UnsupportedAssignor.Code {
		t.Fatalf("assignor: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	r := hb(func(r *kmsg.ConsumerGroupHeartbeatRequest) {})
	if r.ErrorCode != 0 || r.MemberEpoch < 1 {
		t.Fatalf("join: %v epoch %d", kerr.ErrorForCode(r.ErrorCode), r.MemberEpoch)
	}
	if r2 := hb(func(q *kmsg.ConsumerGroupHeartbeatRequest) { q.MemberEpoch = r.MemberEpoch + 5 }); r2.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("wrong epoch: %v", kerr.ErrorForCode(r2.ErrorCode))
	}
	// A commit with a stale member epoch.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.MemberID, oc.Generation = "hb-bad", "m-1", r.MemberEpoch+1
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "x", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	tb.admin().CreateTopic(testCtx(t), 1, 1, nil, "x")
	resp, err := tb.client().Request(testCtx(t), oc)
	if err != nil || resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode != kerr.StaleMemberEpoch.Code {
		t.Fatalf("stale commit: %v %+v", err, resp)
	}
	if r3 := hb(func(q *kmsg.ConsumerGroupHeartbeatRequest) { q.MemberEpoch = -1 }); r3.ErrorCode != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(r3.ErrorCode))
	}
	if d := describe848(t, tb, "hb-bad"); d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after leave: %+v", d)
	}
}
