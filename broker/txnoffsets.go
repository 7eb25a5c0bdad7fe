package broker

// Transactional offsets: TxnOffsetCommit writes a group's offsets to its
// __consumer_offsets partition as a transactional batch of the producer (as
// Kafka does); they are pending until the transaction's marker reaches that
// partition, then applied (commit) or dropped (abort). The replay on start
// follows the same rule, so offsets of a transaction cut by a crash stay
// pending until the transaction coordinator's recovery decides them.
// OffsetFetch with RequireStable answers UNSTABLE_OFFSET_COMMIT for a
// partition with pending offsets, as Kafka does.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// txnPending is pid -> group -> partition -> offset; guarded by coordinator.mu.
type txnPending map[int64]map[string]map[topicPartition]committedOffset

func (co *coordinator) addTxnOffsetLocked(pid int64, group string, tp topicPartition, o committedOffset) {
	if co.txnOffsets == nil {
		co.txnOffsets = txnPending{}
	}
	byGroup := co.txnOffsets[pid]
	if byGroup == nil {
		byGroup = map[string]map[topicPartition]committedOffset{}
		co.txnOffsets[pid] = byGroup
	}
	if byGroup[group] == nil {
		byGroup[group] = map[topicPartition]committedOffset{}
	}
	byGroup[group][tp] = o
}

// completeTxnOffsets applies or drops pid's pending offsets of the groups
// stored in __consumer_offsets partition index (where a marker was written).
func (co *coordinator) completeTxnOffsets(pid int64, commit bool, index int32) {
	co.mu.Lock()
	defer co.mu.Unlock()
	co.completeTxnOffsetsLocked(pid, commit, func(group string) bool {
		p, err := co.offsetsPartition(group)
		return err == nil && p.index == index
	})
}

func (co *coordinator) completeTxnOffsetsLocked(pid int64, commit bool, inPartition func(group string) bool) {
	byGroup := co.txnOffsets[pid]
	for group, offs := range byGroup {
		if !inPartition(group) {
			continue
		}
		if commit {
			g := co.getGroup(group, true)
			for tp, o := range offs {
				if cur, ok := g.offsets[tp]; !ok || cur.recordOffset < o.recordOffset {
					g.offsets[tp] = o
				}
			}
		}
		delete(byGroup, group)
	}
	if len(byGroup) == 0 {
		delete(co.txnOffsets, pid)
	}
}

// dropPendingLocked forgets every transaction's pending offset for a group's
// partition: an offset tombstone (OffsetDelete, DeleteGroups, expiry) ends
// them, as in Kafka, so that what a replay finds after compaction removed the
// pending records matches.
func (co *coordinator) dropPendingLocked(group string, tp topicPartition) {
	for pid, byGroup := range co.txnOffsets {
		offs := byGroup[group]
		if _, ok := offs[tp]; !ok {
			continue
		}
		delete(offs, tp)
		if len(offs) == 0 {
			delete(byGroup, group)
		}
		if len(byGroup) == 0 {
			delete(co.txnOffsets, pid)
		}
	}
}

// unstableLocked reports whether a transaction holds offsets of the group's
// partition that are not decided yet.
func (co *coordinator) unstableLocked(group string, tp topicPartition) bool {
	for _, byGroup := range co.txnOffsets {
		if _, ok := byGroup[group][tp]; ok {
			return true
		}
	}
	return false
}

// replayTxnOffsets records a transactional batch's offsets found by the
// replay as pending for its producer.
func (co *coordinator) replayTxnOffsets(pid int64, recs []commitlog.Record) {
	for _, r := range recs {
		var k kmsg.OffsetCommitKey
		var v kmsg.OffsetCommitValue
		if len(r.Key) < 2 || r.Key[1] > 1 || r.Key[0] != 0 || k.ReadFrom(r.Key) != nil || r.Value == nil || v.ReadFrom(r.Value) != nil {
			continue
		}
		co.addTxnOffsetLocked(pid, k.Group, topicPartition{k.Topic, k.Partition},
			committedOffset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, commitMs: v.CommitTimestamp, recordOffset: r.Offset})
	}
}

// markUnstableLocked sets UNSTABLE_OFFSET_COMMIT on partitions with pending
// transactional offsets when the request asked for stable offsets.
func (co *coordinator) markUnstableLocked(group string, requireStable bool, topics []kmsg.OffsetFetchResponseGroupTopic) []kmsg.OffsetFetchResponseGroupTopic {
	if !requireStable || len(co.txnOffsets) == 0 {
		return topics
	}
	for i := range topics {
		for j := range topics[i].Partitions {
			sp := &topics[i].Partitions[j]
			if sp.ErrorCode == 0 && co.unstableLocked(group, topicPartition{topics[i].Topic, sp.Partition}) {
				sp.ErrorCode, sp.Offset = errUnstableOffsetCommit, -1
			}
		}
	}
	return topics
}
