package broker

// DescribeCluster (key 60, v0-v2) and OffsetForLeaderEpoch (key 23, v0-v4).
//
// Behaviour: DescribeCluster lists this one broker, which is also the
// controller; asking for controller endpoints (EndpointType 2) gets
// UNSUPPORTED_ENDPOINT_TYPE as from any Kafka broker. OffsetForLeaderEpoch
// answers from the partition's single leader epoch: the current epoch ends at
// the log end offset; a newer epoch is unknown (-1, -1).
// Left out: follower requests (ReplicaID >= 0) are answered like consumers.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(60, 0, 2, handleDescribeCluster)
	regKey(23, 0, 4, handleOffsetForLeaderEpoch)
}

func handleDescribeCluster(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = req.EndpointType
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = errUnsupportedEndpointType
		resp.ErrorMessage = strp("this broker only describes broker endpoints (EndpointType 1)")
		return respond(resp)
	}
	host, port := c.advertised()
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.cfg.NodeID, host, port
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	resp.ClusterID = b.clusterID
	resp.ControllerID = b.cfg.NodeID
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = c.authorizedOps(resCluster, clusterName, clusterOps...)
	}
	return respond(resp)
}

func handleOffsetForLeaderEpoch(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	topicOf := func(rt *kmsg.OffsetForLeaderEpochRequestTopic) (*topic, []kmsg.OffsetForLeaderEpochRequestTopicPartition, kmsg.OffsetForLeaderEpochResponseTopic) {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		return b.lookup(rt.Topic), rt.Partitions, st
	}
	at := func(rp *kmsg.OffsetForLeaderEpochRequestTopicPartition) (int32, int32) {
		return rp.Partition, rp.CurrentLeaderEpoch
	}
	answer := func(rp *kmsg.OffsetForLeaderEpochRequestTopicPartition, p *partition, code int16) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
		sp.Partition, sp.ErrorCode = rp.Partition, code
		sp.LeaderEpoch, sp.EndOffset = -1, -1
		// An unknown (newer) epoch is -1, -1; every record was written in the
		// current epoch, so any epoch up to it ends at the log end.
		if p != nil && rp.LeaderEpoch <= p.log.LeaderEpoch() {
			sp.LeaderEpoch, sp.EndOffset = p.log.LeaderEpoch(), p.log.EndOffset()
		}
		return sp
	}
	add := func(st *kmsg.OffsetForLeaderEpochResponseTopic, sp kmsg.OffsetForLeaderEpochResponseTopicPartition) {
		st.Partitions = append(st.Partitions, sp)
	}
	resp.Topics = answerPartitions(c, opDescribe, req.Topics, errUnknownTopicOrPartition, topicOf, at, answer, add)
	return respond(resp)
}
