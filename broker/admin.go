package broker

// Topic administration: CreateTopics (key 19, v0-v7), DeleteTopics (key 20,
// v0-v6), CreatePartitions (key 37, v0-v3), DeleteRecords (key 21, v0-v2).
//
// Behaviour: this single node is the controller, so every request is answered
// here and takes effect before the response is sent (there is nothing to wait
// for: TimeoutMillis is honoured trivially). Replication factors other than 1
// (or -1, "default") are refused as Apache Kafka refuses them on a one-broker
// cluster; explicit replica assignments must name this broker.
// Left out: CreateTopics' per-topic authorized operations.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(19, 0, 7, handleCreateTopics)
	regKey(20, 0, 6, handleDeleteTopics)
	regKey(37, 0, 3, handleCreatePartitions)
	regKey(21, 0, 2, handleDeleteRecords)
}

// checkReplicas validates a replica assignment: only this broker may appear, once.
func (b *Broker) checkReplicas(replicas []int32) (int16, string) {
	if len(replicas) != 1 || replicas[0] != b.cfg.NodeID {
		return errInvalidReplicaAssignment, fmt.Sprintf("replicas %v: this cluster has one broker, id %d", replicas, b.cfg.NodeID)
	}
	return 0, ""
}

func handleCreateTopics(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		code, msg := int16(0), ""
		n := rt.NumPartitions
		switch {
		case !c.mayCreateTopic(rt.Topic):
			code, msg = errTopicAuthorization, "needs CREATE on the cluster or on the topic"
		case seen[rt.Topic] > 1:
			code, msg = errInvalidRequest, fmt.Sprintf("topic %q appears more than once in the request", rt.Topic)
		case rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1:
			code, msg = errInvalidReplicationFactor, fmt.Sprintf("replication factor %d: this cluster has 1 broker, use 1 (or -1 for the default)", rt.ReplicationFactor)
		case len(rt.ReplicaAssignment) > 0:
			if n != -1 || rt.ReplicationFactor != -1 {
				code, msg = errInvalidRequest, "with a replica assignment, partitions and replication factor must both be -1"
				break
			}
			n = int32(len(rt.ReplicaAssignment))
			for i, ra := range rt.ReplicaAssignment {
				if ra.Partition != int32(i) {
					code, msg = errInvalidReplicaAssignment, "replica assignment must list partitions 0..n-1 in order"
					break
				}
				if code, msg = b.checkReplicas(ra.Replicas); code != 0 {
					break
				}
			}
		}
		var t *topic
		if code == 0 {
			cfgs := map[string]string{}
			for _, kv := range rt.Configs {
				if kv.Value != nil {
					cfgs[kv.Name] = *kv.Value
				}
			}
			t, code, msg = b.createTopic(rt.Topic, n, cfgs, req.ValidateOnly)
		}
		if code != 0 {
			st.ErrorCode = code
			st.ErrorMessage = strp(msg)
			st.NumPartitions, st.ReplicationFactor = -1, -1
		} else {
			st.TopicID = t.id
			st.NumPartitions, st.ReplicationFactor = n, 1
			if n == -1 {
				st.NumPartitions = b.cfg.DefaultPartitions
			}
			if !req.ValidateOnly {
				b.mu.RLock()
				for _, d := range topicConfigDefs {
					v, isDef := b.effective(t, d.name)
					rc := kmsg.NewCreateTopicsResponseTopicConfig()
					rc.Name, rc.Value = d.name, strp(v)
					rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
					if isDef {
						rc.Source = int8(kmsg.ConfigSourceDefaultConfig)
					}
					st.Configs = append(st.Configs, rc)
				}
				b.mu.RUnlock()
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

func handleDeleteTopics(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.DeleteTopicsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version < 6 {
		for _, n := range req.TopicNames {
			targets = append(targets, target{name: strp(n)})
		}
	} else {
		for _, t := range req.Topics {
			targets = append(targets, target{name: t.Topic, id: t.TopicID})
		}
	}
	for _, tg := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = tg.name, tg.id
		var t *topic
		if tg.name != nil {
			t = b.lookup(*tg.name)
		} else {
			t = b.lookupID(tg.id)
		}
		switch {
		case t != nil && !c.allowed(opDelete, resTopic, t.name), t == nil && tg.name != nil && !c.allowed(opDelete, resTopic, *tg.name):
			st.ErrorCode = errTopicAuthorization
		case t == nil && tg.name == nil:
			st.ErrorCode = errUnknownTopicID
		case t == nil:
			st.ErrorCode = errUnknownTopicOrPartition
		case b.protectedReason(t.name) != "":
			st.Topic, st.TopicID = strp(t.name), t.id
			st.ErrorCode, st.ErrorMessage = errTopicAuthorization, strp(b.protectedReason(t.name))
		default:
			st.Topic, st.TopicID = strp(t.name), t.id
			if err := b.deleteTopic(t); err != nil {
				b.log.Error("deleting topic failed", "topic", t.name, "err", err)
				st.ErrorCode, st.ErrorMessage = errKafkaStorage, strp(err.Error())
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

func handleCreatePartitions(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		code, msg := int16(0), ""
		for _, a := range rt.Assignment {
			if code, msg = b.checkReplicas(a.Replicas); code != 0 {
				break
			}
		}
		if code == 0 && !c.allowed(opAlter, resTopic, rt.Topic) {
			code, msg = errTopicAuthorization, "needs ALTER on the topic"
		}
		if code == 0 {
			if t := b.lookup(rt.Topic); t == nil {
				code, msg = errUnknownTopicOrPartition, fmt.Sprintf("topic %q does not exist", rt.Topic)
			} else {
				code, msg = b.addPartitions(t, rt.Count, req.ValidateOnly)
			}
		}
		if code != 0 {
			st.ErrorCode, st.ErrorMessage = code, strp(msg)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}

func handleDeleteRecords(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		t := b.lookup(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			if !c.allowed(opDelete, resTopic, rt.Topic) {
				sp.ErrorCode = errTopicAuthorization
			} else if p := b.partitionOf(t, rp.Partition); p == nil {
				sp.ErrorCode = errUnknownTopicOrPartition
			} else if b.protectedReason(t.name) != "" {
				// Kafka: "Cannot delete records of internal topic".
				sp.ErrorCode = errInvalidTopic
			} else if start, err := p.log.DeleteRecords(rp.Offset); err != nil {
				sp.ErrorCode = logErrorCode(err)
			} else {
				sp.LowWatermark = start
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(resp)
}
