// Package txn is the transaction machinery the exactly-once processors
// (the candle processor in stream, the book builder in book) share: the
// mode and its decision from ApiVersions, the client options of a
// transactional consumer-producer, committing a group's offsets inside the
// open transaction (AddOffsetsToTxn, then TxnOffsetCommit with the member
// and generation, KIP-447), reading committed offsets with RequireStable,
// and classifying the errors that end a transaction.
package txn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Mode says whether a processor uses transactions.
type Mode int

const (
	// Auto uses transactions when every broker supports them.
	Auto Mode = iota
	// On requires transactions; a processor fails to start without them.
	On
	// Off never uses transactions.
	Off
)

// ParseMode parses "auto", "on" or "off".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "on", "true":
		return On, nil
	case "off", "false":
		return Off, nil
	}
	return Auto, fmt.Errorf("exactly-once mode %q: use auto, on or off", s)
}

func (m Mode) String() string {
	switch m {
	case On:
		return "on"
	case Off:
		return "off"
	}
	return "auto"
}

// endTxnKey is EndTxn's API key: its presence in ApiVersions means the
// broker coordinates transactions.
const endTxnKey = 26

// Supported reports whether every broker lists EndTxn in ApiVersions; err
// is why it could not tell.
func Supported(ctx context.Context, adm *kadm.Client) (bool, error) {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return false, err
	}
	ok := true
	vs.Each(func(v kadm.BrokerApiVersions) {
		if _, has := v.KeyMaxVersion(endTxnKey); v.Err != nil || !has {
			ok = false
		}
	})
	return ok, nil
}

// Settings are a processor's transactional producer settings.
type Settings struct {
	ID      string        // transactional id; default: the group, a dash and a random suffix
	Timeout time.Duration // transaction timeout; default 10s
}

// Decide resolves mode against the brokers. It returns whether to use
// transactions, with the settings' defaults filled; what names the
// component in messages (for example "stream", "book"); without names what
// the plain mode gives up, logged at info when auto falls back.
func Decide(ctx context.Context, adm *kadm.Client, mode Mode, group string, s *Settings, what, without string, info func(msg string, args ...any)) (bool, error) {
	if mode == Off {
		return false, nil
	}
	supported, err := Supported(ctx, adm)
	switch {
	case supported:
	case mode == On:
		suffix := ""
		if err != nil {
			suffix = ": " + err.Error()
		}
		return false, fmt.Errorf("%s: exactly-once mode is on but the brokers do not support transactions (no EndTxn in ApiVersions%s); turn it off or to auto", what, suffix)
	default:
		info("the brokers do not support transactions: "+without, "err", err)
		return false, nil
	}
	if s.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		s.ID = group + "-" + hex.EncodeToString(b[:])
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	return true, nil
}

