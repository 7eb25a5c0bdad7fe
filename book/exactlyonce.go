package book

// Exactly-once mode. Each batch's books and BBOs are one transaction of a
// transactional producer that is also the group's consumer: produce, then
// commit every read partition's replay point (AddOffsetsToTxn,
// TxnOffsetCommit with the member and generation) with, in its metadata,
// the offset the batch read to and the source offset of each book's (or
// consolidated symbol's) last published record, then EndTxn. A partition
// still replaying when a batch commits (a poll returned part of its replay)
// commits the previous owner's claim unchanged: this owner has published
// nothing of it yet. A new owner
// replays from the replay point as before, but knows which outputs are
// already committed: at the end of its replay it publishes only the books
// that changed since, so that a read_committed consumer never sees a book
// twice for the same source offset.
//
// A batch that fails is aborted and the builder rewinds every owned
// partition to the committed state and rebuilds it, as a new owner does.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/internal/txn"
)

// ExactlyOnce reports whether the running builder uses transactions.
func (p *Processor) ExactlyOnce() bool { return p.eosShown.Load() }

// commitMetadata is stored with each offset committed in exactly-once mode.
type commitMetadata struct {
	V   int              `json:"v"`
	End int64            `json:"end"`           // outputs of records before it are committed
	Pub map[string]int64 `json:"pub,omitempty"` // per key: the source offset of its last published record
}

// parseCommitMetadata reads the metadata of an offset committed at from;
// anything else than this builder's version 1 with End at or past from
// (another tool's commit, a truncated or hand-made one) is not used: the
// partition is then rebuilt as in the plain mode.
func parseCommitMetadata(s string, from int64) (commitMetadata, bool) {
	var md commitMetadata
	if s == "" || json.Unmarshal([]byte(s), &md) != nil || md.V != 1 || md.End < from {
		return commitMetadata{}, false
	}
	for _, off := range md.Pub {
		if off < 0 || off >= md.End {
			return commitMetadata{}, false
		}
	}
	return md, true
}

// maxMetadata stays under Kafka's default offset.metadata.max.bytes (4096).
const maxMetadata = 4000

// transact writes recs and commits the read partitions in one transaction.
// It reports whether the transaction committed; an aborted one has been
// rewound. p.mu is held.
func (p *Processor) transact(ctx context.Context, recs []*kgo.Record) (bool, error) {
	if err := p.cl.BeginTransaction(); err != nil {
		return false, fmt.Errorf("book: %w", txn.BeginError(p.cfg.TransactionalID, err))
	}
	if len(recs) > 0 {
		if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return false, p.abort(ctx, fmt.Errorf("writing books: %w", err))
		}
	}
	if err := txn.CommitOffsets(ctx, p.cl, p.cfg.TransactionalID, p.cfg.Group, p.txnTopics()); err != nil {
		return false, p.abort(ctx, err)
	}
	if err := p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return false, p.abort(ctx, fmt.Errorf("committing the transaction: %w", err))
	}
	p.Counters.Commits.Add(1)
	return true, nil
}

// txnTopics are the offsets and metadata to commit: per read partition its
// replay point, and what is published of it (none for a partition whose
// replay has no claim of a previous owner to carry over).
func (p *Processor) txnTopics() []txn.Topic {
	var out []txn.Topic
	for _, topic := range []string{p.cfg.Topics.Events, p.cfg.Topics.BBO} {
		t := txn.Topic{Name: topic, ID: p.topicIDs[topic]}
		for part, next := range p.next[topic] {
			var at int64
			md := commitMetadata{V: 1}
			var ok bool
			if topic == p.cfg.Topics.Events {
				at = p.b.CommitOffset(part, next)
				md.End, md.Pub, ok = p.b.Published(part, next)
			} else {
				at = p.c.CommitOffset(part, next)
				md.End, md.Pub, ok = p.c.Published(part, next)
			}
			var b []byte
			if ok {
				b, _ = json.Marshal(md)
			}
			if len(b) > maxMetadata {
				p.log.Warn("too many books in one partition to store what was published with the offset; a new owner republishes them", "topic", topic, "partition", part, "bytes", len(b))
				b, _ = json.Marshal(commitMetadata{V: 1, End: md.End})
			}
			t.Offsets = append(t.Offsets, txn.Offset{Partition: part, At: at, Metadata: string(b)})
		}
		out = append(out, t)
	}
	return out
}

