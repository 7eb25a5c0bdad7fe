package broker

// OffsetCommit, key 8, v0-v9.
//
// Behaviour: commits are validated against the group (UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS while CompletingRebalance; commits
// with generation -1 and no member id are "simple" commits, allowed while the
// group has no members), written to __consumer_offsets (offsets.go) and
// acknowledged once fsynced.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

func init() {
	regKey(8, 0, 9, handleOffsetCommit)
}

func handleOffsetCommit(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.OffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	fill := func(code int16) {
		resp.Topics = resp.Topics[:0]
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	if req.Group == "" {
		fill(errInvalidGroupID)
		return respond(resp)
	}
	if !c.allowed(opRead, resGroup, req.Group) {
		fill(errGroupAuthorization)
		return respond(resp)
	}
	co.mu.Lock()
	g := co.getGroup(req.Group, true)
	code := int16(0)
	simple := req.Version == 0 || (req.Generation < 0 && req.MemberID == "")
	switch {
	case g.state == groupDead:
		code = errCoordinatorNotAvailable
	case simple:
		if len(g.members) > 0 {
			code = errUnknownMemberID
		}
	case g.cg != nil && len(g.cg.members) > 0: // KIP-848: the generation is the member epoch
		code = g.cg.checkCommit(req.MemberID, req.Generation)
	default:
		var m *member
		m, code = g.checkMember(req.MemberID, req.InstanceID, req.Generation)
		if code == 0 && g.state == groupCompletingRebalance {
			code = errRebalanceInProgress
		}
		if m != nil && code == 0 {
			co.resetSessionLocked(g, m)
		}
	}
	if code != 0 {
		co.mu.Unlock()
		fill(code)
		return respond(resp)
	}
	now := time.Now().UnixMilli()
	var recs []commitlog.Record
	type pending struct {
		tp topicPartition
		o  committedOffset
	}
	var updates []pending
	fill(0)
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			if !c.allowed(opRead, resTopic, rt.Topic) {
				resp.Topics[i].Partitions[j].ErrorCode = errTopicAuthorization
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
			if req.Version < 6 {
				o.leaderEpoch = -1
			}
			recs = append(recs, commitlog.Record{Key: offsetKey(req.Group, rt.Topic, rp.Partition), Value: offsetValue(o)})
			updates = append(updates, pending{topicPartition{rt.Topic, rp.Partition}, o})
		}
	}
	if len(recs) == 0 {
		co.mu.Unlock()
		return respond(resp)
	}
	p, end, err := co.appendRecords(req.Group, recs)
	if err == nil {
		base := end - int64(len(recs))
		for i, u := range updates {
			u.o.recordOffset = base + int64(i)
			g.offsets[u.tp] = u.o
		}
	}
	co.mu.Unlock()
	if err != nil {
		b.log.Error("writing committed offsets failed", "group", req.Group, "err", err)
		fill(errKafkaStorage)
		return respond(resp)
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		defer cancel()
		if err := p.log.WaitDurable(ctx, end); err != nil {
			code := errRequestTimedOut
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				code = errKafkaStorage
			}
			fill(code)
		}
		return respond(resp)
	}}
}
