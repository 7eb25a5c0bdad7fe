package broker

// OffsetDelete, key 47, v0.
//
// Behaviour: deletes a group's committed offsets of partitions it is not
// subscribed to (GROUP_SUBSCRIBED_TO_TOPIC otherwise), as tombstones.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

func init() {
	regKey(47, 0, 0, handleOffsetDelete)
}

func handleOffsetDelete(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.OffsetDeleteRequest)
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if !c.allowed(opDelete, resGroup, req.Group) {
		resp.ErrorCode = errGroupAuthorization
		return respond(resp)
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[req.Group]
	if g == nil || g.state == groupDead {
		resp.ErrorCode = errGroupIDNotFound
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
			if !c.allowed(opRead, resTopic, rt.Topic) {
				sp.ErrorCode = errTopicAuthorization
			} else if subscribed[rt.Topic] {
				sp.ErrorCode = errGroupSubscribedToTopic
			} else if _, ok := g.offsets[topicPartition{rt.Topic, rp.Partition}]; ok {
				delete(g.offsets, topicPartition{rt.Topic, rp.Partition})
				co.dropPendingLocked(g.id, topicPartition{rt.Topic, rp.Partition})
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
