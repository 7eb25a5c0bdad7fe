package broker

// eachPartition is the one loop of the handlers that answer per partition as
// its leader (Fetch, ListOffsets, OffsetForLeaderEpoch): for each requested
// partition of topic t, in request order, it resolves the partition and calls
// fn with it, or with nil and the error code that answers that partition
// instead: missing when the topic or partition does not exist (the caller
// says which code: UNKNOWN_TOPIC_OR_PARTITION, or UNKNOWN_TOPIC_ID for
// requests that name topics by id), FENCED_ or UNKNOWN_LEADER_EPOCH when the
// client's current leader epoch is not ours. Authorization hooks in here.
func eachPartition[RP any](b *Broker, t *topic, rps []RP, at func(*RP) (index, currentLeaderEpoch int32), missing int16, fn func(rp *RP, p *partition, code int16)) {
	for i := range rps {
		rp := &rps[i]
		index, epoch := at(rp)
		p := b.partitionOf(t, index)
		switch {
		case p == nil:
			fn(rp, nil, missing)
		case checkLeaderEpoch(p, epoch) != 0:
			fn(rp, nil, checkLeaderEpoch(p, epoch))
		default:
			fn(rp, p, 0)
		}
	}
}
