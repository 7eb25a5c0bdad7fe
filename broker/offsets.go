package broker

// Committed offsets: OffsetCommit (key 8, v0-v9), OffsetFetch (key 9, v0-v9),
// OffsetDelete (key 47, v0), and the __consumer_offsets topic that makes them
// and group metadata durable.
//
// Behaviour: commits are validated against the group (UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS while CompletingRebalance; commits
// with generation -1 and no member id are "simple" commits, allowed while the
// group has no members), written to __consumer_offsets as Kafka's
// OffsetCommitKey v1 / OffsetCommitValue v3 records, and acknowledged once
// fsynced. Group metadata is written as GroupMetadataKey v2 / GroupMetadataValue
// v3 when a generation becomes Stable or Empty; deletes are tombstones. The topic
// is created on first use with cleanup.policy=compact and
// OffsetsTopicPartitions partitions; a group lives in partition
// abs(javaHashCode(group)) % partitions, as in Kafka. On start every partition
// is replayed. Offsets of a group that has been Empty for OffsetsRetention are
// expired (tombstoned) by the retention loop.
// The retention loop compacts the topic like any other compact topic.
// Left out: OffsetFetch's RequireStable has nothing to wait for (no transactions).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

const offsetsTopic = "__consumer_offsets"

func init() {
	regKey(8, 0, 9, handleOffsetCommit)
	regKey(9, 0, 9, handleOffsetFetch)
	regKey(47, 0, 0, handleOffsetDelete)
}

// javaHashCode is Java's String.hashCode over UTF-16 code units, which Kafka
// uses to place a group in __consumer_offsets.
func javaHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

func (co *coordinator) offsetsPartition(group string) (*partition, error) {
	t := co.b.lookup(offsetsTopic)
	if t == nil {
		var code int16
		var msg string
		t, code, msg = co.b.createTopic(offsetsTopic, co.b.cfg.OffsetsTopicPartitions,
			map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}, false)
		if code == errTopicAlreadyExists {
			t = co.b.lookup(offsetsTopic)
		} else if t == nil {
			return nil, fmt.Errorf("create %s: %s", offsetsTopic, msg)
		}
	}
	h := javaHashCode(group)
	if h == -2147483648 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	co.b.mu.RLock()
	defer co.b.mu.RUnlock()
	return t.parts[int(h)%len(t.parts)], nil
}

// appendRecords writes records for a group to its __consumer_offsets partition
// and returns the offset to wait for durability.
func (co *coordinator) appendRecords(group string, recs []commitlog.Record) (*partition, int64, error) {
	p, err := co.offsetsPartition(group)
	if err != nil {
		return nil, 0, err
	}
	now := time.Now().UnixMilli()
	for i := range recs {
		recs[i].TimestampMs = now
	}
	res, err := p.log.Append(commitlog.EncodeBatch(now, recs))
	if err != nil {
		return nil, 0, err
	}
	return p, res.LastOffset + 1, nil
}

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, group, topic, partition
	return k.AppendTo(nil)
}

func offsetValue(o committedOffset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version, v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = 3, o.offset, o.leaderEpoch, o.metadata, o.commitMs
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = 2, group
	return k.AppendTo(nil)
}

// persistGroupLocked writes the group's metadata (not waiting for fsync; it is
// only used to restore the generation after a restart).
func (co *coordinator) persistGroupLocked(g *group) {
	v := kmsg.NewGroupMetadataValue()
	v.Version, v.ProtocolType, v.Generation = 3, g.protocolType, g.generation
	v.CurrentStateTimestamp = g.stateSince.UnixMilli()
	if g.protocol != "" {
		v.Protocol, v.Leader = strp(g.protocol), strp(g.leader)
	}
	for _, m := range g.members {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.ClientID, vm.ClientHost = m.id, m.clientID, m.clientHost
		if m.instanceID != "" {
			vm.InstanceID = strp(m.instanceID)
		}
		vm.RebalanceTimeoutMillis, vm.SessionTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds()), int32(m.sessionTimeout.Milliseconds())
		for _, p := range m.protocols {
			if p.Name == g.protocol {
				vm.Subscription = p.Metadata
			}
		}
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	if _, _, err := co.appendRecords(g.id, []commitlog.Record{{Key: groupKey(g.id), Value: v.AppendTo(nil)}}); err != nil {
		co.b.log.Error("writing group metadata failed", "group", g.id, "err", err)
	}
}

// deleteGroupLocked tombstones a group's metadata and offsets and forgets it.
func (co *coordinator) deleteGroupLocked(g *group) error {
	recs := []commitlog.Record{{Key: groupKey(g.id)}}
	for tp := range g.offsets {
		recs = append(recs, commitlog.Record{Key: offsetKey(g.id, tp.topic, tp.partition)})
	}
	if _, _, err := co.appendRecords(g.id, recs); err != nil {
		return err
	}
	g.setState(groupDead)
	delete(co.groups, g.id)
	return nil
}

