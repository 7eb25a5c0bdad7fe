package broker

// The transaction coordinator. Its API handlers are in txn_apis.go; the
// transactional offsets it commits into __consumer_offsets are txnoffsets.go.
//
// Behaviour: this broker coordinates every transactional id. A transactional
// id's state (producer id and epoch, timeout, state, partitions, timestamps)
// is written to __transaction_state as Kafka's TransactionLogKey v0 /
// TransactionLogValue v0 records before any request that changed it is
// answered (fsynced under --fsync=always). A transactional id lives in
// partition abs(javaHashCode(id)) % partitions, as in Kafka; the topic is
// compacted and has OffsetsTopicPartitions partitions.
//
// EndTxn is synchronous: PrepareCommit/PrepareAbort is made durable, the
// commit or abort marker is written to every partition of the transaction
// (and the offsets TxnOffsetCommit wrote are applied or discarded), then
// CompleteCommit/CompleteAbort is written, and only then is EndTxn answered.
// So a read_committed consumer sees a committed transaction as soon as its
// producer does. InitProducerId with a transactional id bumps the epoch,
// fencing the previous producer (PRODUCER_FENCED at the coordinator,
// INVALID_PRODUCER_EPOCH at the partitions, whose markers carry the new
// epoch), and aborts a transaction it left open. Transactions older than
// their transaction.timeout.ms are aborted the same way by a background loop.
// On start the topic is replayed: a transaction that was Ongoing is aborted,
// one in PrepareCommit/PrepareAbort is completed, so no partition is left
// with an open transaction.
//
// Concurrency: one mutex per transactional id serializes its requests and is
// held across a transactional produce's appends, so that no batch of the
// producer can land after its own marker. Lock order: txn.mu, then the group
// coordinator's mu, then Broker.mu, then the commitlog locks.
// Left out: KIP-890 (transactions v2: implicit AddPartitions in Produce,
// epoch bump per transaction), WriteTxnMarkers (single broker: markers are
// written directly), transactional.id.expiration.ms.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

const txnStateTopic = "__transaction_state"

// maxTxnTimeout is transaction.max.timeout.ms (Kafka's default: 15 minutes).
const maxTxnTimeout = 15 * time.Minute

// txnAbortCheckInterval is how often expired transactions are looked for
// (transaction.abort.timed.out.transaction.cleanup.interval.ms is 10 s in Kafka).
// Tests shorten it.
var txnAbortCheckInterval atomic.Int64

func init() { txnAbortCheckInterval.Store(int64(time.Second)) }

// Transaction states as TransactionLogValue stores them.
const (
	txnEmpty             = 0
	txnOngoing           = 1
	txnPrepareCommit     = 2
	txnPrepareAbort      = 3
	txnCompleteCommit    = 4
	txnCompleteAbort     = 5
	txnDead              = 6
	txnPrepareEpochFence = 7
)

var txnStateNames = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

func txnStateName(s int8) string {
	if int(s) < len(txnStateNames) && s >= 0 {
		return txnStateNames[s]
	}
	return fmt.Sprintf("Unknown(%d)", s)
}

type txnMeta struct {
	id string
	mu sync.Mutex // serializes this id's requests; guards the fields below

	pid       int64
	epoch     int16
	timeoutMs int32
	state     int8
	parts     map[topicPartition]bool
	startMs   int64 // when the transaction became Ongoing; -1 otherwise
	updateMs  int64
	gone      bool // removed from the coordinator (topic replay deleted it)
}

type txnCoordinator struct {
	b    *Broker
	mu   sync.Mutex // guards txns (the map only)
	txns map[string]*txnMeta
}

func newTxnCoordinator(b *Broker) *txnCoordinator {
	return &txnCoordinator{b: b, txns: map[string]*txnMeta{}}
}

func (tc *txnCoordinator) get(id string) *txnMeta {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.txns[id]
}

