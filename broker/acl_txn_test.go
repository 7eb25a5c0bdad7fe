package broker

// Authorization of the transaction and KIP-848 APIs: the ACL matrix entries
// (txnACLAPIs, run by TestACLMatrix) and the checks that filter or refuse
// part of a request.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclTxnTopic is the topic the matrix's transactions write to; alice may
// READ and WRITE it.
const aclTxnTopic = "acl-txn-topic"

func initTxnAs(ctx context.Context, cl *kgo.Client, id string) (pid int64, epoch, code int16) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
	resp := first(req.RequestWith(ctx, cl.Broker(1)))
	return resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode
}

// mustInitTxn initializes a transactional id as cl (the admin in the matrix).
func mustInitTxn(ctx context.Context, cl *kgo.Client, id string) (int64, int16) {
	pid, epoch, code := initTxnAs(ctx, cl, id)
	if code != 0 {
		panic(fmt.Sprintf("init %s: %v", id, kerr.ErrorForCode(code)))
	}
	return pid, epoch
}

func mustOK(what string, code int16) {
	if code != 0 {
		panic(fmt.Sprintf("%s: %v", what, kerr.ErrorForCode(code)))
	}
}

// v3AddPartitions caps AddPartitionsToTxn at v3, the clients' form, as
// franz-go's own sharder does (sent plainly it would go out as v5, the
// brokers' form, and the sharder would ask FindCoordinator first).
type v3AddPartitions struct {
	*kmsg.AddPartitionsToTxnRequest
}

func (v3AddPartitions) MaxVersion() int16 { return 3 }

// addPartsAs is AddPartitionsToTxn v3 (the clients' form); it answers the
// code of every partition, in order.
func addPartsAs(ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, tps ...topicPartition) []int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	for _, tp := range tps {
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = tp.topic, []int32{tp.partition}
		req.Topics = append(req.Topics, rt)
	}
	var codes []int16
	for _, st := range first(cl.Broker(1).Request(ctx, v3AddPartitions{req})).(*kmsg.AddPartitionsToTxnResponse).Topics {
		for _, sp := range st.Partitions {
			codes = append(codes, sp.ErrorCode)
		}
	}
	return codes
}

func addOffsetsAs(ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, group string) int16 {
	req := kmsg.NewPtrAddOffsetsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, group
	return first(req.RequestWith(ctx, cl.Broker(1))).ErrorCode
}

