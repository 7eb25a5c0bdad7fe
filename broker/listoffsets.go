package broker

// ListOffsets, key 2, v1-v10.
//
// Behaviour: -2 (earliest) is the log start offset, -1 (latest) the high
// watermark (also for read_committed: no transactions yet), -3 (v7+) the record
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
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := b.lookup(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset = -1, -1
			p := b.partitionOf(t, rp.Partition)
			switch {
			case p == nil:
				sp.ErrorCode = errUnknownTopicOrPartition
			case checkLeaderEpoch(p, rp.CurrentLeaderEpoch) != 0:
				sp.ErrorCode = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			default:
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
				if err != nil {
					sp.ErrorCode = logErrorCode(err)
					sp.Offset, sp.Timestamp = -1, -1
					b.log.Warn("list offsets failed", "partition", p.String(), "err", err)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