func handleOffsetCommit(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	fill := func(code int16) {
		resp.Topics = resp.Topics[:0]
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	if req.Group == "" {
		fill(kerr.InvalidGroupID.Code)
		return respond(resp)
	}
	co.mu.Lock()
	g := co.getGroup(req.Group, true)
	code := int16(0)
	simple := req.Version == 0 || (req.Generation < 0 && req.MemberID == "")
	switch {
	case g.state == groupDead:
		code = kerr.CoordinatorNotAvailable.Code
	case simple:
		if len(g.members) > 0 {
			code = kerr.UnknownMemberID.Code
		}
	default:
		var m *member
		m, code = g.checkMember(req.MemberID, req.InstanceID, req.Generation)
		if code == 0 && g.state == groupCompletingRebalance {
			code = kerr.RebalanceInProgress.Code
		}
		if m != nil && code == 0 {
			co.resetSessionLocked(g, m)
		}
	}
	if code != 0 {
		co.mu.Unlock()
		fill(code)
		return respond(resp)
	}
	now := time.Now().UnixMilli()
	var recs []commitlog.Record
	type pending struct {
		tp topicPartition
		o  committedOffset
	}
	var updates []pending
	fill(0)
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			if b.partitionOf(b.lookup(rt.Topic), rp.Partition) == nil {
				resp.Topics[i].Partitions[j].ErrorCode = errUnknownTopicOrPartition
				continue
			}
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			if len(md) > 4096 {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := committedOffset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: md, commitMs: now}
			if req.Version < 6 {
				o.leaderEpoch = -1
			}
			recs = append(recs, commitlog.Record{Key: offsetKey(req.Group, rt.Topic, rp.Partition), Value: offsetValue(o)})
			updates = append(updates, pending{topicPartition{rt.Topic, rp.Partition}, o})
		}
	}
	if len(recs) == 0 {
		co.mu.Unlock()
		return respond(resp)
	}
	p, end, err := co.appendRecords(req.Group, recs)
	if err == nil {
		for _, u := range updates {
			g.offsets[u.tp] = u.o
		}
	}
	co.mu.Unlock()
	if err != nil {
		b.log.Error("writing committed offsets failed", "group", req.Group, "err", err)
		fill(errKafkaStorage)
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		defer cancel()
		if err := p.log.WaitDurable(ctx, end); err != nil {
			code := errRequestTimedOut
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				code = errKafkaStorage
			}
			fill(code)
		}
		return respond(resp)
	}}
}

func handleOffsetFetch(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.OffsetFetchRequest)
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	if req.Version < 8 {
		// The pre-v8 shape is the v8 one for a single group; convert.
		var topics []kmsg.OffsetFetchRequestGroupTopic
		for _, rt := range req.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: rt.Topic, Partitions: rt.Partitions})
		}
		if req.Topics == nil {
			topics = nil
		}
		for _, gt := range co.fetchOffsetsLocked(req.Group, topics) {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = gt.Topic
			for _, gp := range gt.Partitions {
				st.Partitions = append(st.Partitions, kmsg.OffsetFetchResponseTopicPartition{
					Partition: gp.Partition, Offset: gp.Offset, LeaderEpoch: gp.LeaderEpoch, Metadata: gp.Metadata, ErrorCode: gp.ErrorCode,
				})
			}
			resp.Topics = append(resp.Topics, st)
		}
		return respond(resp)
	}
	for _, rg := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = rg.Group
		sg.Topics = co.fetchOffsetsLocked(rg.Group, rg.Topics)
		resp.Groups = append(resp.Groups, sg)
	}
	return respond(resp)
}

// fetchOffsetsLocked answers OffsetFetch for one group; nil topics means every
// partition the group has committed. co.mu must be held.
func (co *coordinator) fetchOffsetsLocked(group string, topics []kmsg.OffsetFetchRequestGroupTopic) []kmsg.OffsetFetchResponseGroupTopic {
	g := co.groups[group]
	part := func(tp topicPartition) kmsg.OffsetFetchResponseGroupTopicPartition {
		sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata = tp.partition, -1, -1, strp("")
		if g != nil {
			if o, ok := g.offsets[tp]; ok {
				sp.Offset, sp.LeaderEpoch, sp.Metadata = o.offset, o.leaderEpoch, strp(o.metadata)
			}
		}
		return sp
	}
	var out []kmsg.OffsetFetchResponseGroupTopic
	if topics == nil {
		if g == nil {
			return nil
		}
		byTopic := map[string][]int32{}
		for tp := range g.offsets {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		for _, t := range sortedKeys(byTopic) {
			slices.Sort(byTopic[t])
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t, Partitions: byTopic[t]})
		}
	}
	for _, rt := range topics {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			st.Partitions = append(st.Partitions, part(topicPartition{rt.Topic, p}))
		}
		out = append(out, st)
	}
	return out
}

