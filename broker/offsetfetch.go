package broker

// OffsetFetch, key 9, v0-v9.
//
// Behaviour: committed offsets of one group (v0-v7) or several (v8+), all
// partitions when none are named. Left out: RequireStable has nothing to wait
// for (no transactions).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(9, 0, 9, handleOffsetFetch)
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
		if !c.allowed(opDescribe, resGroup, req.Group) {
			resp.ErrorCode = errGroupAuthorization
			return respond(resp)
		}
		for _, gt := range c.visibleOffsets(co.markUnstableLocked(req.Group, req.RequireStable, co.fetchOffsetsLocked(req.Group, topics)), topics == nil) {
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
		if !c.allowed(opDescribe, resGroup, rg.Group) {
			sg.ErrorCode = errGroupAuthorization
			resp.Groups = append(resp.Groups, sg)
			continue
		}
		sg.Topics = c.visibleOffsets(co.markUnstableLocked(rg.Group, req.RequireStable, co.fetchOffsetsLocked(rg.Group, rg.Topics)), rg.Topics == nil)
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

// visibleOffsets applies topic DESCRIBE permission to fetched offsets: when
// all of a group's offsets were asked for, topics the principal may not
// describe are left out; topics asked for by name get TOPIC_AUTHORIZATION_FAILED.
func (c *conn) visibleOffsets(topics []kmsg.OffsetFetchResponseGroupTopic, all bool) []kmsg.OffsetFetchResponseGroupTopic {
	if !c.authorizing() {
		return topics
	}
	out := topics[:0]
	for _, t := range topics {
		if c.allowed(opDescribe, resTopic, t.Topic) {
			out = append(out, t)
			continue
		}
		if all {
			continue
		}
		for i := range t.Partitions {
			t.Partitions[i].Offset, t.Partitions[i].LeaderEpoch, t.Partitions[i].Metadata = -1, -1, nil
			t.Partitions[i].ErrorCode = errTopicAuthorization
		}
		out = append(out, t)
	}
	return out
}
