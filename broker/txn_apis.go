package broker

// The transaction APIs (the coordinator is txn.go): InitProducerId with a
// transactional id (producerid.go hands over), AddPartitionsToTxn key 24
// v0-v5 (v4+ is the batched form brokers use; VerifyOnly answers whether the
// partitions are in the transaction), AddOffsetsToTxn key 25 v0-v4, EndTxn
// key 26 v0-v4, TxnOffsetCommit key 28 v0-v5, DescribeTransactions key 65 v0,
// ListTransactions key 66 v0-v2.
//
// Errors as Kafka answers them: an unknown transactional id or a producer id
// that is not the id's is INVALID_PRODUCER_ID_MAPPING; an epoch that is not
// the current one is PRODUCER_FENCED (INVALID_PRODUCER_EPOCH for request
// versions older than KIP-588's); EndTxn with no partition added, or EndTxn
// commit after an abort (and the reverse), is INVALID_TXN_STATE; a
// TxnOffsetCommit for a group not added with AddOffsetsToTxn is
// INVALID_TXN_STATE, and one from a stale generation or unknown member gets
// the group's ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID.
//
// Authorization, as Kafka's KafkaApis checks it before the coordinator sees
// the request: InitProducerId, AddPartitionsToTxn v0-v3, AddOffsetsToTxn,
// EndTxn and TxnOffsetCommit need WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); AddPartitionsToTxn v0-v3 WRITE on
// each topic (TOPIC_AUTHORIZATION_FAILED for that partition, Kafka's internal
// topics included, and OPERATION_NOT_ATTEMPTED for the others: nothing is
// added); AddPartitionsToTxn v4+ (broker to broker) CLUSTER_ACTION on the
// cluster (CLUSTER_AUTHORIZATION_FAILED for the whole request);
// AddOffsetsToTxn and TxnOffsetCommit READ on the group
// (GROUP_AUTHORIZATION_FAILED); TxnOffsetCommit READ on each topic
// (TOPIC_AUTHORIZATION_FAILED for that partition, the others are committed);
// DescribeTransactions DESCRIBE on each id (TRANSACTIONAL_ID_AUTHORIZATION_
// FAILED for that id) and lists only the topics the principal may DESCRIBE;
// ListTransactions lists only the ids the principal may DESCRIBE.
// Left out: EndTxn v5 and the transaction.version feature (KIP-890).

