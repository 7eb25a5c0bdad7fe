package broker

// answerPartitions is the one loop of the handlers that answer per partition
// as its leader (Fetch, ListOffsets, OffsetForLeaderEpoch). For each
// requested topic, in request order, topicOf resolves it (nil when unknown),
// lists its requested partitions and starts its response topic; for each of
// those partitions answer gets the partition, or nil and the error code that
// answers it instead: missing when the topic or partition does not exist
// (UNKNOWN_TOPIC_OR_PARTITION, or UNKNOWN_TOPIC_ID for requests that name
// topics by id), FENCED_ or UNKNOWN_LEADER_EPOCH when the client's current
// leader epoch (from at) is not ours. Authorization hooks in here.
func answerPartitions[RT, RP, ST, SP any](b *Broker, rts []RT, missing int16,
	topicOf func(*RT) (*topic, []RP, ST),
	at func(*RP) (index, currentLeaderEpoch int32),
	answer func(rp *RP, p *partition, code int16) SP,
	add func(*ST, SP),
) []ST {
	out := make([]ST, 0, len(rts))
	for i := range rts {
		t, rps, st := topicOf(&rts[i])
		for j := range rps {
			rp := &rps[j]
			index, epoch := at(rp)
			p := b.partitionOf(t, index)
			switch {
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