// Opts are the client options of a transactional consumer-producer that
// reads committed.
func Opts(s Settings) []kgo.Opt {
	return []kgo.Opt{
		kgo.TransactionalID(s.ID),
		kgo.TransactionTimeout(s.Timeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
	}
}

// Offset is one partition's offset to commit, with its metadata.
type Offset struct {
	Partition int32
	At        int64
	Metadata  string
}

// Topic is one topic's offsets to commit; ID is its topic id (TxnOffsetCommit
// v6+ names topics by id).
type Topic struct {
	Name    string
	ID      [16]byte
	Offsets []Offset
}

// CommitOffsets adds group's offsets to cl's open transaction:
// AddOffsetsToTxn, then TxnOffsetCommit with the member id and generation
// cl has in the group, so a member that lost its partitions is refused.
func CommitOffsets(ctx context.Context, cl *kgo.Client, id, group string, topics []Topic) error {
	n := 0
	for _, t := range topics {
		n += len(t.Offsets)
	}
	if n == 0 {
		return nil
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("producer id: %w", err)
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = id, pid, epoch, group
	aresp, err := ao.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(aresp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("AddOffsetsToTxn: %w", err)
	}
	member, gen := cl.GroupMetadata()
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = id, group, pid, epoch
	req.Generation, req.MemberID = gen, member
	for _, t := range topics {
		if len(t.Offsets) == 0 {
			continue
		}
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = t.Name, t.ID
		for _, o := range t.Offsets {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			md := o.Metadata
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = o.Partition, o.At, -1, &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("TxnOffsetCommit: %w", err)
	}
	for _, t := range resp.Topics {
		for _, pr := range t.Partitions {
			if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
				return fmt.Errorf("TxnOffsetCommit of %s partition %d: %w", t.Topic, pr.Partition, err)
			}
		}
	}
	return nil
}

// Abort ends cl's open transaction with an abort, dropping buffered
// records. It returns an error when the abort failed or when cause says
// the producer was fenced (another instance took its transactional id):
// then the processor cannot go on. Otherwise the caller rewinds to the
// committed state.
//
// The abort runs even when ctx is done (a shutdown cancelled the batch):
// a transaction left open would make the final flush's BeginTransaction
// fail and hold read_committed consumers until its timeout.
func Abort(ctx context.Context, cl *kgo.Client, id string, cause error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	cl.AbortBufferedRecords(actx)
	if err := cl.EndTransaction(actx, kgo.TryAbort); err != nil {
		return fmt.Errorf("aborting a transaction after %v: %w", cause, err)
	}
	if errors.Is(cause, kerr.TransactionalIDAuthorizationFailed) {
		return NotAuthorized(id, cause)
	}
	if Fenced(cause) {
		return fmt.Errorf("fenced: another instance uses transactional id %q: %w", id, cause)
	}
	return nil
}

// AfterAbort logs an aborted transaction at the level its cause deserves and
// runs rewind, which rebuilds a processor's state from what is committed
// (next says how, for the log). When ctx is done, a shutdown's final flush
// follows and must start from the committed state, so rewind gets a context
// of its own.
func AfterAbort(ctx context.Context, log *slog.Logger, cause error, next string, rewind func(context.Context) error) error {
	switch {
	case ctx.Err() != nil:
		log.Debug("transaction aborted at shutdown", "err", cause)
	case Rebalance(cause):
		log.Debug("transaction aborted during a rebalance; "+next, "err", cause)
	default:
		log.Warn("transaction aborted; "+next, "err", cause)
	}
	if ctx.Err() != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return rewind(rctx)
	}
	return rewind(ctx)
}

// BeginError is the error for a failed BeginTransaction (franz-go
// initializes the producer id there, so an ACL refusal shows first here).
func BeginError(id string, err error) error {
	if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
		return NotAuthorized(id, err)
	}
	return fmt.Errorf("begin transaction: %w", err)
}

// NotAuthorized is the error for a principal without WRITE on the
// transactional id (the broker's TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
// saying which ACL to create: on the id's prefix up to its last '-' (the
// group's name for a generated id), which covers every instance.
func NotAuthorized(id string, err error) error {
	prefix := id
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		prefix = id[:i+1]
	}
	return fmt.Errorf("not authorized to use transactional id %q: allow WRITE on it, e.g. for every instance: tickertape acl create --principal User:<you> --operation write --transactional-id %s --pattern prefixed (%w)", id, prefix, err)
}

// Fenced reports whether err means another producer holds the
// transactional id (or this one may not use it).
func Fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// Rebalance reports whether err is a group's refusal during a rebalance.
func Rebalance(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// FetchStable reads group's committed offsets with RequireStable, waiting
// (up to wait) while a transaction holds undecided offsets.
func FetchStable(ctx context.Context, cl *kgo.Client, group string, wait time.Duration) (kadm.OffsetResponses, error) {
	deadline := time.Now().Add(wait)
	for {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = group, true
		resp, err := req.RequestWith(ctx, cl)
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
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// sleep waits d or until ctx is done, then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls read until it succeeds or ctx is done (then it returns ctx's
// error), waiting from 100 ms up to 2 s between attempts; what names the
// state read in the warning logged at the first failure and every 30 s
// after. A new owner of partitions uses it for the committed state it
// rebuilds from: going on without it would publish again what the previous
// owner published (or regress it).
func Retry(ctx context.Context, log *slog.Logger, what string, read func(context.Context) error) error {
	wait, warned := 100*time.Millisecond, time.Time{}
	for attempt := 1; ; attempt++ {
		err := read(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info("read "+what+" after retrying", "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(warned) >= 30*time.Second {
			log.Warn("cannot read "+what+"; retrying until it can (the partitions wait)", "attempt", attempt, "err", err)
			warned = time.Now()
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, 2*time.Second)
	}
}
