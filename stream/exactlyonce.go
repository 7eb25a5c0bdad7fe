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
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/internal/txn"
)

// EOSMode says whether the processor uses transactions (shared with the
// book builder: see internal/txn).
type EOSMode = txn.Mode

const (
	// EOSAuto uses transactions when every broker supports them.
	EOSAuto = txn.Auto
	// EOSOn requires transactions; Run fails when the brokers lack them.
	EOSOn = txn.On
	// EOSOff never uses transactions (at-least-once output, identical repeats).
	EOSOff = txn.Off
)

// ParseEOSMode parses "auto", "on" or "off".
func ParseEOSMode(s string) (EOSMode, error) { return txn.ParseMode(s) }

// ExactlyOnce reports whether the running processor uses transactions.
func (p *Processor) ExactlyOnce() bool { return p.eosShown.Load() }

// useTransactions decides the mode from the config and the brokers.
func (p *Processor) useTransactions(ctx context.Context) (bool, error) {
	s := txn.Settings{ID: p.cfg.TransactionalID, Timeout: p.cfg.TransactionTimeout}
	ok, err := txn.Decide(ctx, p.adm, p.cfg.ExactlyOnce, p.cfg.Group, &s, "stream",
		"final candles are at-least-once (identical repeats after a crash)", p.log.Info)
	p.cfg.TransactionalID, p.cfg.TransactionTimeout = s.ID, s.Timeout
	return ok, err
}

func (p *Processor) eosOpts() []kgo.Opt {
	return txn.Opts(txn.Settings{ID: p.cfg.TransactionalID, Timeout: p.cfg.TransactionTimeout})
}

// transact writes recs and commits the dirty partitions in one transaction.
// p.mu is held.
func (p *Processor) transact(ctx context.Context, recs []*kgo.Record) error {
	if err := p.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("stream: %w", txn.BeginError(p.cfg.TransactionalID, err))
	}
	if err := produceNow(ctx, p.cl, recs); err != nil {
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
	t := txn.Topic{Name: p.cfg.Topics.Events, ID: p.topicID}
	p.commitState(func(part int32, off int64, md string) {
		t.Offsets = append(t.Offsets, txn.Offset{Partition: part, At: off, Metadata: md})
	})
	return txn.CommitOffsets(ctx, p.cl, p.cfg.TransactionalID, p.cfg.Group, []txn.Topic{t})
}

// abort ends the open transaction with an abort and rewinds the owned
// partitions to what is committed. It returns an error only when the
// processor cannot go on (it was fenced by another instance with its
// transactional id, or the abort itself failed).
func (p *Processor) abort(ctx context.Context, cause error) error {
	if err := txn.Abort(ctx, p.cl, p.cfg.TransactionalID, cause); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return txn.AfterAbort(ctx, p.log, cause, "rewinding to the committed state", p.rewindLocked)
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
	return txn.FetchStable(ctx, p.cl, p.cfg.Group, p.cfg.TransactionTimeout+10*time.Second)
}
