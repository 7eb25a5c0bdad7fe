package broker

// Metadata, key 3, v0-v13.
//
// Behaviour: one broker (ourselves) that leads every partition with leader epoch
// from the partition log, and is the controller. Topic IDs are returned from v10.
// Unknown topics are auto-created when auto-creation is on and the client allows
// it (v4+: AllowAutoTopicCreation; before v4 always), and then reported as
// existing at once: the topic is ready when the response is sent.
// With the authorizer on (authz.go), a listing of all topics shows only those
// the principal may DESCRIBE, a named topic it may not describe gets
// TOPIC_AUTHORIZATION_FAILED, and auto-creation needs CREATE on the cluster or
// the topic. Authorized operations are "none requested" (-2147483648) unless
// asked for, then the operations the principal may perform.

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(3, 0, 13, handleMetadata) }

func handleMetadata(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port := c.advertised()
	br := kmsg.NewMetadataResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	resp.ClusterID = strp(b.clusterID)
	resp.ControllerID = b.cfg.NodeID

	addTopic := func(t *topic, name *string, id [16]byte, code int16) {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic, rt.TopicID, rt.ErrorCode = name, id, code
		if t != nil {
			rt.Topic, rt.TopicID, rt.IsInternal = strp(t.name), t.id, t.internal
			b.mu.RLock()
			parts := t.parts
			b.mu.RUnlock()
			for _, p := range parts {
				rp := kmsg.NewMetadataResponseTopicPartition()
				rp.Partition = p.index
				rp.Leader = b.cfg.NodeID
				rp.LeaderEpoch = p.log.LeaderEpoch()
				rp.Replicas = []int32{b.cfg.NodeID}
				rp.ISR = []int32{b.cfg.NodeID}
				rt.Partitions = append(rt.Partitions, rp)
			}
			if req.IncludeTopicAuthorizedOperations {
				rt.AuthorizedOperations = c.authorizedOps(resTopic, t.name, topicOps...)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}

	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		b.mu.RLock()
		all := make([]*topic, 0, len(b.topics))
		for _, t := range b.topics {
			all = append(all, t)
		}
		b.mu.RUnlock()
		sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
		for _, t := range all {
			if c.allowed(opDescribe, resTopic, t.name) { // listing all shows only what the principal may describe
				addTopic(t, nil, [16]byte{}, 0)
			}
		}
		return respond(resp)
	}
	allowCreate := req.Version < 4 || req.AllowAutoTopicCreation
	for _, rt := range req.Topics {
		if rt.Topic == nil { // by id (v10+)
			if t := b.lookupID(rt.TopicID); t != nil && !c.allowed(opDescribe, resTopic, t.name) {
				addTopic(nil, nil, rt.TopicID, errTopicAuthorization)
			} else if t != nil {
				addTopic(t, nil, [16]byte{}, 0)
			} else {
				addTopic(nil, nil, rt.TopicID, errUnknownTopicID)
			}
			continue
		}
		name := *rt.Topic
		if !c.allowed(opDescribe, resTopic, name) {
			addTopic(nil, rt.Topic, [16]byte{}, errTopicAuthorization)
			continue
		}
		t := b.lookup(name)
		if t == nil {
			if validateTopicName(name) != nil {
				addTopic(nil, rt.Topic, [16]byte{}, errInvalidTopic)
				continue
			}
			code := errUnknownTopicOrPartition
			if allowCreate {
				t, code = c.autoCreate(name)
			}
			if t == nil {
				addTopic(nil, rt.Topic, [16]byte{}, code)
				continue
			}
		}
		addTopic(t, nil, [16]byte{}, 0)
	}
	return respond(resp)
}