import (
	"context"
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

var (
	errInvalidTxnState          = kerr.InvalidTxnState.Code
	errInvalidProducerIDMapping = kerr.InvalidProducerIDMapping.Code
	errConcurrentTransactions   = kerr.ConcurrentTransactions.Code
	errProducerFenced           = kerr.ProducerFenced.Code
	errTransactionalIDNotFound  = kerr.TransactionalIDNotFound.Code
	errOperationNotAttempted    = kerr.OperationNotAttempted.Code
	errUnstableOffsetCommit     = kerr.UnstableOffsetCommit.Code
)

func init() {
	regKey(24, 0, 5, handleAddPartitionsToTxn)
	regKey(25, 0, 4, handleAddOffsetsToTxn)
	regKey(26, 0, 4, handleEndTxn)
	regKey(28, 0, 5, handleTxnOffsetCommit)
	regKey(65, 0, 0, handleDescribeTransactions)
	regKey(66, 0, 2, handleListTransactions)
}

// txnOpTimeout bounds the fsyncs one transactional request waits for.
const txnOpTimeout = 30 * time.Second

// checkProducerLocked validates a request's producer against t (nil: unknown
// id). fencedSince is the request version from which PRODUCER_FENCED is known
// to clients. t.mu must be held when t is not nil.
func checkProducerLocked(t *txnMeta, pid int64, epoch int16, version, fencedSince int16) int16 {
	switch {
	case t == nil || t.gone || pid != t.pid:
		return errInvalidProducerIDMapping
	case epoch != t.epoch:
		if version < fencedSince {
			return errInvalidProducerEpoch
		}
		return errProducerFenced
	}
	return 0
}

// lockTxn returns the id's state, locked, or nil.
func (tc *txnCoordinator) lockTxn(id string) *txnMeta {
	t := tc.get(id)
	if t != nil {
		t.mu.Lock()
	}
	return t
}

func unlockTxn(t *txnMeta) {
	if t != nil {
		t.mu.Unlock()
	}
}

// initTxnProducer answers InitProducerId for a transactional id.
func (tc *txnCoordinator) initTxnProducer(req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) reply {
	b := tc.b
	id := *req.TransactionalID
	timeout := time.Duration(req.TransactionTimeoutMillis) * time.Millisecond
	if id == "" {
		resp.ErrorCode = errInvalidRequest
		return respond(resp)
	}
	if timeout <= 0 || timeout > maxTxnTimeout {
		resp.ErrorCode = errInvalidTxnTimeout
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, txnOpTimeout)
		defer cancel()
		tc.mu.Lock()
		t := tc.txns[id]
		if t == nil {
			t = &txnMeta{id: id, pid: -1, epoch: -1, state: txnEmpty, parts: map[topicPartition]bool{}, startMs: -1}
			tc.txns[id] = t
		}
		tc.mu.Unlock()
		t.mu.Lock()
		defer t.mu.Unlock()
		if req.ProducerID >= 0 && t.pid >= 0 && (req.ProducerID != t.pid || req.ProducerEpoch != t.epoch) {
			// KIP-360: a producer re-initializing must still own the id.
			resp.ErrorCode = checkProducerLocked(t, req.ProducerID, req.ProducerEpoch, req.Version, 4)
			return respond(resp)
		}
		switch t.state {
		case txnOngoing, txnPrepareEpochFence:
			// Fence the previous producer: abort what it left open under a
			// bumped epoch; the new producer gets that epoch.
			if err := tc.fenceLocked(ctx, t); err != nil {
				b.log.Error("aborting the previous producer's transaction failed", "transactional_id", id, "err", err)
				resp.ErrorCode = errConcurrentTransactions
				return respond(resp)
			}
		case txnPrepareCommit, txnPrepareAbort:
			if err := tc.completeLocked(ctx, t, t.state == txnPrepareCommit); err != nil {
				resp.ErrorCode = errConcurrentTransactions
				return respond(resp)
			}
			fallthrough
		default:
			if t.pid < 0 || t.epoch >= maxProducerEpoch {
				b.mu.Lock()
				pid, err := b.pids.allocate()
				b.mu.Unlock()
				if err != nil {
					b.log.Error("allocating a producer id failed", "err", err)
					resp.ErrorCode = errKafkaStorage
					return respond(resp)
				}
				t.pid, t.epoch = pid, 0
			} else {
				t.epoch++
			}
		}
		t.timeoutMs, t.state, t.startMs = req.TransactionTimeoutMillis, txnEmpty, -1
		t.parts = map[topicPartition]bool{}
		if err := tc.persistLocked(ctx, t); err != nil {
			b.log.Error("writing the transaction state failed", "transactional_id", id, "err", err)
			resp.ErrorCode = errKafkaStorage
			return respond(resp)
		}
		resp.ProducerID, resp.ProducerEpoch = t.pid, t.epoch
		return respond(resp)
	}}
}

// addPartitionsLocked adds partitions to t's transaction (or, verifyOnly,
// checks that they are in it) and returns a code per partition. t.mu must be
// held; the state is persisted by the caller when changed is true.
func (tc *txnCoordinator) addPartitionsLocked(t *txnMeta, pid int64, epoch int16, version int16, tps []topicPartition, verifyOnly bool) (codes []int16, changed bool) {
	codes = make([]int16, len(tps))
	fill := func(c int16) []int16 {
		for i := range codes {
			codes[i] = c
		}
		return codes
	}
	if c := checkProducerLocked(t, pid, epoch, version, 2); c != 0 {
		return fill(c), false
	}
	if t.state == txnPrepareCommit || t.state == txnPrepareAbort || t.state == txnPrepareEpochFence {
		return fill(errConcurrentTransactions), false
	}
	if verifyOnly {
		for i, tp := range tps {
			if !t.parts[tp] || t.state != txnOngoing {
				codes[i] = errInvalidTxnState
			}
		}
		return codes, false
	}
	bad := false
	for i, tp := range tps {
		if tc.b.partitionOf(tc.b.lookup(tp.topic), tp.partition) == nil || isKafkaInternal(tp.topic) {
			codes[i], bad = errUnknownTopicOrPartition, true
		}
	}
	if bad {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = errOperationNotAttempted
			}
		}
		return codes, false
	}
	for _, tp := range tps {
		if !t.parts[tp] {
			t.parts[tp], changed = true, true
		}
	}
	if t.state != txnOngoing {
		t.state, t.startMs, changed = txnOngoing, time.Now().UnixMilli(), true
	}
	return codes, changed
}

