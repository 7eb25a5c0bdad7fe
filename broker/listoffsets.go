package broker

// ListOffsets, key 2, v1-v10.
//
// Behaviour: -2 (earliest) is the log start offset, -1 (latest) the high
// watermark (for read_committed, IsolationLevel 1, the last stable offset;
// timestamps at or past it find nothing then, as in Kafka), -3 (v7+) the record
// with the largest timestamp, -4 (v8+, earliest local) equals earliest because
// all data is local, -5 (v9+, latest tiered) finds nothing (no tiered storage);
// a timestamp >= 0 finds the first record whose timestamp is at or after it,
// exactly (records inside compressed batches are inspected, inflated as a
// stream that stops at the record found, at most two batches at a time).
// Left out: v0's multi-offset answers (Kafka 4 dropped v0 too).

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(2, 1, 10, handleListOffsets) }

func handleListOffsets(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	topicOf := func(rt *kmsg.ListOffsetsRequestTopic) (*topic, []kmsg.ListOffsetsRequestTopicPartition, kmsg.ListOffsetsResponseTopic) {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		return b.lookup(rt.Topic), rt.Partitions, st
	}
	at := func(rp *kmsg.ListOffsetsRequestTopicPartition) (int32, int32) {
		return rp.Partition, rp.CurrentLeaderEpoch
	}
	answer := func(rp *kmsg.ListOffsetsRequestTopicPartition, p *partition, code int16) kmsg.ListOffsetsResponseTopicPartition {
		sp := kmsg.NewListOffsetsResponseTopicPartition()
		sp.Partition, sp.ErrorCode = rp.Partition, code
		sp.Timestamp, sp.Offset = -1, -1
		if p != nil {
			sp.LeaderEpoch = p.log.LeaderEpoch()
			var err error
			switch ts := rp.Timestamp; {
			case ts == -2 || ts == -4:
				sp.Offset = p.log.StartOffset()
			case ts == -1:
				sp.Offset = p.log.HighWatermark()
			case ts == -3:
				var found bool
				sp.Offset, sp.Timestamp, found, err = p.log.MaxTimestamp()
				if !found {
					sp.Offset, sp.Timestamp = -1, -1
				}
			case ts >= 0:
				var found bool
				sp.Offset, sp.Timestamp, found, err = p.log.OffsetForTimestamp(ts)
				if !found {
					sp.Offset, sp.Timestamp = -1, -1
				}
			default: // -5 and anything newer: nothing tiered
			}
			if req.IsolationLevel == 1 && err == nil {
				if lso, ts := p.log.LastStableOffset(), rp.Timestamp; ts == -1 {
					sp.Offset = lso
				} else if ts != -2 && ts != -4 && sp.Offset >= lso {
					sp.Offset, sp.Timestamp = -1, -1
				}
			}
			if err != nil {
				sp.ErrorCode = logErrorCode(err)
				sp.Offset, sp.Timestamp = -1, -1
				b.log.Warn("list offsets failed", "partition", p.String(), "err", err)
			}
		}
		return sp
	}
	add := func(st *kmsg.ListOffsetsResponseTopic, sp kmsg.ListOffsetsResponseTopicPartition) {
		st.Partitions = append(st.Partitions, sp)
	}
	resp.Topics = answerPartitions(c, opDescribe, req.Topics, errUnknownTopicOrPartition, topicOf, at, answer, add)
	return respond(resp)
}
