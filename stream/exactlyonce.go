package stream

// Exactly-once mode. Each batch the processor emits is one transaction of a
// transactional producer that is also the group's consumer: BeginTransaction,
// produce the candles (and late and dead-letter records), AddOffsetsToTxn,
// TxnOffsetCommit with the same offsets and watermark metadata that the
// plain mode commits (so a restart restores the same state), EndTxn commit.
// TxnOffsetCommit carries the member id and generation, so a member that
// lost its partitions in a rebalance is refused (KIP-447) and aborts.
//
// A batch that fails (a produce error, a refused commit, a fenced producer)
// is aborted, and the processor rewinds every partition it owns to the
// committed offsets and watermarks, as GroupTransactSession does, so its
// in-memory windows never run ahead of what is committed. Committed offsets
// are read with RequireStable: a predecessor's undecided transaction is
// waited for (up to its transaction timeout) rather than read around.
//
// A batch with no outputs commits its offsets with a plain OffsetCommit, as
// there is nothing to make atomic with it.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EOSMode says whether the processor uses transactions.
type EOSMode int

const (
	// EOSAuto uses transactions when every broker supports them.
	EOSAuto EOSMode = iota
	// EOSOn requires transactions; Run fails when the brokers lack them.
	EOSOn
	// EOSOff never uses transactions (at-least-once output, identical repeats).
	EOSOff
)

// ParseEOSMode parses "auto", "on" or "off".
func ParseEOSMode(s string) (EOSMode, error) {
	switch s {
	case "auto", "":
		return EOSAuto, nil
	case "on", "true":
		return EOSOn, nil
	case "off", "false":
		return EOSOff, nil
	}
	return EOSAuto, fmt.Errorf("exactly-once mode %q: use auto, on or off", s)
}

func (m EOSMode) String() string {
	switch m {
	case EOSOn:
		return "on"
	case EOSOff:
		return "off"
	}
	return "auto"
}

// endTxnKey is EndTxn's API key: its presence in ApiVersions means the
// broker coordinates transactions.
const endTxnKey = 26

// ExactlyOnce reports whether the running processor uses transactions.
func (p *Processor) ExactlyOnce() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eos
}

// useTransactions decides the mode from the config and the brokers.
func (p *Processor) useTransactions(ctx context.Context) (bool, error) {
	if p.cfg.ExactlyOnce == EOSOff {
		return false, nil
	}
	supported := false
	vs, err := p.adm.ApiVersions(ctx)
	if err == nil {
		supported = true
		vs.Each(func(v kadm.BrokerApiVersions) {
			if _, ok := v.KeyMaxVersion(endTxnKey); v.Err != nil || !ok {
				supported = false
			}
		})
	}
	switch {
	case supported:
	case p.cfg.ExactlyOnce == EOSOn:
		return false, fmt.Errorf("stream: exactly-once mode is on but the brokers do not support transactions (no EndTxn in ApiVersions%s); turn it off or to auto", errSuffix(err))
	default:
		p.log.Info("the brokers do not support transactions: final candles are at-least-once (identical repeats after a crash)", "err", err)
		return false, nil
	}
	if p.cfg.TransactionalID == "" {
		var b [6]byte
		rand.Read(b[:])
		p.cfg.TransactionalID = p.cfg.Group + "-" + hex.EncodeToString(b[:])
	}
	if p.cfg.TransactionTimeout <= 0 {
		p.cfg.TransactionTimeout = 10 * time.Second
	}
	return true, nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

func (p *Processor) eosOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.TransactionalID(p.cfg.TransactionalID),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
	}
}

// transact writes recs and commits the dirty partitions in one transaction.
// p.mu is held.
func (p *Processor) transact(ctx context.Context, recs []*kgo.Record) error {
	if err := p.cl.BeginTransaction(); err != nil {
		if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
			return p.notAuthorized(err)
		}
		return fmt.Errorf("stream: begin transaction: %w", err)
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return p.abort(ctx, fmt.Errorf("writing candles: %w", err))
	}
	if err := p.txnCommitOffsets(ctx); err != nil {
		return p.abort(ctx, err)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return p.abort(ctx, fmt.Errorf("committing the transaction: %w", err))
	}
	p.Counters.Commits.Add(1)
	clear(p.dirty)
	return nil
}

// txnCommitOffsets adds the group's offsets to the open transaction.
func (p *Processor) txnCommitOffsets(ctx context.Context) error {
	if len(p.dirty) == 0 {
		return nil
	}
	pid, epoch, err := p.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("producer id: %w", err)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = p.cfg.TransactionalID, pid, epoch, p.cfg.Group
	aresp, err := ao.RequestWith(ctx, p.cl)
	if err == nil {
		err = kerr.ErrorForCode(aresp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("AddOffsetsToTxn: %w", err)
	}
	member, gen := p.cl.GroupMetadata()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = p.cfg.TransactionalID, p.cfg.Group, pid, epoch
	req.Generation, req.MemberID = gen, member
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = p.cfg.Topics.Events, p.topicID // v6+ names topics by id
	p.commitState(func(part int32, off int64, md string) {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = part, off, -1, &md
		rt.Partitions = append(rt.Partitions, rp)
	})
	if len(rt.Partitions) == 0 {
		return nil
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, p.cl)
	if err != nil {
		return fmt.Errorf("TxnOffsetCommit: %w", err)
	}
	for _, t := range resp.Topics {
		for _, pr := range t.Partitions {
			if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
				return fmt.Errorf("TxnOffsetCommit of partition %d: %w", pr.Partition, err)
			}
		}
	}
	return nil
}