// txnCommitAs commits offset 7 of partition 0 of each topic; it answers the
// code of every partition, in order.
func txnCommitAs(ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, group string, topics ...string) []int16 {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, req.Generation = id, pid, epoch, group, -1
	for _, topic := range topics {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Offset, rp.LeaderEpoch = 7, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	var codes []int16
	for _, st := range first(req.RequestWith(ctx, cl.Broker(1))).Topics {
		for _, sp := range st.Partitions {
			codes = append(codes, sp.ErrorCode)
		}
	}
	return codes
}

func endTxnAs(ctx context.Context, cl *kgo.Client, id string, pid int64, epoch int16, commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return first(req.RequestWith(ctx, cl.Broker(1))).ErrorCode
}

func produceTxnAs(ctx context.Context, sb *secureBroker, cl *kgo.Client, id, topic string, batch []byte) int16 {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 10000, kmsg.StringPtr(id)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, sb.b.lookup(topic).id
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return first(req.RequestWith(ctx, cl.Broker(1))).Topics[0].Partitions[0].ErrorCode
}

func describeTxnAs(ctx context.Context, cl *kgo.Client, ids ...string) []kmsg.DescribeTransactionsResponseTransactionState {
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = ids
	return first(req.RequestWith(ctx, cl.Broker(1))).TransactionStates
}

// heartbeatAs joins (member epoch 0) a KIP-848 group as member.
func heartbeatAs(ctx context.Context, cl *kgo.Client, group, member string, topics []string, regex *string) *kmsg.ConsumerGroupHeartbeatResponse {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch, req.RebalanceTimeoutMillis = group, member, 0, 10000
	req.SubscribedTopicNames, req.SubscribedTopicRegex = topics, regex
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	return first(req.RequestWith(ctx, cl.Broker(1)))
}

func describe848As(ctx context.Context, cl *kgo.Client, groups ...string) []kmsg.ConsumerGroupDescribeResponseGroup {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups, req.IncludeAuthorizedOperations = groups, true
	return first(req.RequestWith(ctx, cl.Broker(1))).Groups
}

// txnACLAPIs are the matrix entries of the transaction and KIP-848 APIs, one
// per resource an API checks (the others are granted by prep). The admin
// sets up the state a call needs (an initialized transactional id, a group),
// so that an allowed call succeeds.
func txnACLAPIs(t *testing.T, sb *secureBroker, adm *kgo.Client) []aclAPI {
	lit, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLPermissionTypeAllow
	sb.createTopic(aclTxnTopic, 1)
	sb.addACL(resTopic, aclTxnTopic, lit, "User:alice", opWrite, allow)
	sb.addACL(resTopic, aclTxnTopic, lit, "User:alice", opRead, allow)
	grant := func(rt kmsg.ACLResourceType, op kmsg.ACLOperation) func(*secureBroker, string) {
		return func(sb *secureBroker, res string) { sb.addACL(rt, res, lit, "User:alice", op, allow) }
	}
	grants := func(gs ...func(*secureBroker, string)) func(*secureBroker, string) {
		return func(sb *secureBroker, res string) {
			for _, g := range gs {
				g(sb, res)
			}
		}
	}
	txTP := topicPartition{aclTxnTopic, 0}
	txAuth, tAuth, gAuth := errTransactionalIDAuth, errTopicAuthorization, errGroupAuthorization
	return []aclAPI{
		{name: "InitProducerId-txn", op: opWrite, rt: resTxnID, deny: txAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			_, _, code := initTxnAs(ctx, cl, res)
			return code
		}},
		{name: "AddPartitionsToTxn-txn", op: opWrite, rt: resTxnID, deny: txAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			return addPartsAs(ctx, cl, res, pid, epoch, txTP)[0]
		}},
		{name: "AddPartitionsToTxn-topic", op: opWrite, rt: resTopic, topic: true, deny: tAuth, prep: grant(resTxnID, opWrite), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			return addPartsAs(ctx, cl, res, pid, epoch, topicPartition{res, 0})[0]
		}},
		{name: "AddOffsetsToTxn-txn", op: opWrite, rt: resTxnID, deny: txAuth, prep: grant(resGroup, opRead), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			return addOffsetsAs(ctx, cl, res, pid, epoch, res)
		}},
		{name: "AddOffsetsToTxn-group", op: opRead, rt: resGroup, deny: gAuth, prep: grant(resTxnID, opWrite), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			return addOffsetsAs(ctx, cl, res, pid, epoch, res)
		}},
		{name: "TxnOffsetCommit-txn", op: opWrite, rt: resTxnID, deny: txAuth, prep: grant(resGroup, opRead), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			mustOK("add offsets", addOffsetsAs(ctx, adm, res, pid, epoch, res))
			return txnCommitAs(ctx, cl, res, pid, epoch, res, aclTxnTopic)[0]
		}},
		{name: "TxnOffsetCommit-group", op: opRead, rt: resGroup, deny: gAuth, prep: grant(resTxnID, opWrite), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			mustOK("add offsets", addOffsetsAs(ctx, adm, res, pid, epoch, res))
			return txnCommitAs(ctx, cl, res, pid, epoch, res, aclTxnTopic)[0]
		}},
		{name: "TxnOffsetCommit-topic", op: opRead, rt: resTopic, topic: true, deny: tAuth, prep: grants(grant(resTxnID, opWrite), grant(resGroup, opRead)), call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			mustOK("add offsets", addOffsetsAs(ctx, adm, res, pid, epoch, res))
			return txnCommitAs(ctx, cl, res, pid, epoch, res, res)[0]
		}},
		{name: "EndTxn", op: opWrite, rt: resTxnID, deny: txAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			mustOK("add partition", addPartsAs(ctx, adm, res, pid, epoch, txTP)[0])
			return endTxnAs(ctx, cl, res, pid, epoch, false)
		}},
		{name: "Produce-transactional", op: opWrite, rt: resTxnID, deny: txAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			pid, epoch := mustInitTxn(ctx, adm, res)
			mustOK("add partition", addPartsAs(ctx, adm, res, pid, epoch, txTP)[0])
			code := produceTxnAs(ctx, sb, cl, res, aclTxnTopic, txnBatch(t, pid, epoch, 0, "v"))
			mustOK("abort", endTxnAs(ctx, adm, res, pid, epoch, false))
			return code
		}},
		{name: "DescribeTransactions", op: opDescribe, rt: resTxnID, implied: opWrite, deny: txAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			mustInitTxn(ctx, adm, res)
			return describeTxnAs(ctx, cl, res)[0].ErrorCode
		}},
		{name: "ConsumerGroupHeartbeat", op: opRead, rt: resGroup, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			return heartbeatAs(ctx, cl, res, "m-"+res, []string{aclTxnTopic}, nil).ErrorCode
		}},
		{name: "ConsumerGroupDescribe", op: opDescribe, rt: resGroup, implied: opRead, deny: gAuth, call: func(ctx context.Context, sb *secureBroker, cl *kgo.Client, res string) int16 {
			mustOK("heartbeat", heartbeatAs(ctx, adm, res, "m-"+res, []string{aclTxnTopic}, nil).ErrorCode)
			return describe848As(ctx, cl, res)[0].ErrorCode
		}},
	}
}