func (tc *txnCoordinator) all() []*txnMeta {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	out := make([]*txnMeta, 0, len(tc.txns))
	for _, t := range tc.txns {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// statePartition returns the __transaction_state partition of an id,
// creating the topic on first use.
func (tc *txnCoordinator) statePartition(id string) (*partition, error) {
	b := tc.b
	t := b.lookup(txnStateTopic)
	if t == nil {
		var code int16
		var msg string
		t, code, msg = b.createTopic(txnStateTopic, b.cfg.OffsetsTopicPartitions,
			map[string]string{"cleanup.policy": "compact", "segment.bytes": "104857600"}, false)
		if code == errTopicAlreadyExists {
			t = b.lookup(txnStateTopic)
		} else if t == nil {
			return nil, fmt.Errorf("create %s: %s", txnStateTopic, msg)
		}
	}
	h := javaHashCode(id)
	if h == -2147483648 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return t.parts[int(h)%len(t.parts)], nil
}

func txnKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version, k.TransactionalID = 0, id
	return k.AppendTo(nil)
}

func (t *txnMeta) value() []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis = t.pid, t.epoch, t.timeoutMs
	v.State = kmsg.TransactionState(t.state)
	v.LastUpdateTimestamp, v.StartTimestamp = t.updateMs, t.startMs
	byTopic := map[string][]int32{}
	for tp := range t.parts {
		byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
	}
	for _, name := range sortedKeys(byTopic) {
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = name, byTopic[name]
		sort.Slice(vt.Partitions, func(i, j int) bool { return vt.Partitions[i] < vt.Partitions[j] })
		v.Topics = append(v.Topics, vt)
	}
	return v.AppendTo(nil)
}

// persistLocked writes t's state to __transaction_state and waits until it is
// durable. t.mu must be held.
func (tc *txnCoordinator) persistLocked(ctx context.Context, t *txnMeta) error {
	t.updateMs = time.Now().UnixMilli()
	p, err := tc.statePartition(t.id)
	if err != nil {
		return err
	}
	res, err := p.log.Append(commitlog.EncodeBatch(t.updateMs, []commitlog.Record{{Key: txnKey(t.id), Value: t.value()}}))
	if err != nil {
		return fmt.Errorf("write %s: %w", txnStateTopic, err)
	}
	return p.log.WaitDurable(ctx, res.LastOffset+1)
}

// completeLocked finishes a transaction: PrepareCommit/PrepareAbort durable,
// markers to every partition, then CompleteCommit/CompleteAbort. t.state must
// be Ongoing or a Prepare state. t.mu must be held.
func (tc *txnCoordinator) completeLocked(ctx context.Context, t *txnMeta, commit bool) error {
	prepare, complete := int8(txnPrepareAbort), int8(txnCompleteAbort)
	if commit {
		prepare, complete = txnPrepareCommit, txnCompleteCommit
	}
	if t.state != prepare {
		t.state = prepare
		if err := tc.persistLocked(ctx, t); err != nil {
			return err
		}
	}
	if err := tc.writeMarkersLocked(ctx, t, commit); err != nil {
		return err
	}
	t.state, t.parts, t.startMs = complete, map[topicPartition]bool{}, -1
	return tc.persistLocked(ctx, t)
}

// writeMarkersLocked writes t's marker to each of its partitions and waits
// for them to be durable. Partitions of deleted topics are skipped.
func (tc *txnCoordinator) writeMarkersLocked(ctx context.Context, t *txnMeta, commit bool) error {
	b := tc.b
	type wait struct {
		p   *partition
		end int64
	}
	var waits []wait
	for _, tp := range sortedPartitions(t.parts) {
		p := b.partitionOf(b.lookup(tp.topic), tp.partition)
		if p == nil {
			continue
		}
		res, err := p.log.AppendMarker(t.pid, t.epoch, commit, 0)
		if err != nil {
			return fmt.Errorf("write the transaction marker to %s: %w", p, err)
		}
		if tp.topic == offsetsTopic {
			b.groups.completeTxnOffsets(t.pid, commit, tp.partition)
		}
		waits = append(waits, wait{p, res.LastOffset + 1})
	}
	for _, w := range waits {
		if err := w.p.log.WaitDurable(ctx, w.end); err != nil {
			return fmt.Errorf("fsync the transaction marker of %s: %w", w.p, err)
		}
	}
	return nil
}

func sortedPartitions(m map[topicPartition]bool) []topicPartition {
	out := make([]topicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].topic != out[j].topic {
			return out[i].topic < out[j].topic
		}
		return out[i].partition < out[j].partition
	})
	return out
}

// fenceLocked aborts t's open transaction under a bumped epoch, so that the
// producer that opened it is fenced everywhere (at an exhausted epoch the
// abort keeps it; the next InitProducerId moves to a new producer id).
// t.mu must be held.
func (tc *txnCoordinator) fenceLocked(ctx context.Context, t *txnMeta) error {
	if t.state == txnOngoing && t.epoch < maxProducerEpoch {
		t.epoch++
	}
	return tc.completeLocked(ctx, t, false)
}

// maxProducerEpoch is the last epoch handed out before a new producer id.
const maxProducerEpoch = 32767 - 1

