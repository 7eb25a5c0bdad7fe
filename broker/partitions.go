package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// answerPartitions is the one loop of the handlers that answer per partition
// as its leader (Fetch, ListOffsets, OffsetForLeaderEpoch). For each
// requested topic, in request order, topicOf resolves it (nil when unknown),
// lists its requested partitions and starts its response topic; for each of
// those partitions answer gets the partition, or nil and the error code that
// answers it instead: missing when the topic or partition does not exist
// (UNKNOWN_TOPIC_OR_PARTITION, or UNKNOWN_TOPIC_ID for requests that name
// topics by id), FENCED_ or UNKNOWN_LEADER_EPOCH when the client's current
// leader epoch (from at) is not ours, TOPIC_AUTHORIZATION_FAILED when the
// principal may not perform op on the topic. (A topic that does not exist is
// answered as missing whatever the ACLs say.)
func answerPartitions[RT, RP, ST, SP any](c *conn, op kmsg.ACLOperation, rts []RT, missing int16,
	topicOf func(*RT) (*topic, []RP, ST),
	at func(*RP) (index, currentLeaderEpoch int32),
	answer func(rp *RP, p *partition, code int16) SP,
	add func(*ST, SP),
) []ST {
	b := c.b
	out := make([]ST, 0, len(rts))
	for i := range rts {
		t, rps, st := topicOf(&rts[i])
		denied := t != nil && !c.allowed(op, resTopic, t.name)
		for j := range rps {
			rp := &rps[j]
			index, epoch := at(rp)
			p := b.partitionOf(t, index)
			switch {
			case denied:
				add(&st, answer(rp, nil, errTopicAuthorization))
			case p == nil:
				add(&st, answer(rp, nil, missing))
			case checkLeaderEpoch(p, epoch) != 0:
				add(&st, answer(rp, nil, checkLeaderEpoch(p, epoch)))
			default:
				add(&st, answer(rp, p, 0))
			}
		}
		out = append(out, st)
	}
	return out
}