func handleOffsetDelete(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[req.Group]
	if g == nil || g.state == groupDead {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return respond(resp)
	}
	subscribed := map[string]bool{}
	if g.protocolType == "consumer" {
		for _, m := range g.members {
			for _, p := range m.protocols {
				if p.Name != g.protocol {
					continue
				}
				var meta kmsg.ConsumerMemberMetadata
				if meta.ReadFrom(p.Metadata) == nil {
					for _, t := range meta.Topics {
						subscribed[t] = true
					}
				}
			}
		}
	}
	var recs []commitlog.Record
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if subscribed[rt.Topic] {
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := g.offsets[topicPartition{rt.Topic, rp.Partition}]; ok {
				delete(g.offsets, topicPartition{rt.Topic, rp.Partition})
				recs = append(recs, commitlog.Record{Key: offsetKey(g.id, rt.Topic, rp.Partition)})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(recs) > 0 {
		if _, _, err := co.appendRecords(g.id, recs); err != nil {
			resp.ErrorCode = errKafkaStorage
		}
	}
	return respond(resp)
}

// load replays __consumer_offsets into the coordinator.
func (co *coordinator) load() error {
	t := co.b.lookup(offsetsTopic)
	if t == nil {
		return nil
	}
	for _, p := range t.parts {
		skipped, firstSkipped := 0, int64(-1)
		for off := p.log.StartOffset(); off < p.log.HighWatermark(); {
			data, err := p.log.Read(off, 4<<20)
			if err != nil {
				return fmt.Errorf("replay %s: %w", p, err)
			}
			if len(data) == 0 {
				break
			}
			start := off
			for {
				batch, rest, next, ok := commitlog.NextBatch(data)
				if !ok {
					break
				}
				// A batch that cannot be decoded (written before produce
				// validated records, or damaged) is skipped and counted: a
				// start never fails because of a record's content.
				recs, err := commitlog.Records(batch)
				if err != nil {
					if skipped == 0 {
						firstSkipped = off
						co.b.log.Warn("skipping unreadable records in "+offsetsTopic, "partition", p.String(), "offset", off, "err", err)
					}
					skipped++
				}
				for _, r := range recs {
					co.applyRecord(r.Key, r.Value)
				}
				off, data = next, rest
			}
			if off == start {
				co.b.log.Warn("stopping the replay at a batch that cannot be framed", "partition", p.String(), "offset", off)
				break
			}
		}
		if skipped > 1 {
			co.b.log.Warn("skipped unreadable batches in "+offsetsTopic, "partition", p.String(), "batches", skipped, "first_offset", firstSkipped)
		}
		co.skippedBatches += skipped
	}
	return nil
}

// applyRecord applies one __consumer_offsets record; unknown or malformed
// records are skipped (they may come from a newer format).
func (co *coordinator) applyRecord(key, value []byte) {
	if len(key) < 2 {
		return
	}
	switch version := int16(key[0])<<8 | int16(key[1]); version {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if k.ReadFrom(key) != nil {
			return
		}
		tp := topicPartition{k.Topic, k.Partition}
		if value == nil {
			if g := co.groups[k.Group]; g != nil {
				delete(g.offsets, tp)
			}
			return
		}
		var v kmsg.OffsetCommitValue
		if v.ReadFrom(value) != nil {
			return
		}
		co.getGroup(k.Group, true).offsets[tp] = committedOffset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitMs: v.CommitTimestamp}
	case 2:
		var k kmsg.GroupMetadataKey
		if k.ReadFrom(key) != nil {
			return
		}
		if value == nil {
			delete(co.groups, k.Group)
			return
		}
		var v kmsg.GroupMetadataValue
		if v.ReadFrom(value) != nil {
			return
		}
		g := co.getGroup(k.Group, true)
		g.protocolType, g.generation = v.ProtocolType, v.Generation
	}
}

// expireOffsets drops the offsets of groups that have been Empty for longer
// than the offsets retention, as Kafka does since 2.1.
func (co *coordinator) expireOffsets(now time.Time) {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, g := range co.groups {
		if g.state != groupEmpty || len(g.offsets) == 0 || now.Sub(g.emptySince) < co.b.cfg.OffsetsRetention {
			continue
		}
		var recs []commitlog.Record
		for tp := range g.offsets {
			recs = append(recs, commitlog.Record{Key: offsetKey(g.id, tp.topic, tp.partition)})
		}
		if _, _, err := co.appendRecords(g.id, recs); err != nil {
			co.b.log.Warn("expiring offsets failed", "group", g.id, "err", err)
			continue
		}
		g.offsets = map[topicPartition]committedOffset{}
	}
}

// stop cancels every timer (broker shutdown).
func (co *coordinator) stop() {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, g := range co.groups {
		if g.rebalance != nil {
			g.rebalance.Stop()
		}
		for _, m := range g.members {
			if m.timer != nil {
				m.timer.Stop()
			}
		}
		for _, t := range g.pending {
			t.Stop()
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