// addPartitionsDenied is Kafka's check of a client's AddPartitionsToTxn
// before the coordinator: WRITE on the transactional id, then per partition
// WRITE on its topic (never granted for an internal topic) and its existence.
// When one fails, nothing is added and the others are OPERATION_NOT_ATTEMPTED.
func (c *conn) addPartitionsDenied(id string, tps []topicPartition) (codes []int16, refused bool) {
	codes = make([]int16, len(tps))
	if !c.allowed(opWrite, resTxnID, id) {
		for i := range codes {
			codes[i] = errTransactionalIDAuth
		}
		return codes, true
	}
	for i, tp := range tps {
		switch {
		case isKafkaInternal(tp.topic) || !c.allowed(opWrite, resTopic, tp.topic):
			codes[i], refused = errTopicAuthorization, true
		case c.b.partitionOf(c.b.lookup(tp.topic), tp.partition) == nil:
			codes[i], refused = errUnknownTopicOrPartition, true
		}
	}
	if refused {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = errOperationNotAttempted
			}
		}
	}
	return codes, refused
}

func handleAddPartitionsToTxn(c *conn, kreq kmsg.Request) reply {
	tc := c.b.txns
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version >= 4 && !c.allowedCluster(opClusterAction) {
		// The batched form is for brokers (KIP-890), as in Kafka.
		resp.ErrorCode = errClusterAuthorization
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(c.b.ctx, txnOpTimeout)
		defer cancel()
		one := func(id string, pid int64, epoch int16, verify bool, tps []topicPartition) []int16 {
			if req.Version < 4 {
				if codes, refused := c.addPartitionsDenied(id, tps); refused {
					return codes
				}
			}
			t := tc.lockTxn(id)
			defer unlockTxn(t)
			codes, changed := tc.addPartitionsLocked(t, pid, epoch, req.Version, tps, verify)
			if changed {
				if err := tc.persistLocked(ctx, t); err != nil {
					c.b.log.Error("writing the transaction state failed", "transactional_id", id, "err", err)
					for i := range codes {
						codes[i] = errKafkaStorage
					}
				}
			}
			return codes
		}
		if req.Version < 4 {
			var tps []topicPartition
			for _, rt := range req.Topics {
				for _, p := range rt.Partitions {
					tps = append(tps, topicPartition{rt.Topic, p})
				}
			}
			codes := one(req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, tps)
			i := 0
			for _, rt := range req.Topics {
				st := kmsg.NewAddPartitionsToTxnResponseTopic()
				st.Topic = rt.Topic
				for _, p := range rt.Partitions {
					sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					sp.Partition, sp.ErrorCode = p, codes[i]
					i++
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return respond(resp)
		}
		for _, rtx := range req.Transactions {
			var tps []topicPartition
			for _, rt := range rtx.Topics {
				for _, p := range rt.Partitions {
					tps = append(tps, topicPartition{rt.Topic, p})
				}
			}
			codes := one(rtx.TransactionalID, rtx.ProducerID, rtx.ProducerEpoch, rtx.VerifyOnly, tps)
			stx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			stx.TransactionalID = rtx.TransactionalID
			i := 0
			for _, rt := range rtx.Topics {
				st := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				st.Topic = rt.Topic
				for _, p := range rt.Partitions {
					sp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					sp.Partition, sp.ErrorCode = p, codes[i]
					i++
					st.Partitions = append(st.Partitions, sp)
				}
				stx.Topics = append(stx.Topics, st)
			}
			resp.Transactions = append(resp.Transactions, stx)
		}
		return respond(resp)
	}}
}

func handleAddOffsetsToTxn(c *conn, kreq kmsg.Request) reply {
	b := c.b
	tc := b.txns
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !c.allowed(opWrite, resTxnID, req.TransactionalID):
		resp.ErrorCode = errTransactionalIDAuth
		return respond(resp)
	case !c.allowed(opRead, resGroup, req.Group):
		resp.ErrorCode = errGroupAuthorization
		return respond(resp)
	}
	if req.Group == "" {
		resp.ErrorCode = errInvalidGroupID
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, txnOpTimeout)
		defer cancel()
		p, err := b.groups.offsetsPartition(req.Group)
		if err != nil {
			resp.ErrorCode = errCoordinatorNotAvailable
			return respond(resp)
		}
		tp := topicPartition{offsetsTopic, p.index}
		t := tc.lockTxn(req.TransactionalID)
		defer unlockTxn(t)
		if resp.ErrorCode = checkProducerLocked(t, req.ProducerID, req.ProducerEpoch, req.Version, 2); resp.ErrorCode != 0 {
			return respond(resp)
		}
		if t.state == txnPrepareCommit || t.state == txnPrepareAbort || t.state == txnPrepareEpochFence {
			resp.ErrorCode = errConcurrentTransactions
			return respond(resp)
		}
		changed := !t.parts[tp] || t.state != txnOngoing
		t.parts[tp] = true
		if t.state != txnOngoing {
			t.state, t.startMs = txnOngoing, time.Now().UnixMilli()
		}
		if changed {
			if err := tc.persistLocked(ctx, t); err != nil {
				b.log.Error("writing the transaction state failed", "transactional_id", t.id, "err", err)
				resp.ErrorCode = errKafkaStorage
			}
		}
		return respond(resp)
	}}
}

