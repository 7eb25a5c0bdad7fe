package broker

// The coordinator's store: the __consumer_offsets topic that makes committed
// offsets (OffsetCommit, OffsetFetch and OffsetDelete are in their own
// files) and group metadata durable.
//
// Behaviour: commits are written to __consumer_offsets as Kafka's
// OffsetCommitKey v1 / OffsetCommitValue v3 records, and acknowledged once
// fsynced. Group metadata is written as GroupMetadataKey v2 / GroupMetadataValue
// v3 when a generation becomes Stable or Empty; deletes are tombstones. The topic
// is created on first use with cleanup.policy=compact and
// OffsetsTopicPartitions partitions; a group lives in partition
// abs(javaHashCode(group)) % partitions, as in Kafka. On start every partition
// is replayed. Offsets of a group that has been Empty for OffsetsRetention are
// expired (tombstoned) by the retention loop.
// The retention loop compacts the topic like any other compact topic.

import (
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

const offsetsTopic = "__consumer_offsets"

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
	for tp := range g.offsets {
		co.dropPendingLocked(g.id, tp)
	}
	g.setState(groupDead)
	delete(co.groups, g.id)
	return nil
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
				info, _ := commitlog.Info(batch)
				switch {
				case info.Control && len(recs) == 1:
					typ, err := commitlog.ControlType(recs[0].Key)
					co.completeTxnOffsetsLocked(info.ProducerID, err == nil && typ == commitlog.ControlCommit, func(group string) bool {
						gp, err := co.offsetsPartition(group)
						return err == nil && gp == p
					})
				case info.Transactional:
					co.replayTxnOffsets(info.ProducerID, recs)
				default:
					for _, r := range recs {
						co.applyRecord(r.Key, r.Value, r.Offset)
					}
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
// records are skipped (they may come from a newer format). at is the
// record's offset in __consumer_offsets.
func (co *coordinator) applyRecord(key, value []byte, at int64) {
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
			co.dropPendingLocked(k.Group, tp)
			return
		}
		var v kmsg.OffsetCommitValue
		if v.ReadFrom(value) != nil {
			return
		}
		co.getGroup(k.Group, true).offsets[tp] = committedOffset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitMs: v.CommitTimestamp, recordOffset: at}
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
		for tp := range g.offsets {
			co.dropPendingLocked(g.id, tp)
		}
		g.offsets = map[topicPartition]committedOffset{}
	}
}

// stop cancels every timer (broker shutdown).
func (co *coordinator) stop() {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.stopConsumerGroupTimersLocked()
	for _, g := range co.groups {
		if g.rebalance != nil {
			g.rebalance.Stop()
		}
		g.rebalanceEpoch++ // a callback already waiting for the lock does nothing
		for _, m := range g.members {
			if m.timer != nil {
				m.timer.Stop()
			}
			m.sessionEpoch++
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
