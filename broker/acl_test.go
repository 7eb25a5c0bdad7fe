package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclAPI is one API in the ACL matrix: the operation and resource type it
// needs, whether the resource must exist first, and the call itself,
// answering the error code for that resource.
type aclAPI struct {
	name    string
	op      kmsg.ACLOperation
	rt      kmsg.ACLResourceType
	implied kmsg.ACLOperation // an operation whose ALLOW also allows op (0: none)
	topic   bool              // the resource is a topic to create first
	deny    int16             // the code when denied
	call    func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16
	// prep, when set, gives alice the API's other resources (the
	// transactional id of a topic check, ...), so only this one is tested.
	prep func(sb *secureBroker, res string)
}

// first returns a response, panicking on a request error (a failed test:
// every request here must reach the broker).
func first[T any](resp T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("request failed: %v", err))
	}
	return resp
}

func aclAPIs(t *testing.T) []aclAPI {
	topicID := func(sb *secureBroker, name string) [16]byte {
		if tp := sb.b.lookup(name); tp != nil {
			return tp.id
		}
		return [16]byte{}
	}
	tAuth, gAuth := errTopicAuthorization, errGroupAuthorization
	return []aclAPI{
		{name: "Produce", op: opWrite, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = res, topicID(sb, res)
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = makeBatch(t, -1, -1, 0, []string{"v"})
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
		}},
		{name: "Fetch", op: opRead, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrFetchRequest()
			req.MaxBytes, req.SessionEpoch = 1<<20, -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = res, topicID(sb, res)
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
		}},
		{name: "ListOffsets", op: opDescribe, rt: resTopic, implied: opRead, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = res
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp, rp.CurrentLeaderEpoch = -1, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
		}},
		{name: "Metadata", op: opDescribe, rt: resTopic, implied: opWrite, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(res)
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].ErrorCode
		}},
		{name: "CreateTopics", op: opCreate, rt: resTopic, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = res, 1, 1
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].ErrorCode
		}},
		{name: "DeleteTopics", op: opDelete, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrDeleteTopicsRequest()
			rt := kmsg.NewDeleteTopicsRequestTopic()
			rt.Topic = kmsg.StringPtr(res)
			req.Topics, req.TopicNames = append(req.Topics, rt), []string{res}
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].ErrorCode
		}},
		{name: "CreatePartitions", op: opAlter, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrCreatePartitionsRequest()
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = res, 2
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].ErrorCode
		}},
		{name: "DeleteRecords", op: opDelete, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrDeleteRecordsRequest()
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = res
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Offset = 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics, req.TimeoutMillis = append(req.Topics, rt), 10000
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
		}},
		{name: "DescribeConfigs", op: opDescribeConfigs, rt: resTopic, implied: opAlterConfigs, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrDescribeConfigsRequest()
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, res
			req.Resources = append(req.Resources, rr)
			return first(req.RequestWith(ctx, cl.Broker(1))).Resources[0].ErrorCode
		}},
		{name: "IncrementalAlterConfigs", op: opAlterConfigs, rt: resTopic, topic: true, deny: tAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrIncrementalAlterConfigsRequest()
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, res
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value = "retention.ms", kmsg.StringPtr("3600000")
			rr.Configs = append(rr.Configs, c)
			req.Resources = append(req.Resources, rr)
			return first(req.RequestWith(ctx, cl.Broker(1))).Resources[0].ErrorCode
		}},
		{name: "OffsetCommit", op: opRead, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Group, req.Generation = res, -1
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = "acl-group-topic"
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
		}},
		{name: "OffsetFetch", op: opDescribe, rt: resGroup, implied: opRead, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrOffsetFetchRequest()
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = res
			req.Groups, req.Group = append(req.Groups, rg), res
			resp := first(req.RequestWith(ctx, cl.Broker(1)))
			if len(resp.Groups) > 0 {
				return resp.Groups[0].ErrorCode
			}
			return resp.ErrorCode
		}},
		{name: "DescribeGroups", op: opDescribe, rt: resGroup, implied: opDelete, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Groups = []string{res}
			return first(req.RequestWith(ctx, cl.Broker(1))).Groups[0].ErrorCode
		}},
		{name: "DeleteGroups", op: opDelete, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Groups = []string{res}
			return first(req.RequestWith(ctx, cl.Broker(1))).Groups[0].ErrorCode
		}},
		{name: "FindCoordinator", op: opDescribe, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorKey, req.CoordinatorKeys = res, []string{res}
			resp := first(req.RequestWith(ctx, cl.Broker(1)))
			if len(resp.Coordinators) > 0 {
				return resp.Coordinators[0].ErrorCode
			}
			return resp.ErrorCode
		}},
		{name: "JoinGroup", op: opRead, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrJoinGroupRequest()
			req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = res, 10000, 10000, "consumer"
			p := kmsg.NewJoinGroupRequestProtocol()
			p.Name, p.Metadata = "range", []byte{0, 0}
			req.Protocols = append(req.Protocols, p)
			return first(req.RequestWith(ctx, cl.Broker(1))).ErrorCode
		}},
		{name: "Heartbeat", op: opRead, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.MemberID, req.Generation = res, "m", 1
			return first(req.RequestWith(ctx, cl.Broker(1))).ErrorCode
		}},
	}
}

