package broker

// Authorization: the one check every handler calls for the resources it
// touches, with Kafka's semantics (StandardAuthorizer):
//   - off unless an authenticated listener (SASL, or TLS with client
//     certificates) is served or Config.Authorize is set; then a resource
//     with no matching ACL is denied;
//   - super users (Config.SuperUsers) and the stack's own clients are allowed
//     everything;
//   - an ACL matches the principal or User:*, the client's IP or *, and the
//     resource by LITERAL name, the LITERAL wildcard "*", or a PREFIXED name;
//   - a matching DENY wins over any ALLOW; DENY applies to its exact operation
//     (or ALL) only, while an ALLOW of READ, WRITE, DELETE or ALTER also allows
//     DESCRIBE and an ALLOW of ALTER_CONFIGS allows DESCRIBE_CONFIGS.
//
// How a handler uses it: c.allowed(op, resourceType, name) per resource, and
// answer TOPIC_, GROUP_, CLUSTER_ or TRANSACTIONAL_ID_AUTHORIZATION_FAILED for
// that resource only. The transaction APIs (txn_apis.go, producerid.go,
// produce.go) and the KIP-848 ones (consumer848.go) call it as Kafka's
// KafkaApis does; the dispatcher's gate (sasl.go) runs before them all.

import (
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Shorter names for the kmsg enums the handlers use.
const (
	opRead            = kmsg.ACLOperationRead
	opWrite           = kmsg.ACLOperationWrite
	opCreate          = kmsg.ACLOperationCreate
	opDelete          = kmsg.ACLOperationDelete
	opAlter           = kmsg.ACLOperationAlter
	opDescribe        = kmsg.ACLOperationDescribe
	opClusterAction   = kmsg.ACLOperationClusterAction
	opDescribeConfigs = kmsg.ACLOperationDescribeConfigs
	opAlterConfigs    = kmsg.ACLOperationAlterConfigs
	opIdempotentWrite = kmsg.ACLOperationIdempotentWrite

	resTopic   = kmsg.ACLResourceTypeTopic
	resGroup   = kmsg.ACLResourceTypeGroup
	resCluster = kmsg.ACLResourceTypeCluster
	resTxnID   = kmsg.ACLResourceTypeTransactionalId
)

// clusterName is the one CLUSTER resource's name, as Kafka spells it.
const clusterName = "kafka-cluster"

// authorizing reports whether the authorizer is on for this connection's principal
// (false for super users and when authorization is off).
func (c *conn) authorizing() bool {
	return c.b.authOn.Load() && !c.b.supers[c.principal]
}

// allowed is the authorization hook: may this connection's principal do op
// on the resource?
func (c *conn) allowed(op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if !c.authorizing() {
		return true
	}
	return c.b.acls.authorize(c.principal, c.host(), op, rt, name)
}

// allowedAs is allowed for a principal and host kept from an earlier request:
// a KIP-848 member's regex subscription is resolved, on every reassignment,
// to the topics its principal may DESCRIBE, as Kafka's group coordinator does.
func (b *Broker) allowedAs(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if !b.authOn.Load() || b.supers[principal] {
		return true
	}
	return b.acls.authorize(principal, host, op, rt, name)
}

// allowedCluster is allowed on the CLUSTER resource.
func (c *conn) allowedCluster(op kmsg.ACLOperation) bool {
	return c.allowed(op, resCluster, clusterName)
}

// host is the client's IP as ACL hosts name it.
func (c *conn) host() string {
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return "127.0.0.1" // in-process (DialInternal)
}

// authorizedOps is the KIP-430 bitfield of ops the principal may perform on a resource.
func (c *conn) authorizedOps(rt kmsg.ACLResourceType, name string, ops ...kmsg.ACLOperation) int32 {
	var bits int32
	for _, op := range ops {
		if c.allowed(op, rt, name) {
			bits |= 1 << op
		}
	}
	return bits
}

var (
	topicOps   = []kmsg.ACLOperation{opRead, opWrite, opCreate, opDelete, opAlter, opDescribe, opDescribeConfigs, opAlterConfigs}
	groupOps   = []kmsg.ACLOperation{opRead, opDelete, opDescribe}
	clusterOps = []kmsg.ACLOperation{opCreate, opAlter, opDescribe, opClusterAction, opDescribeConfigs, opAlterConfigs, opIdempotentWrite}
)

// mayCreateTopic is Kafka's rule for creating a topic: CREATE on the cluster
// or on the topic.
func (c *conn) mayCreateTopic(name string) bool {
	return c.allowedCluster(opCreate) || c.allowed(opCreate, resTopic, name)
}

// autoCreate is Broker.autoCreate for this principal: a topic that does not
// exist is created only with CREATE permission, else TOPIC_AUTHORIZATION_FAILED.
func (c *conn) autoCreate(name string) (*topic, int16) {
	if t := c.b.lookup(name); t != nil {
		return t, 0
	}
	if !c.b.cfg.DisableAutoCreate && !c.mayCreateTopic(name) {
		return nil, errTopicAuthorization
	}
	return c.b.autoCreate(name)
}

// configDenied is the authorization of a config resource: topics need op on
// the topic (TOPIC_AUTHORIZATION_FAILED), brokers and the rest op on the
// cluster (CLUSTER_AUTHORIZATION_FAILED), as Kafka checks them. 0 = allowed.
func (c *conn) configDenied(rt kmsg.ConfigResourceType, name string, op kmsg.ACLOperation) int16 {
	if rt == kmsg.ConfigResourceTypeTopic {
		if !c.allowed(op, resTopic, name) {
			return errTopicAuthorization
		}
		return 0
	}
	if !c.allowedCluster(op) {
		return errClusterAuthorization
	}
	return 0
}

// mayWriteIdempotently is Kafka's rule for InitProducerId without a
// transactional id (KIP-679): IDEMPOTENT_WRITE on the cluster, or WRITE on
// any topic.
func (c *conn) mayWriteIdempotently() bool {
	if !c.authorizing() || c.allowedCluster(opIdempotentWrite) {
		return true
	}
	return c.b.acls.anyAllow(c.principal, c.host(), opWrite, resTopic)
}