// AddPartitionsToTxn v4+ is the brokers' form: CLUSTER_ACTION on the
// cluster, whatever the principal may do with the transactional id and the
// topics, as in Kafka.
func TestACLAddPartitionsToTxnBrokerForm(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	admin, alice := sb.admin(), sb.alice()
	lit, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLPermissionTypeAllow
	sb.createTopic("v4-topic", 1)
	sb.addACL(resTopic, "v4-topic", lit, "User:alice", kmsg.ACLOperationAll, allow)
	sb.addACL(resTxnID, "v4-tx", lit, "User:alice", kmsg.ACLOperationAll, allow)
	pid, epoch := mustInitTxn(ctx, admin, "v4-tx")
	mustOK("add partition", addPartsAs(ctx, admin, "v4-tx", pid, epoch, topicPartition{"v4-topic", 0})[0])
	verify := func(cl *kgo.Client) *kmsg.AddPartitionsToTxnResponse {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 4
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "v4-tx", pid, epoch, true
		rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		rt.Topic, rt.Partitions = "v4-topic", []int32{0}
		tx.Topics = append(tx.Topics, rt)
		req.Transactions = append(req.Transactions, tx)
		return first(req.RequestWith(ctx, cl.Broker(1)))
	}
	ok := func(who string, r *kmsg.AddPartitionsToTxnResponse) {
		t.Helper()
		if r.ErrorCode != 0 || len(r.Transactions) != 1 || r.Transactions[0].Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("%s: %v %+v, want the partition verified", who, kerr.ErrorForCode(r.ErrorCode), r.Transactions)
		}
	}
	refused := func(who string, r *kmsg.AddPartitionsToTxnResponse) {
		t.Helper()
		if r.ErrorCode != errClusterAuthorization || len(r.Transactions) != 0 {
			t.Fatalf("%s: %v %+v, want CLUSTER_AUTHORIZATION_FAILED and no transaction", who, kerr.ErrorForCode(r.ErrorCode), r.Transactions)
		}
	}
	ok("super user", verify(admin))
	refused("alice with ALL on the id and topic", verify(alice))
	sb.addACL(resCluster, clusterName, lit, "User:alice", opClusterAction, allow)
	ok("alice with CLUSTER_ACTION", verify(alice))
	sb.addACL(resCluster, clusterName, lit, "User:alice", opClusterAction, kmsg.ACLPermissionTypeDeny)
	refused("alice with CLUSTER_ACTION allowed and denied", verify(alice))
}