// The ACL matrix: every API, for a user with no ACL, an ALLOW on the
// resource, a PREFIXED ALLOW, an ALLOW of an operation that implies the
// needed one, an ALLOW of ALL overridden by a DENY of the operation, another
// user's ALLOW, and a super user.
func TestACLMatrix(t *testing.T) {
	sb := startSecureBroker(t)
	admin, alice := sb.admin(), sb.alice()
	sb.createTopic("acl-group-topic", 1)
	sb.addACL(resTopic, "acl-group-topic", kmsg.ACLResourcePatternTypeLiteral, "User:alice", opRead, kmsg.ACLPermissionTypeAllow)
	type aclCase struct {
		name    string
		super   bool
		allowed bool
		setup   func(a aclAPI, res string)
	}
	lit, pre := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	cases := []aclCase{
		{name: "super", super: true, allowed: true, setup: func(aclAPI, string) {}},
		{name: "none", setup: func(aclAPI, string) {}},
		{name: "literal", allowed: true, setup: func(a aclAPI, res string) { sb.addACL(a.rt, res, lit, "User:alice", a.op, allow) }},
		{name: "prefixed", allowed: true, setup: func(a aclAPI, res string) { sb.addACL(a.rt, res[:len(res)-4], pre, "User:alice", a.op, allow) }},
		{name: "wildcard-principal", allowed: true, setup: func(a aclAPI, res string) { sb.addACL(a.rt, res, lit, "User:*", a.op, allow) }},
		{name: "implied", allowed: true, setup: func(a aclAPI, res string) { sb.addACL(a.rt, res, lit, "User:alice", a.implied, allow) }},
		{name: "deny-overrides", setup: func(a aclAPI, res string) {
			sb.addACL(a.rt, res, lit, "User:alice", kmsg.ACLOperationAll, allow)
			sb.addACL(a.rt, res, pre, "User:alice", a.op, deny)
		}},
		{name: "other-user", setup: func(a aclAPI, res string) { sb.addACL(a.rt, res, lit, "User:bob", a.op, allow) }},
		{name: "other-operation", setup: func(a aclAPI, res string) {
			other := opAlterConfigs
			if a.op == opAlterConfigs || a.implied == opAlterConfigs {
				other = opRead
			}
			sb.addACL(a.rt, res, lit, "User:alice", other, allow)
		}},
	}
	for _, a := range append(aclAPIs(t), txnACLAPIs(t, sb, admin)...) {
		t.Run(a.name, func(t *testing.T) {
			ctx := testCtx(t) // per API: the whole matrix takes longer than one deadline under -race
			okCode := int16(-1)
			for _, c := range cases {
				if c.name == "implied" && a.implied == 0 {
					continue
				}
				res := strings.ToLower(fmt.Sprintf("acl-%s-%s-res", a.name, c.name))
				if a.topic {
					sb.createTopic(res, 1)
				}
				if a.prep != nil {
					a.prep(sb, res)
				}
				c.setup(a, res)
				cl := alice
				if c.super {
					cl = admin
				}
				got := a.call(ctx, sb, cl, res)
				switch {
				case c.super:
					okCode = got
					if got == a.deny {
						t.Fatalf("super user denied: %v", kerr.ErrorForCode(got))
					}
				case c.allowed && got != okCode:
					t.Errorf("%s: got %v, want %v (as the super user got)", c.name, kerr.ErrorForCode(got), kerr.ErrorForCode(okCode))
				case !c.allowed && got != a.deny:
					t.Errorf("%s: got %v, want %v", c.name, kerr.ErrorForCode(got), kerr.ErrorForCode(a.deny))
				}
			}
		})
	}
}