// load replays __transaction_state and then finishes every transaction that
// was in flight at the last stop or crash.
func (tc *txnCoordinator) load() error {
	t := tc.b.lookup(txnStateTopic)
	if t == nil {
		return nil
	}
	for _, p := range t.parts {
		for off := p.log.StartOffset(); off < p.log.HighWatermark(); {
			data, err := p.log.Read(off, 4<<20)
			if err != nil {
				return fmt.Errorf("replay %s: %w", p, err)
			}
			if len(data) == 0 {
				break
			}
			start := off
			for {
				batch, rest, next, ok := commitlog.NextBatch(data)
				if !ok {
					break
				}
				recs, err := commitlog.Records(batch)
				if err != nil {
					tc.b.log.Warn("skipping unreadable records in "+txnStateTopic, "partition", p.String(), "offset", off, "err", err)
				}
				for _, r := range recs {
					tc.applyRecord(r.Key, r.Value)
				}
				off, data = next, rest
			}
			if off == start {
				break
			}
		}
	}
	ctx, cancel := context.WithTimeout(tc.b.ctx, 30*time.Second)
	defer cancel()
	for _, t := range tc.all() {
		t.mu.Lock()
		var err error
		switch t.state {
		case txnOngoing, txnPrepareEpochFence:
			tc.b.log.Info("aborting a transaction left open by the last run", "transactional_id", t.id, "producer_id", t.pid)
			err = tc.fenceLocked(ctx, t)
		case txnPrepareCommit:
			err = tc.completeLocked(ctx, t, true)
		case txnPrepareAbort:
			err = tc.completeLocked(ctx, t, false)
		}
		t.mu.Unlock()
		if err != nil {
			return fmt.Errorf("finish transaction %q: %w", t.id, err)
		}
	}
	return nil
}

// applyRecord applies one __transaction_state record; malformed ones are
// skipped (a start never fails on a record's content).
func (tc *txnCoordinator) applyRecord(key, value []byte) {
	var k kmsg.TxnMetadataKey
	if k.ReadFrom(key) != nil || k.Version != 0 {
		return
	}
	if value == nil {
		delete(tc.txns, k.TransactionalID)
		return
	}
	var v kmsg.TxnMetadataValue
	if v.ReadFrom(value) != nil || v.ProducerID < 0 {
		return
	}
	t := &txnMeta{id: k.TransactionalID, pid: v.ProducerID, epoch: v.ProducerEpoch, timeoutMs: v.TimeoutMillis,
		state: int8(v.State), parts: map[topicPartition]bool{}, startMs: v.StartTimestamp, updateMs: v.LastUpdateTimestamp}
	for _, vt := range v.Topics {
		for _, p := range vt.Partitions {
			t.parts[topicPartition{vt.Topic, p}] = true
		}
	}
	tc.txns[t.id] = t
	// Producer ids handed out before the crash are never reused.
	tc.b.mu.Lock()
	if tc.b.pids.next <= v.ProducerID {
		tc.b.pids.next = v.ProducerID + 1
	}
	tc.b.mu.Unlock()
}

// abortLoop aborts transactions older than their timeout.
func (tc *txnCoordinator) abortLoop() {
	defer tc.b.bgWG.Done()
	tick := time.NewTicker(time.Duration(txnAbortCheckInterval.Load()))
	defer tick.Stop()
	for {
		select {
		case <-tc.b.ctx.Done():
			return
		case now := <-tick.C:
			tc.abortExpired(now)
		}
	}
}

func (tc *txnCoordinator) abortExpired(now time.Time) {
	for _, t := range tc.all() {
		t.mu.Lock()
		var err error
		ctx, cancel := context.WithTimeout(tc.b.ctx, 30*time.Second)
		switch {
		case t.state == txnOngoing && t.startMs >= 0 && now.UnixMilli()-t.startMs > int64(t.timeoutMs):
			tc.b.log.Info("aborting a transaction past its transaction.timeout.ms", "transactional_id", t.id, "producer_id", t.pid, "timeout_ms", t.timeoutMs)
			err = tc.fenceLocked(ctx, t)
		case t.state == txnPrepareCommit || t.state == txnPrepareAbort:
			// An EndTxn whose markers failed (a storage error): finish it.
			err = tc.completeLocked(ctx, t, t.state == txnPrepareCommit)
		}
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			tc.b.log.Warn("finishing a transaction failed; retrying", "transactional_id", t.id, "err", err)
		}
		t.mu.Unlock()
	}
}