// The partial answers: per-partition refusals that stop or do not stop the
// rest, and what the describe and list APIs leave out.
func TestACLTransactionPartialAndFiltered(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	admin, alice := sb.admin(), sb.alice()
	lit, pre, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLPermissionTypeAllow
	for _, n := range []string{"pub.a", "secret"} {
		sb.createTopic(n, 1)
	}
	sb.addACL(resTopic, "pub.", pre, "User:alice", opWrite, allow)
	sb.addACL(resTopic, "pub.", pre, "User:alice", opRead, allow)
	sb.addACL(resTxnID, "tx-", pre, "User:alice", opWrite, allow)
	sb.addACL(resGroup, "g", lit, "User:alice", opRead, allow)
	pubA, secret := topicPartition{"pub.a", 0}, topicPartition{"secret", 0}

	t.Run("AddPartitionsToTxn", func(t *testing.T) {
		pid, epoch := mustInitTxn(ctx, admin, "tx-add")
		got := addPartsAs(ctx, alice, "tx-add", pid, epoch, pubA, secret, topicPartition{"pub.missing", 0})
		want := []int16{errOperationNotAttempted, errTopicAuthorization, errUnknownTopicOrPartition}
		if !slices.Equal(got, want) {
			t.Fatalf("codes %v, want %v", got, want)
		}
		// Kafka never lets a client add an internal topic, super user or not.
		got = addPartsAs(ctx, admin, "tx-add", pid, epoch, pubA, topicPartition{offsetsTopic, 0})
		if want := []int16{errOperationNotAttempted, errTopicAuthorization}; !slices.Equal(got, want) {
			t.Fatalf("with __consumer_offsets: codes %v, want %v", got, want)
		}
		if st := describeTxnAs(ctx, admin, "tx-add")[0]; st.State != "Empty" || len(st.Topics) != 0 {
			t.Fatalf("after refused adds: state %s topics %+v, want Empty with none", st.State, st.Topics)
		}
	})

	t.Run("TxnOffsetCommit", func(t *testing.T) {
		pid, epoch := mustInitTxn(ctx, admin, "tx-off")
		mustOK("add offsets", addOffsetsAs(ctx, alice, "tx-off", pid, epoch, "g"))
		got := txnCommitAs(ctx, alice, "tx-off", pid, epoch, "g", "pub.a", "secret")
		if want := []int16{0, errTopicAuthorization}; !slices.Equal(got, want) {
			t.Fatalf("codes %v, want %v", got, want)
		}
		mustOK("commit", endTxnAs(ctx, alice, "tx-off", pid, epoch, true))
		req := kmsg.NewPtrOffsetFetchRequest()
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = "g"
		for _, n := range []string{"pub.a", "secret"} {
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = n, []int32{0}
			rg.Topics = append(rg.Topics, rt)
		}
		req.Groups = append(req.Groups, rg)
		resp := first(req.RequestWith(ctx, admin.Broker(1)))
		offs := map[string]int64{}
		for _, st := range resp.Groups[0].Topics {
			offs[st.Topic] = st.Partitions[0].Offset
		}
		if offs["pub.a"] != 7 || offs["secret"] != -1 {
			t.Fatalf("committed offsets %v, want pub.a at 7 and none for secret", offs)
		}
		// Refused for the group: nothing reaches the coordinator.
		got = txnCommitAs(ctx, alice, "tx-off", pid, epoch, "other-group", "pub.a")
		if want := []int16{errGroupAuthorization}; !slices.Equal(got, want) {
			t.Fatalf("other group: codes %v, want %v", got, want)
		}
	})

	t.Run("DescribeAndList", func(t *testing.T) {
		pid, epoch := mustInitTxn(ctx, admin, "tx-desc")
		mustOK("add", addPartsAs(ctx, admin, "tx-desc", pid, epoch, pubA, secret)[0])
		mustInitTxn(ctx, admin, "hidden-tx")
		sb.addACL(resTxnID, "tx-desc", lit, "User:alice", opDescribe, allow)
		topics := func(cl *kgo.Client) []string {
			st := describeTxnAs(ctx, cl, "tx-desc")[0]
			if st.ErrorCode != 0 {
				t.Fatalf("describe: %v", kerr.ErrorForCode(st.ErrorCode))
			}
			var out []string
			for _, dt := range st.Topics {
				out = append(out, dt.Topic)
			}
			return out
		}
		if got := topics(admin); !slices.Equal(got, []string{"pub.a", "secret"}) {
			t.Fatalf("admin sees topics %v", got)
		}
		if got := topics(alice); !slices.Equal(got, []string{"pub.a"}) {
			t.Fatalf("alice sees topics %v, want [pub.a]", got)
		}
		if st := describeTxnAs(ctx, alice, "hidden-tx")[0]; st.ErrorCode != errTransactionalIDAuth || st.State != "" {
			t.Fatalf("hidden-tx for alice: %v state %q", kerr.ErrorForCode(st.ErrorCode), st.State)
		}
		list := func(cl *kgo.Client) []string {
			resp := first(kmsg.NewPtrListTransactionsRequest().RequestWith(ctx, cl.Broker(1)))
			var ids []string
			for _, ts := range resp.TransactionStates {
				ids = append(ids, ts.TransactionalID)
			}
			slices.Sort(ids)
			return ids
		}
		// alice's WRITE on tx- (prefixed) implies DESCRIBE on every tx- id.
		if got := list(alice); slices.Contains(got, "hidden-tx") || !slices.Contains(got, "tx-desc") || !slices.Contains(got, "tx-add") {
			t.Fatalf("alice lists %v, want the tx- ids only", got)
		}
		if got := list(admin); !slices.Contains(got, "hidden-tx") {
			t.Fatalf("admin lists %v, want hidden-tx too", got)
		}
	})
}