// Cluster-level APIs: one resource, so each state is set up in turn.
func TestACLClusterAPIs(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	admin, alice := sb.admin(), sb.alice()
	apis := []struct {
		name string
		op   kmsg.ACLOperation
		call func(cl *kgo.Client) int16
	}{
		{"DescribeAcls", opDescribe, func(cl *kgo.Client) int16 {
			req := kmsg.NewPtrDescribeACLsRequest()
			req.ResourceType, req.ResourcePatternType, req.Operation, req.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
			return first(req.RequestWith(ctx, cl.Broker(1))).ErrorCode
		}},
		{"CreateAcls", opAlter, func(cl *kgo.Client) int16 {
			req := kmsg.NewPtrCreateACLsRequest()
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = resTopic, "made-by-test", kmsg.ACLResourcePatternTypeLiteral
			cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "User:carol", "*", opRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, cr)
			return first(req.RequestWith(ctx, cl.Broker(1))).Results[0].ErrorCode
		}},
		{"DescribeUserScramCredentials", opDescribe, func(cl *kgo.Client) int16 {
			return first(kmsg.NewPtrDescribeUserSCRAMCredentialsRequest().RequestWith(ctx, cl.Broker(1))).ErrorCode
		}},
		{"AlterUserScramCredentials", opAlter, func(cl *kgo.Client) int16 {
			req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
			u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
			u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = "carol", 1, 4096, []byte("salt"), []byte("salted-password-bytes-32-long!!!")
			req.Upsertions = append(req.Upsertions, u)
			return first(req.RequestWith(ctx, cl.Broker(1))).Results[0].ErrorCode
		}},
		{"InitProducerId", opIdempotentWrite, func(cl *kgo.Client) int16 {
			return first(kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl.Broker(1))).ErrorCode
		}},
		{"DescribeClientQuotas", opDescribeConfigs, func(cl *kgo.Client) int16 {
			resp := first(kmsg.NewPtrDescribeClientQuotasRequest().RequestWith(ctx, cl.Broker(1)))
			if resp.ErrorCode == 0 && (resp.Entries == nil || len(resp.Entries) != 0) {
				t.Errorf("DescribeClientQuotas: entries %v, want an empty list", resp.Entries)
			}
			return resp.ErrorCode
		}},
		{"DescribeConfigs(broker)", opDescribeConfigs, func(cl *kgo.Client) int16 {
			req := kmsg.NewPtrDescribeConfigsRequest()
			rr := kmsg.NewDescribeConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
			req.Resources = append(req.Resources, rr)
			return first(req.RequestWith(ctx, cl.Broker(1))).Resources[0].ErrorCode
		}},
	}
	deleteAll := func() {
		req := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		req.Filters = append(req.Filters, f)
		if r := first(req.RequestWith(ctx, admin)); r.Results[0].ErrorCode != 0 {
			t.Fatalf("delete ACLs: %v", kerr.ErrorForCode(r.Results[0].ErrorCode))
		}
	}
	lit := kmsg.ACLResourcePatternTypeLiteral
	for _, a := range apis {
		t.Run(a.name, func(t *testing.T) {
			deleteAll()
			if got := a.call(admin); got != 0 {
				t.Fatalf("super user: %v", kerr.ErrorForCode(got))
			}
			if got := a.call(alice); got != errClusterAuthorization {
				t.Fatalf("no ACL: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(got))
			}
			sb.addACL(resCluster, clusterName, lit, "User:alice", a.op, kmsg.ACLPermissionTypeAllow)
			if got := a.call(alice); got != 0 {
				t.Fatalf("allowed: %v", kerr.ErrorForCode(got))
			}
			sb.addACL(resCluster, clusterName, lit, "User:alice", a.op, kmsg.ACLPermissionTypeDeny)
			if got := a.call(alice); got != errClusterAuthorization {
				t.Fatalf("allow + deny: %v, want CLUSTER_AUTHORIZATION_FAILED", kerr.ErrorForCode(got))
			}
		})
	}
}