func handleEndTxn(c *conn, kreq kmsg.Request) reply {
	b := c.b
	tc := b.txns
	req := kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if !c.allowed(opWrite, resTxnID, req.TransactionalID) {
		resp.ErrorCode = errTransactionalIDAuth
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, txnOpTimeout)
		defer cancel()
		t := tc.lockTxn(req.TransactionalID)
		defer unlockTxn(t)
		if resp.ErrorCode = checkProducerLocked(t, req.ProducerID, req.ProducerEpoch, req.Version, 2); resp.ErrorCode != 0 {
			return respond(resp)
		}
		switch {
		case t.state == txnOngoing:
		case t.state == txnCompleteCommit && req.Commit, t.state == txnCompleteAbort && !req.Commit:
			return respond(resp) // a retry of the EndTxn that completed it
		case t.state == txnPrepareCommit && req.Commit, t.state == txnPrepareAbort && !req.Commit:
			// An earlier attempt failed after preparing: finish it.
		case t.state == txnPrepareCommit || t.state == txnPrepareAbort || t.state == txnPrepareEpochFence:
			resp.ErrorCode = errConcurrentTransactions
			return respond(resp)
		default:
			// Empty (no partition added), or commit after abort and the reverse.
			resp.ErrorCode = errInvalidTxnState
			return respond(resp)
		}
		if err := tc.completeLocked(ctx, t, req.Commit); err != nil {
			b.log.Error("ending a transaction failed; it is retried in the background", "transactional_id", t.id, "commit", req.Commit, "err", err)
			resp.ErrorCode = errConcurrentTransactions // the client retries
		}
		return respond(resp)
	}}
}