// abort ends the open transaction with an abort and rewinds. It returns an
// error only when the builder cannot go on (fenced, or the abort failed).
func (p *Processor) abort(ctx context.Context, cause error) error {
	if p.killed.Load() {
		return nil
	}
	if err := txn.Abort(ctx, p.cl, p.cfg.TransactionalID, cause); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	p.Counters.Aborts.Add(1)
	return txn.AfterAbort(ctx, p.log, cause, "rebuilding from the committed state", p.rewindLocked)
}

// rewindLocked forgets every owned partition and rebuilds it from the
// committed state, as a new owner does. p.mu is held.
func (p *Processor) rewindLocked(ctx context.Context) error {
	var ts []string
	for topic, parts := range p.owned {
		if len(parts) > 0 {
			ts = append(ts, topic)
		}
	}
	if len(ts) == 0 {
		return nil
	}
	committed, starts, ends, err := p.replayState(ctx, ts)
	if err != nil {
		return fmt.Errorf("book: reading the committed state to rebuild: %w", err)
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for topic, parts := range p.owned {
		for part := range parts {
			if topic == p.cfg.Topics.Events {
				p.b.Drop(part)
			} else {
				p.c.Drop(part)
			}
			delete(p.next[topic], part)
			from := p.assignLocked(topic, part, committed, starts, ends)
			if set[topic] == nil {
				set[topic] = map[int32]kgo.EpochOffset{}
			}
			set[topic][part] = kgo.EpochOffset{Epoch: -1, Offset: from}
		}
	}
	p.read = false
	p.cl.SetOffsets(set)
	return nil
}

// replayState reads what a partition's (re)assignment needs: the committed
// offsets (stable ones in exactly-once mode), the start offsets, and the
// end offsets a consumer of this isolation level reads to.
func (p *Processor) replayState(ctx context.Context, ts []string) (committed kadm.OffsetResponses, starts, ends kadm.ListedOffsets, err error) {
	var cerr, serr, eerr error
	if p.eos {
		committed, cerr = txn.FetchStable(ctx, p.cl, p.cfg.Group, p.cfg.TransactionTimeout+10*time.Second)
		ends, eerr = p.adm.ListCommittedOffsets(ctx, ts...)
	} else {
		committed, cerr = p.adm.FetchOffsetsForTopics(ctx, p.cfg.Group, ts...)
		ends, eerr = p.adm.ListEndOffsets(ctx, ts...)
	}
	starts, serr = p.adm.ListStartOffsets(ctx, ts...)
	return committed, starts, ends, errors.Join(cerr, serr, eerr)
}

// assignLocked starts one partition from its committed offset (or its
// start), replaying up to its end offset, or in exactly-once mode up to
// where the committed outputs end; it returns the offset to read from.
// p.mu is held.
func (p *Processor) assignLocked(topic string, part int32, committed kadm.OffsetResponses, starts, ends kadm.ListedOffsets) int64 {
	from := int64(0)
	if s, ok := starts.Lookup(topic, part); ok && s.Err == nil {
		from = s.Offset
	}
	var md commitMetadata
	haveMD := false
	if o, ok := committed.Lookup(topic, part); ok && o.Err == nil && o.At >= 0 {
		from = o.At
		if p.eos {
			md, haveMD = parseCommitMetadata(o.Metadata, from)
		}
	}
	live := from
	if e, ok := ends.Lookup(topic, part); ok && e.Err == nil {
		live = e.Offset
	}
	events := topic == p.cfg.Topics.Events
	switch {
	case haveMD && events:
		p.b.AssignPublished(part, from, md.End, md.Pub)
	case haveMD:
		p.c.AssignPublished(part, from, md.End, md.Pub)
	case events:
		p.b.Assign(part, from, live)
	default:
		p.c.Assign(part, from, live)
	}
	p.owned[topic][part] = true
	return from
}