// Metadata for all topics and ListGroups show only what the principal may
// describe; ACLs survive a restart; DescribeAcls and DeleteAcls filter as
// Kafka's AclBindingFilter does.
func TestACLFilteringAndPersistence(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	for _, n := range []string{"pub.a", "pub.b", "secret"} {
		sb.createTopic(n, 1)
	}
	for _, g := range []string{"pub-g", "secret-g"} {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = g, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "pub.a"
		rt.Partitions = append(rt.Partitions, kmsg.NewOffsetCommitRequestTopicPartition())
		req.Topics = append(req.Topics, rt)
		first(req.RequestWith(ctx, sb.admin()))
	}
	sb.addACL(resTopic, "pub.", kmsg.ACLResourcePatternTypePrefixed, "User:alice", opRead, kmsg.ACLPermissionTypeAllow)
	sb.addACL(resGroup, "pub-g", kmsg.ACLResourcePatternTypeLiteral, "User:alice", opDescribe, kmsg.ACLPermissionTypeAllow)
	check := func() {
		t.Helper()
		alice := sb.alice()
		md := first(kmsg.NewPtrMetadataRequest().RequestWith(ctx, alice))
		var names []string
		for _, tp := range md.Topics {
			names = append(names, *tp.Topic)
		}
		sort.Strings(names)
		if strings.Join(names, ",") != "pub.a,pub.b" {
			t.Fatalf("alice sees topics %v, want [pub.a pub.b]", names)
		}
		lg := first(kmsg.NewPtrListGroupsRequest().RequestWith(ctx, alice))
		if len(lg.Groups) != 1 || lg.Groups[0].Group != "pub-g" {
			t.Fatalf("alice lists groups %+v, want only pub-g", lg.Groups)
		}
	}
	check()
	sb.restart()
	check()

	// DescribeAcls with MATCH finds the prefixed ACL for a name under it.
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType = resTopic, kmsg.StringPtr("pub.zzz"), kmsg.ACLResourcePatternTypeMatch
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	resp := first(req.RequestWith(ctx, sb.admin()))
	if len(resp.Resources) != 1 || resp.Resources[0].ResourceName != "pub." || resp.Resources[0].ResourcePatternType != kmsg.ACLResourcePatternTypePrefixed || resp.Resources[0].ACLs[0].Principal != "User:alice" {
		t.Fatalf("MATCH pub.zzz: %+v", resp.Resources)
	}
	// DeleteAcls by principal removes exactly alice's two ACLs.
	dreq := kmsg.NewPtrDeleteACLsRequest()
	f := kmsg.NewDeleteACLsRequestFilter()
	f.ResourceType, f.ResourcePatternType, f.Operation, f.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny, kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	f.Principal = kmsg.StringPtr("User:alice")
	dreq.Filters = append(dreq.Filters, f)
	dresp := first(dreq.RequestWith(ctx, sb.admin()))
	if n := len(dresp.Results[0].MatchingACLs); n != 2 {
		t.Fatalf("deleted %d ACLs, want 2", n)
	}
	err := sb.alice().ProduceSync(ctx, &kgo.Record{Topic: "pub.a", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) && !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("produce after the ACLs were deleted: %v", err)
	}
	// Invalid ACLs are refused with a reason.
	creq := kmsg.NewPtrCreateACLsRequest()
	cr := kmsg.NewCreateACLsRequestCreation()
	cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = resTopic, "x", kmsg.ACLResourcePatternTypeLiteral
	cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "alice", "*", opRead, kmsg.ACLPermissionTypeAllow
	creq.Creations = append(creq.Creations, cr)
	if r := first(creq.RequestWith(ctx, sb.admin())).Results[0]; r.ErrorCode != errInvalidRequest || r.ErrorMessage == nil || !strings.Contains(*r.ErrorMessage, "User:alice") {
		t.Fatalf("principal without a type: %d %v", r.ErrorCode, r.ErrorMessage)
	}
}