func handleTxnOffsetCommit(c *conn, kreq kmsg.Request) reply {
	b := c.b
	tc, co := b.txns, b.groups
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	// pre holds the codes decided before the coordinator (topic authorization,
	// unknown partitions): those partitions are left out, the others go on.
	pre := make([][]int16, len(req.Topics))
	fill := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if pre[i][j] == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				} else {
					resp.Topics[i].Partitions[j].ErrorCode = pre[i][j]
				}
			}
		}
	}
	for i := range pre {
		pre[i] = make([]int16, len(req.Topics[i].Partitions))
	}
	switch {
	case !c.allowed(opWrite, resTxnID, req.TransactionalID):
		fill(errTransactionalIDAuth)
		return respond(resp)
	case !c.allowed(opRead, resGroup, req.Group):
		fill(errGroupAuthorization)
		return respond(resp)
	case req.Group == "":
		fill(errInvalidGroupID)
		return respond(resp)
	}
	left := 0
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			switch {
			case !c.allowed(opRead, resTopic, rt.Topic):
				pre[i][j] = errTopicAuthorization
			case b.partitionOf(b.lookup(rt.Topic), rp.Partition) == nil:
				pre[i][j] = errUnknownTopicOrPartition
			default:
				left++
			}
		}
	}
	if left == 0 {
		fill(0) // nothing for the coordinator, as in Kafka
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, txnOpTimeout)
		defer cancel()
		p, err := co.offsetsPartition(req.Group)
		if err != nil {
			fill(errCoordinatorNotAvailable)
			return respond(resp)
		}
		t := tc.lockTxn(req.TransactionalID)
		defer unlockTxn(t)
		if code := checkProducerLocked(t, req.ProducerID, req.ProducerEpoch, req.Version, 3); code != 0 {
			fill(code)
			return respond(resp)
		}
		if t.state != txnOngoing || !t.parts[topicPartition{offsetsTopic, p.index}] {
			fill(errInvalidTxnState) // AddOffsetsToTxn first
			return respond(resp)
		}
		co.mu.Lock()
		g := co.getGroup(req.Group, true)
		code := int16(0)
		if g.state == groupDead {
			code = errCoordinatorNotAvailable
		} else if req.Version >= 3 && (req.Generation >= 0 || req.MemberID != "") {
			_, code = g.checkMember(req.MemberID, req.InstanceID, req.Generation)
		}
		if code != 0 {
			co.mu.Unlock()
			fill(code)
			return respond(resp)
		}
		fill(0)
		now := time.Now().UnixMilli()
		var recs []commitlog.Record
		var tps []topicPartition
		var offs []committedOffset
		for i, rt := range req.Topics {
			for j, rp := range rt.Partitions {
				if pre[i][j] != 0 {
					continue
				}
				if b.partitionOf(b.lookup(rt.Topic), rp.Partition) == nil {
					resp.Topics[i].Partitions[j].ErrorCode = errUnknownTopicOrPartition
					continue
				}
				md := ""
				if rp.Metadata != nil {
					md = *rp.Metadata
				}
				if len(md) > 4096 {
					resp.Topics[i].Partitions[j].ErrorCode = errOffsetMetadataTooLarge
					continue
				}
				o := committedOffset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: md, commitMs: now}
				if req.Version < 2 {
					o.leaderEpoch = -1
				}
				recs = append(recs, commitlog.Record{Key: offsetKey(req.Group, rt.Topic, rp.Partition), Value: offsetValue(o), TimestampMs: now})
				tps = append(tps, topicPartition{rt.Topic, rp.Partition})
				offs = append(offs, o)
			}
		}
		if len(recs) == 0 {
			co.mu.Unlock()
			return respond(resp)
		}
		res, err := p.log.AppendUnsequenced(commitlog.EncodeProducerBatch(now, t.pid, t.epoch, true, recs))
		if err == nil {
			for i, tp := range tps {
				offs[i].recordOffset = res.BaseOffset + int64(i)
				co.addTxnOffsetLocked(t.pid, req.Group, tp, offs[i])
			}
		}
		co.mu.Unlock()
		if err == nil {
			err = p.log.WaitDurable(ctx, res.LastOffset+1)
		}
		if err != nil {
			b.log.Error("writing transactional offsets failed", "group", req.Group, "err", err)
			fill(logErrorCode(err))
		}
		return respond(resp)
	}}
}

func handleDescribeTransactions(c *conn, kreq kmsg.Request) reply {
	tc := c.b.txns
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		if !c.allowed(opDescribe, resTxnID, id) {
			st.ErrorCode = errTransactionalIDAuth
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		t := tc.lockTxn(id)
		if t == nil || t.pid < 0 {
			st.ErrorCode = errTransactionalIDNotFound
		} else {
			st.State, st.TimeoutMillis, st.ProducerID, st.ProducerEpoch = txnStateName(t.state), t.timeoutMs, t.pid, t.epoch
			if t.state == txnOngoing || t.state == txnPrepareCommit || t.state == txnPrepareAbort {
				st.StartTimestamp = t.startMs
			}
			byTopic := map[string][]int32{}
			for _, tp := range sortedPartitions(t.parts) {
				if !c.allowed(opDescribe, resTopic, tp.topic) {
					continue // as Kafka: only the topics the principal may describe
				}
				byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
			}
			for _, name := range sortedKeys(byTopic) {
				dt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				dt.Topic, dt.Partitions = name, byTopic[name]
				st.Topics = append(st.Topics, dt)
			}
		}
		unlockTxn(t)
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return respond(resp)
}

func handleListTransactions(c *conn, kreq kmsg.Request) reply {
	tc := c.b.txns
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []string
	for _, s := range req.StateFilters {
		if slices.Contains(txnStateNames, s) {
			states = append(states, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	var pattern *regexp.Regexp
	if req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if pattern, err = regexp.Compile(*req.TransactionalIDPattern); err != nil {
			resp.ErrorCode = errInvalidRequest
			return respond(resp)
		}
	}
	now := time.Now().UnixMilli()
	for _, t := range tc.all() {
		t.mu.Lock()
		name, pid, start, state := txnStateName(t.state), t.pid, t.startMs, t.state
		t.mu.Unlock()
		switch {
		case pid < 0,
			len(req.StateFilters) > 0 && !slices.Contains(states, name),
			len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, pid),
			pattern != nil && !pattern.MatchString(t.id),
			!c.allowed(opDescribe, resTxnID, t.id),
			req.DurationFilterMillis >= 0 && req.Version >= 1 && (state != txnOngoing || start < 0 || now-start < req.DurationFilterMillis):
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = t.id, pid, name
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	return respond(resp)
}