// abort ends the open transaction with an abort and rewinds the owned
// partitions to what is committed. It returns an error only when the
// processor cannot go on (it was fenced by another instance with its
// transactional id, or the abort itself failed).
func (p *Processor) abort(ctx context.Context, cause error) error {
	p.cl.AbortBufferedRecords(ctx)
	if err := p.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("stream: aborting a transaction after %v: %w", cause, err)
	}
	if errors.Is(cause, kerr.TransactionalIDAuthorizationFailed) {
		return p.notAuthorized(cause)
	}
	if errors.Is(cause, kerr.ProducerFenced) || errors.Is(cause, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("stream: fenced: another processor uses transactional id %q: %w", p.cfg.TransactionalID, cause)
	}
	rebalance := errors.Is(cause, kerr.IllegalGeneration) || errors.Is(cause, kerr.UnknownMemberID) || errors.Is(cause, kerr.RebalanceInProgress) || errors.Is(cause, kerr.FencedInstanceID)
	if rebalance {
		p.log.Debug("transaction aborted during a rebalance; rewinding to the committed state", "err", cause)
	} else {
		p.log.Warn("transaction aborted; rewinding to the committed state", "err", cause)
	}
	return p.rewindLocked(ctx)
}

// rewindLocked forgets the windows of every owned partition and restarts
// them from the committed offsets and watermarks. p.mu is held.
func (p *Processor) rewindLocked(ctx context.Context) error {
	var parts []int32
	for part := range p.processed {
		parts = append(parts, part)
	}
	offs, err := p.fetchCommitted(ctx)
	if err != nil {
		return fmt.Errorf("stream: reading the committed state to rewind: %w", err)
	}
	set := map[int32]kgo.EpochOffset{}
	for _, part := range parts {
		p.agg.Drop(part)
		delete(p.processed, part)
		delete(p.dirty, part)
		at := int64(0) // nothing committed: from the start (reset policy applies)
		if o, ok := offs.Lookup(p.cfg.Topics.Events, part); ok && o.Err == nil && o.At >= 0 {
			at = o.At
		}
		set[part] = kgo.EpochOffset{Epoch: -1, Offset: at}
	}
	p.restoreLocked(offs, parts)
	if len(set) > 0 {
		p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topics.Events: set})
	}
	return nil
}

// fetchCommitted reads the group's committed offsets; in exactly-once mode
// with RequireStable, waiting while a transaction holds undecided offsets.
func (p *Processor) fetchCommitted(ctx context.Context) (kadm.OffsetResponses, error) {
	if !p.eos {
		return p.adm.FetchOffsets(ctx, p.cfg.Group)
	}
	deadline := time.Now().Add(p.cfg.TransactionTimeout + 10*time.Second)
	for {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = p.cfg.Group, true
		resp, err := req.RequestWith(ctx, p.cl)
		if err != nil {
			return nil, err
		}
		unstable := false
		out := kadm.OffsetResponses{}
		add := func(topic string, part int32, at int64, md *string, code int16) {
			if code == kerr.UnstableOffsetCommit.Code {
				unstable = true
			}
			if out[topic] == nil {
				out[topic] = map[int32]kadm.OffsetResponse{}
			}
			o := kadm.OffsetResponse{Offset: kadm.Offset{Topic: topic, Partition: part, At: at, LeaderEpoch: -1}, Err: kerr.ErrorForCode(code)}
			if md != nil {
				o.Metadata = *md
			}
			out[topic][part] = o
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil && !errors.Is(err, kerr.UnstableOffsetCommit) {
			return nil, err
		}
		unstable = resp.ErrorCode == kerr.UnstableOffsetCommit.Code
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				add(t.Topic, pr.Partition, pr.Offset, pr.Metadata, pr.ErrorCode)
			}
		}
		for _, g := range resp.Groups {
			if g.ErrorCode == kerr.UnstableOffsetCommit.Code {
				unstable = true
			}
			for _, t := range g.Topics {
				for _, pr := range t.Partitions {
					add(t.Topic, pr.Partition, pr.Offset, pr.Metadata, pr.ErrorCode)
				}
			}
		}
		if !unstable {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("committed offsets stayed unstable (a transaction holds them) past the transaction timeout")
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// notAuthorized is the error for a principal without WRITE on the
// transactional id, saying which ACL to create.
func (p *Processor) notAuthorized(err error) error {
	return fmt.Errorf("stream: not authorized to use transactional id %q: allow WRITE on it, e.g. for every processor of the group: tickertape acl create --principal User:<you> --operation write --transactional-id %s- --pattern prefixed (%w)", p.cfg.TransactionalID, p.cfg.Group, err)
}