// ConsumerGroupHeartbeat refuses subscribed names the principal may not
// describe, resolves a regex to the describable topics only, and
// ConsumerGroupDescribe hides a group whose assignment names a topic the
// principal may not describe.
func TestACLConsumerGroup848Topics(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	admin, alice := sb.admin(), sb.alice()
	lit, pre, allow := kmsg.ACLResourcePatternTypeLiteral, kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLPermissionTypeAllow
	for _, n := range []string{"rx.a", "rx.b", "hidden"} {
		sb.createTopic(n, 2)
	}
	sb.addACL(resGroup, "g848", pre, "User:alice", opRead, allow)
	sb.addACL(resTopic, "rx.a", lit, "User:alice", opDescribe, allow)

	r := heartbeatAs(ctx, alice, "g848-names", "m1", []string{"rx.a", "rx.b"}, nil)
	if r.ErrorCode != errTopicAuthorization {
		t.Fatalf("subscribing to rx.b: %v, want TOPIC_AUTHORIZATION_FAILED", kerr.ErrorForCode(r.ErrorCode))
	}
	if g := describe848As(ctx, admin, "g848-names")[0]; g.ErrorCode == 0 && len(g.Members) != 0 {
		t.Fatalf("the refused heartbeat joined: %+v", g.Members)
	}

	r = heartbeatAs(ctx, alice, "g848-rx", "m1", nil, kmsg.StringPtr(`^rx\.`))
	if r.ErrorCode != 0 {
		t.Fatalf("regex heartbeat: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	targetTopics := func(cl *kgo.Client) []string {
		g := describe848As(ctx, cl, "g848-rx")[0]
		if g.ErrorCode != 0 || len(g.Members) != 1 {
			t.Fatalf("describe g848-rx: %v %+v", kerr.ErrorForCode(g.ErrorCode), g.Members)
		}
		var out []string
		for _, tp := range g.Members[0].TargetAssignment.TopicPartitions {
			out = append(out, tp.Topic)
		}
		return out
	}
	if got := targetTopics(admin); !slices.Equal(got, []string{"rx.a"}) {
		t.Fatalf("alice's regex member is assigned %v, want [rx.a] only (rx.b is not hers to describe)", got)
	}
	if got := targetTopics(alice); !slices.Equal(got, []string{"rx.a"}) {
		t.Fatalf("alice describes assignment %v", got)
	}

	// An admin member assigned a topic alice may not describe hides the group from her.
	mustOK("admin heartbeat", heartbeatAs(ctx, admin, "g848-rx", "m2", []string{"hidden"}, nil).ErrorCode)
	g := describe848As(ctx, alice, "g848-rx")[0]
	if g.ErrorCode != errTopicAuthorization || len(g.Members) != 0 || g.ErrorMessage == nil {
		t.Fatalf("alice describes a group assigned 'hidden': %v %d members", kerr.ErrorForCode(g.ErrorCode), len(g.Members))
	}
	if g := describe848As(ctx, admin, "g848-rx")[0]; g.ErrorCode != 0 || len(g.Members) != 2 {
		t.Fatalf("admin describes g848-rx: %v %d members", kerr.ErrorForCode(g.ErrorCode), len(g.Members))
	}
	if g := describe848As(ctx, alice, "other")[0]; g.ErrorCode != errGroupAuthorization {
		t.Fatalf("a group alice may not describe: %v", kerr.ErrorForCode(g.ErrorCode))
	}
}

// franz-go's transactional producer over SASL: allowed end to end with
// prefixed ACLs, and refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED for
// an id alice may only describe.
func TestACLTransactionalProducer(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	pre, allow := kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLPermissionTypeAllow
	sb.createTopic("etl.out", 1)
	sb.addACL(resTopic, "etl.", pre, "User:alice", opWrite, allow)
	sb.addACL(resTxnID, "etl-", pre, "User:alice", opWrite, allow)

	cl := sb.client("SASL_PLAINTEXT", "SCRAM-SHA-256", aliceUser, alicePass, kgo.TransactionalID("etl-1"), kgo.DefaultProduceTopic("etl.out"))
	for round, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("r%d-%d", round, i))).FirstErr(); err != nil {
				t.Fatalf("produce in round %d: %v", round, err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end round %d: %v", round, err)
		}
	}
	rd := sb.client("SASL_PLAINTEXT", "SCRAM-SHA-512", adminUser, adminPass, kgo.ConsumeTopics("etl.out"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < 4 {
		fs := rd.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read back: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if want := []string{"r0-0", "r0-1", "r2-0", "r2-1"}; !slices.Equal(got, want) {
		t.Fatalf("read_committed %v, want %v", got, want)
	}

	// DESCRIBE lets FindCoordinator through, so InitProducerId is what refuses.
	sb.addACL(resTxnID, "other-", pre, "User:alice", opDescribe, allow)
	refused := sb.client("SASL_PLAINTEXT", "SCRAM-SHA-256", aliceUser, alicePass, kgo.TransactionalID("other-1"), kgo.DefaultProduceTopic("etl.out"))
	// franz-go initializes a transactional producer eagerly: the refusal
	// shows at BeginTransaction, or else at the first produce.
	err := refused.BeginTransaction()
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err = refused.ProduceSync(pctx, kgo.StringRecord("x")).FirstErr()
	}
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		t.Fatalf("producing with transactional id other-1: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
	}
	if sb.b.txns.get("etl-1") == nil || sb.b.txns.get("other-1") != nil {
		t.Fatal("the coordinator should know etl-1 only")
	}
}

// BenchmarkTransactionAuthorized is the cost of authorizing a transaction's
// requests (InitProducerId, AddPartitionsToTxn, Produce, EndTxn): one
// transactional franz-go client over SASL_PLAINTEXT, as the super user (no
// ACL is consulted) and as alice (prefixed ACLs on the id and topic, every
// request checked), 10 synchronous batches of 100 records per transaction,
// fsync never. It reports records/s; compare the two in the same run:
//
//	go test ./broker -run '^$' -bench TransactionAuthorized -benchtime 2000x -count 3
func BenchmarkTransactionAuthorized(b *testing.B) {
	for _, who := range []string{"super-user", "acl-checked"} {
		b.Run(who, func(b *testing.B) {
			sb := startSecureBroker(b)
			pre, allow := kmsg.ACLResourcePatternTypePrefixed, kmsg.ACLPermissionTypeAllow
			sb.createTopic("bench.txn", 1)
			sb.addACL(resTopic, "bench.", pre, "User:alice", opWrite, allow)
			sb.addACL(resTxnID, "bench-", pre, "User:alice", opWrite, allow)
			user, pass := adminUser, adminPass
			if who == "acl-checked" {
				user, pass = aliceUser, alicePass
			}
			cl := sb.client("SASL_PLAINTEXT", "SCRAM-SHA-256", user, pass, kgo.TransactionalID("bench-"+who),
				kgo.DefaultProduceTopic("bench.txn"), kgo.ProducerLinger(0))
			ctx := context.Background()
			recs := make([]*kgo.Record, 100)
			for i := range recs {
				recs[i] = &kgo.Record{Value: make([]byte, 100)}
			}
			const per = 10
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if i%per == 0 {
					if err := cl.BeginTransaction(); err != nil {
						b.Fatal(err)
					}
				}
				if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				if i%per == per-1 || i == b.N-1 {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/time.Since(start).Seconds(), "records/s")
		})
	}
}
