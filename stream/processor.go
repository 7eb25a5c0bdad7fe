// Package stream turns market events into candles: a consumer-group
// processor that reads market.events, computes OHLCV + VWAP per symbol over
// event-time tumbling windows (Aggregator), and writes update and final
// candles to market.candles, late trades to market.late, and records it
// cannot decode to market.deadletter.
//
// Exactly-once final candles without transactions: after every batch the
// processor waits until its outputs are acknowledged, then commits, per
// partition, the offset of the first trade of the oldest window still open
// (not the last offset read) together with, in the commit's metadata, each
// key's watermark and the offset it had read to. A restarted or rebalanced
// processor resumes there, rebuilds the open windows from their trades, and
// skips re-read trades of windows that were already closed. Without
// transactions the only repeat possible is a final candle emitted after the
// last commit and before a crash: it is emitted again, identical (same key,
// window and numbers), so consumers can treat (key, open_time) as its
// identity.
//
// Exactly-once mode (the default when the brokers support transactions,
// see exactlyonce.go) removes even that: each batch's outputs and its
// offset commit, watermarks included, are one Kafka transaction, and
// consumers of market.candles read committed.
package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/internal/kclose"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/internal/txn"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// Config configures a Processor.
type Config struct {
	Brokers     []string
	Serde       *serde.Serde
	Topics      topics.Names
	Partitions  int32 // of topics created on first use; default 6
	Group       string
	Intervals   []Interval    // default 1s, 1m, 5m, 1h
	Lateness    time.Duration // allowed lateness; default 5s
	UpdateEvery time.Duration // update records per open window at most this often; default 1s
	NoUpdates   bool          // only final candles: no update records of open windows
	// IdleAfter: a symbol silent this long has its windows closed by
	// processing time (its watermark advances without trades). Longer than a
	// broker failover or a reconnect; default 30s or 3 × Lateness.
	IdleAfter time.Duration
	KafkaOpts []kgo.Opt
	Logger    *slog.Logger
	Now       func() time.Time
	// ExactlyOnce: EOSAuto (the default) uses transactions when the brokers
	// support them (ApiVersions lists EndTxn); EOSOn requires them; EOSOff
	// commits after the acks as before.
	ExactlyOnce EOSMode
	// TransactionalID of the exactly-once producer; default: the group, a
	// dash and a random suffix. A stable id per instance lets a restarted
	// instance fence its predecessor at once instead of after
	// TransactionTimeout.
	TransactionalID string
	// TransactionTimeout aborts the transaction of a processor that died
	// mid-batch; default 10s.
	TransactionTimeout time.Duration
}

// Counters are the processor's counters, safe to read at any time.
type Counters struct {
	Records, Trades              atomic.Int64
	SkippedKnown, SkippedUnknown atomic.Int64 // other market types; types we do not know
	DeadLettered, Late           atomic.Int64
	FinalCandles, UpdateCandles  atomic.Int64
	Commits                      atomic.Int64
	mu                           sync.Mutex
	latest                       map[string]market.Candle // last candle per exchange:SYMBOL:interval
	watermarks                   map[string]int64         // per exchange:SYMBOL: the watermark in µs
}

// Watermarks returns each key's (exchange:SYMBOL) watermark in UTC µs.
func (s *Counters) Watermarks() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.watermarks))
	for k, v := range s.watermarks {
		out[k] = v
	}
	return out
}

// Latest returns the most recent candle of each key exchange:SYMBOL:interval.
func (s *Counters) Latest() map[string]market.Candle {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.latest)
}

// Processor is the candle processor.
type Processor struct {
	cfg      Config
	log      *slog.Logger
	Counters Counters

	cl       *kgo.Client
	adm      *kadm.Client
	candleID int
	topicID  [16]byte // of the events topic: OffsetCommit v10+ names topics by id

	mu        sync.Mutex // guards agg and processed (the poll loop and rebalance callbacks)
	agg       *Aggregator
	processed map[int32]int64 // next offset to read per partition
	dirty     map[int32]bool
	// inflight is the at-least-once offset commit still on its way (one at
	// most: the next waits for it, so commits land in order); p.mu.
	inflight *inflightCommit
	killed   atomic.Bool
	closer   atomic.Pointer[kclose.Closer] // set once the client exists; the rebalance callbacks lock through it
	eos      bool                          // transactions in use (decided in Run)
	// eosShown is eos for ExactlyOnce, which other goroutines call (a
	// pipeline's Snapshot): never p.mu, which a batch holds while it waits
	// for the brokers (a commit to a coordinator that died can take seconds).
	eosShown atomic.Bool
	// ourTrade: per writer schema id, whether it is market.TradeSchema
	// (decoded by market.DecodeTrade); the poll loop's alone.
	ourTrade map[int]bool
}

// Validate reports every problem of cfg at once; zero values are defaults.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("stream: Brokers is required"))
	}
	if cfg.Serde == nil {
		errs = append(errs, errors.New("stream: Serde is required"))
	}
	if cfg.Partitions < 0 {
		errs = append(errs, fmt.Errorf("stream: Partitions %d is negative", cfg.Partitions))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Lateness", cfg.Lateness}, {"UpdateEvery", cfg.UpdateEvery}, {"IdleAfter", cfg.IdleAfter}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("stream: %s %s is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// New validates cfg and fills defaults.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Topics = cfg.Topics.WithDefaults()
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Group == "" {
		cfg.Group = "tickertape-candles"
	}
	if len(cfg.Intervals) == 0 {
		cfg.Intervals, _ = ParseIntervals("1s,1m,5m,1h")
	}
	if cfg.Lateness == 0 {
		cfg.Lateness = 5 * time.Second
	}
	if cfg.UpdateEvery == 0 {
		cfg.UpdateEvery = time.Second
	}
	if cfg.IdleAfter == 0 {
		cfg.IdleAfter = max(30*time.Second, 3*cfg.Lateness)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "process"), processed: map[int32]int64{}, dirty: map[int32]bool{}, ourTrade: map[int]bool{}}
	p.Counters.latest = map[string]market.Candle{}
	p.Counters.watermarks = map[string]int64{}
	updates := cfg.UpdateEvery
	if cfg.NoUpdates {
		updates = 0
	}
	p.agg = NewAggregator(cfg.Intervals, cfg.Lateness, updates, cfg.IdleAfter)
	return p, nil
}

// Group is the processor's consumer group.
func (p *Processor) Group() string { return p.cfg.Group }

// metadata is stored with each committed offset.
type metadata struct {
	V   int              `json:"v"`
	End int64            `json:"end"` // the offset read up to
	WM  map[string]int64 `json:"wm"`  // watermark per key
}

// maxMetadata stays under Kafka's default offset.metadata.max.bytes (4096).
const maxMetadata = 4000

// Run consumes until ctx is done, then flushes, commits and leaves the group.
func (p *Processor) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topics.Events),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, p.cfg.KafkaOpts...)
	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...)}, p.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer adminCl.Close()
	p.adm = kadm.NewClient(adminCl)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := topics.Ensure(sctx, p.adm, p.cfg.Topics, p.cfg.Partitions); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if p.candleID, err = p.cfg.Serde.Register(sctx, market.SubjectFor(p.cfg.Topics.Candles, market.CandleName), market.CandleSchema); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if tds, err := p.adm.ListTopics(sctx, p.cfg.Topics.Events); err == nil {
		p.topicID = tds[p.cfg.Topics.Events].ID
	}
	eos, err := p.useTransactions(sctx)
	if err != nil {
		return err
	}
	p.eos = eos // before the client exists: its callbacks read it without p.mu
	p.eosShown.Store(eos)
	if eos {
		opts = append(opts, p.eosOpts()...)
		p.log.Info("exactly-once mode: outputs and offsets commit in one transaction per batch", "transactional_id", p.cfg.TransactionalID)
	}
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	closer := kclose.New(p.cl)
	p.closer.Store(closer)
	defer closer.Watch(ctx, stopGrace, p.log, "candle processor")()
	defer func() {
		if !p.killed.Load() {
			closer.Close()
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil && !p.killed.Load() {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := p.cl.PollRecords(pctx, 2000)
		pcancel()
		if p.killed.Load() {
			return nil
		}
		var fatal error
		fs.EachError(func(t string, part int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if errors.Is(err, kgo.ErrClientClosed) {
				fatal = err
				return
			}
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		})
		if fatal != nil {
			return nil
		}
		if err := p.process(ctx, fs.Records()); err != nil {
			p.cl.AllowRebalance()
			if ctx.Err() != nil {
				break
			}
			return err
		}
		p.cl.AllowRebalance()
	}
	if p.killed.Load() {
		return nil
	}
	// Graceful stop: emit what is due, commit, leave.
	fctx, fcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer fcancel()
	p.mu.Lock()
	err = p.flushAndCommit(fctx, p.agg.Tick(p.cfg.Now().UnixMicro()), nil)
	if werr := p.waitCommit(); err == nil {
		err = werr
	}
	p.mu.Unlock()
	if closer.Forced() {
		return nil // logged by the closer; the batch is recomputed on the next start
	}
	return err
}

// stopGrace is how long a stop may wait for the brokers before the client
// is closed under the last batch (see internal/kclose).
const stopGrace = 10 * time.Second

// Positions returns, for each partition of the events topic this processor
// owns now, the next offset it will read. The end offset minus this is what
// a user means by lag: records not yet processed. (The committed offset is
// further back by design: the first offset of the oldest open window, which
// is how far a restart re-reads.)
func (p *Processor) Positions() map[int32]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.processed)
}

// Kill stops the processor abruptly, without committing or leaving the
// group, as a crash would (for tests).
func (p *Processor) Kill() {
	p.killed.Store(true)
	if p.cl != nil {
		// A poll may have returned records whose batch will never call
		// AllowRebalance (BlockRebalanceOnPoll): Close's leave would wait
		// for it forever.
		p.cl.AllowRebalance()
		p.cl.Close()
	}
}

// process handles one batch: decode (outside the lock: decoding may wait
// for the registry), then, under p.mu, aggregate, emit, wait for the acks,
// commit.
func (p *Processor) process(ctx context.Context, recs []*kgo.Record) error {
	type decoded struct {
		r     *kgo.Record
		trade *market.Trade
		dead  *kgo.Record
	}
	ds := make([]decoded, 0, len(recs))
	for _, r := range recs {
		p.Counters.Records.Add(1)
		t, dead, err := p.decode(ctx, r)
		if err != nil {
			return err
		}
		ds = append(ds, decoded{r, t, dead})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now().UnixMicro()
	var outs []Output
	var extra []*kgo.Record
	for _, d := range ds {
		r := d.r
		if d.dead != nil {
			extra = append(extra, d.dead)
		}
		if d.trade != nil {
			p.Counters.Trades.Add(1)
			for _, o := range p.agg.Add(d.trade, r.Partition, r.Offset, now) {
				if o.Late != nil {
					o.Raw = r.Value
				}
				outs = append(outs, o)
			}
		}
		p.processed[r.Partition] = r.Offset + 1
		p.dirty[r.Partition] = true
	}
	outs = append(outs, p.agg.Tick(now)...)
	p.Counters.mu.Lock()
	p.agg.Watermarks(func(key string, wm int64) { p.Counters.watermarks[key] = wm })
	p.Counters.mu.Unlock()
	return p.flushAndCommit(ctx, outs, extra)
}

// decode turns a record into a trade, nothing (another type: counted), or a
// dead letter. Registry errors that are not about the record itself (the
// registry is unreachable) are returned: the batch is retried later.
func (p *Processor) decode(ctx context.Context, r *kgo.Record) (*market.Trade, *kgo.Record, error) {
	id, _, err := serde.ParseHeader(r.Value)
	if err != nil {
		return nil, p.deadLetter(r, "bad_header", err), nil
	}
	for attempt := 0; ; attempt++ {
		var writer avro.Schema
		writer, err = p.cfg.Serde.WriterSchema(ctx, id)
		if err == nil {
			name := ""
			if n, ok := writer.(avro.NamedSchema); ok {
				name = n.FullName()
			}
			switch name {
			case market.TradeName:
			case market.TickerName, market.BookUpdateName, market.CandleName:
				p.Counters.SkippedKnown.Add(1)
				return nil, nil, nil
			default:
				p.Counters.SkippedUnknown.Add(1)
				return nil, nil, nil
			}
			if p.writtenAsOurTrade(id, writer) {
				if _, payload, _ := serde.ParseHeader(r.Value); payload != nil {
					if t, err := market.DecodeTrade(payload); err == nil {
						return &t, nil, nil
					}
					// Not one whole Trade: the generic decoder says why.
				}
			}
			var m map[string]any
			if err = p.cfg.Serde.Decode(ctx, r.Value, market.TradeSchema, &m); err == nil {
				t, terr := market.TradeFromMap(m)
				if terr != nil {
					return nil, p.deadLetter(r, "invalid_trade", terr), nil
				}
				return &t, nil, nil
			}
		}
		switch {
		case errors.Is(err, serde.ErrUnknownSchemaID):
			return nil, p.deadLetter(r, "unknown_schema", err), nil
		case errors.Is(err, serde.ErrUndecodable), errors.Is(err, serde.ErrIncompatible), errors.Is(err, serde.ErrBadMagic), errors.Is(err, serde.ErrTruncated):
			return nil, p.deadLetter(r, "undecodable", err), nil
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("stream: stopped while the schema registry was not answering (%v): %w", err, ctx.Err())
		}
		if attempt >= 30 {
			return nil, nil, fmt.Errorf("stream: the schema registry is not answering: %w", err)
		}
		p.log.Warn("schema registry error; retrying", "err", err)
		t := time.NewTimer(min(time.Second, 50*time.Millisecond<<min(attempt, 5)))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// writtenAsOurTrade reports whether writer, the schema with registry id id,
// is market.TradeSchema itself (the same full JSON: logical types and
// decimal scales included, which the canonical form leaves out), so that
// market.DecodeTrade reads its records exactly as schema resolution would.
// Decided once per id; only the poll loop calls it.
func (p *Processor) writtenAsOurTrade(id int, writer avro.Schema) bool {
	if ok, known := p.ourTrade[id]; known {
		return ok
	}
	w, err1 := json.Marshal(writer)
	ours, err2 := json.Marshal(market.TradeSchema)
	ok := err1 == nil && err2 == nil && bytes.Equal(w, ours)
	p.ourTrade[id] = ok
	return ok
}

// deadLetter builds the dead-letter copy of a record with headers saying why.
func (p *Processor) deadLetter(r *kgo.Record, kind string, err error) *kgo.Record {
	p.Counters.DeadLettered.Add(1)
	h := append([]kgo.RecordHeader(nil), r.Headers...)
	h = append(h,
		kgo.RecordHeader{Key: "tickertape.error.kind", Value: []byte(kind)},
		kgo.RecordHeader{Key: "tickertape.error", Value: []byte(err.Error())},
		kgo.RecordHeader{Key: "tickertape.source", Value: []byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10))},
	)
	return &kgo.Record{Topic: p.cfg.Topics.DeadLetter, Key: r.Key, Value: r.Value, Headers: h}
}

// flushAndCommit produces outputs and extra records, waits for every ack,
// then commits the dirty partitions. p.mu is held.
func (p *Processor) flushAndCommit(ctx context.Context, outs []Output, extra []*kgo.Record) error {
	recs := extra
	for _, o := range outs {
		switch {
		case o.Candle != nil:
			c := o.Candle
			v := market.AppendCandle(serde.AppendHeader(make([]byte, 0, 200), p.candleID), c)
			key := c.Key()
			recs = append(recs, &kgo.Record{Topic: p.cfg.Topics.Candles, Key: []byte(key), Value: v})
			if c.Final {
				p.Counters.FinalCandles.Add(1)
				p.dirty[o.Partition] = true // the watermark moved: commit it
			} else {
				p.Counters.UpdateCandles.Add(1)
			}
			p.Counters.mu.Lock()
			p.Counters.latest[key] = *c
			p.Counters.mu.Unlock()
		case o.Late != nil:
			p.Counters.Late.Add(1)
			t := o.Late
			h := []kgo.RecordHeader{{Key: "tickertape.late.intervals", Value: []byte(fmt.Sprint(o.LateFor))}}
			recs = append(recs, &kgo.Record{Topic: p.cfg.Topics.Late, Key: []byte(t.Key()), Value: o.Raw, Headers: h})
		}
	}
	if p.eos && len(recs) > 0 {
		return p.transact(ctx, recs)
	}
	if len(recs) > 0 {
		if err := produceNow(ctx, p.cl, recs); err != nil {
			return fmt.Errorf("stream: writing candles: %w", err)
		}
	}
	return p.commit(ctx)
}

// produceNow produces recs and waits for every ack, as ProduceSync does,
// but flushes at once instead of waiting out the linger: a batch's outputs
// are all buffered here, so they go in one request without the wait (the
// linger is only there so that the first record does not leave alone).
func produceNow(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(recs))
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	ferr := cl.Flush(ctx)
	wg.Wait()
	if first != nil {
		return first
	}
	return ferr
}

// commit sends the offsets of every dirty partition, whose outputs are all
// acknowledged by now, without waiting for the answer: the next batch is
// read and aggregated while the commit's write is made durable, and its own
// commit waits for this one first (waitCommit), so commits land in order and
// a failure stops the processor one batch later. A restart replays from the
// last commit that landed, as at-least-once allows. p.mu is held.
func (p *Processor) commit(ctx context.Context) error {
	if err := p.waitCommit(); err != nil {
		return err
	}
	if len(p.dirty) == 0 {
		return nil
	}
	member, gen := p.cl.GroupMetadata()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = p.cfg.Group, gen, member
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = p.cfg.Topics.Events, p.topicID
	p.commitState(func(part int32, off int64, md string) {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = part, off, -1, &md
		rt.Partitions = append(rt.Partitions, rp)
	})
	req.Topics = append(req.Topics, rt)
	ic := &inflightCommit{done: make(chan struct{}), parts: slices.Collect(maps.Keys(p.dirty))}
	clear(p.dirty)
	p.inflight = ic
	go func() {
		defer close(ic.done)
		ic.err = p.sendCommit(ctx, req)
	}()
	return nil
}

// inflightCommit is an offset commit on its way.
type inflightCommit struct {
	done  chan struct{}
	parts []int32 // the partitions it covers
	err   error   // set before done closes
}

// waitCommit waits for the commit in flight, if any. When it failed, the
// partitions it covered (those still owned) are dirty again, so that the next
// commit sends their newest state; a commit cut short by a cancelled context
// is not an error (the stop commits again). p.mu is held.
func (p *Processor) waitCommit() error {
	ic := p.inflight
	if ic == nil {
		return nil
	}
	<-ic.done
	p.inflight = nil
	if ic.err == nil {
		return nil
	}
	for _, part := range ic.parts {
		if _, owned := p.processed[part]; owned {
			p.dirty[part] = true
		}
	}
	if errors.Is(ic.err, context.Canceled) || errors.Is(ic.err, context.DeadlineExceeded) {
		return nil
	}
	return ic.err
}

// sendCommit sends one OffsetCommit and checks every partition's answer.
func (p *Processor) sendCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) error {
	resp, err := req.RequestWith(ctx, p.cl)
	if err != nil {
		return fmt.Errorf("stream: committing: %w", err)
	}
	for _, t := range resp.Topics {
		for _, pr := range t.Partitions {
			if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
				if errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) {
					p.log.Debug("commit refused during a rebalance; the next owner replays from the previous commit", "partition", pr.Partition, "err", err)
					continue
				}
				return fmt.Errorf("stream: committing partition %d: %w", pr.Partition, err)
			}
		}
	}
	p.Counters.Commits.Add(1)
	return nil
}

// commitState calls fn with the offset and metadata to commit for every
// dirty partition that has been read.
func (p *Processor) commitState(fn func(part int32, off int64, md string)) {
	for part := range p.dirty {
		end, ok := p.processed[part]
		if !ok {
			continue // nothing read yet: keep the committed position
		}
		off, end, wm := p.agg.CommitState(part, end)
		md := metadata{V: 1, End: end, WM: wm}
		b, _ := json.Marshal(md)
		if len(b) > maxMetadata {
			p.log.Warn("too many symbols in one partition to store their watermarks with the offset; a restart may repeat some final candles", "partition", part, "bytes", len(b))
			b, _ = json.Marshal(metadata{V: 1, End: end})
		}
		fn(part, off, string(b))
	}
}

// assigned restores the committed watermarks of newly assigned partitions.
func (p *Processor) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	parts := assigned[p.cfg.Topics.Events]
	if len(parts) == 0 {
		return
	}
	// Without the committed watermarks, replayed trades would close the
	// windows the previous owner closed a second time: wait for them.
	var offs kadm.OffsetResponses
	if err := txn.Retry(ctx, p.log, "the committed state of newly assigned partitions", func(ctx context.Context) (err error) {
		offs, err = p.fetchCommitted(ctx)
		return err
	}); err != nil {
		return // the client is closing
	}
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	p.restoreLocked(offs, parts)
}

// restoreLocked restores the watermarks of parts from committed offsets'
// metadata. p.mu is held.
func (p *Processor) restoreLocked(offs kadm.OffsetResponses, parts []int32) {
	for _, part := range parts {
		o, ok := offs.Lookup(p.cfg.Topics.Events, part)
		if !ok || o.Err != nil || o.Metadata == "" {
			continue
		}
		var md metadata
		if json.Unmarshal([]byte(o.Metadata), &md) != nil || md.V != 1 {
			continue
		}
		for key, wm := range md.WM {
			p.agg.Restore(key, part, wm, md.End)
		}
	}
}

// revoked commits and forgets partitions leaving this member.
func (p *Processor) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	if p.killed.Load() {
		return
	}
	// In exactly-once mode every batch was committed with its outputs; the
	// windows the clock closes now are emitted by the next batch of the
	// partitions kept, and the next owner rebuilds the revoked ones.
	if p.eos {
		for _, part := range revoked[p.cfg.Topics.Events] {
			p.agg.Drop(part)
			delete(p.processed, part)
			delete(p.dirty, part)
		}
		return
	}
	err := p.flushAndCommit(ctx, p.agg.Tick(p.cfg.Now().UnixMicro()), nil)
	if werr := p.waitCommit(); err == nil {
		err = werr
	}
	if err != nil {
		p.log.Warn("commit on revoke failed; the next owner replays from the previous commit", "err", err)
	}
	for _, part := range revoked[p.cfg.Topics.Events] {
		p.agg.Drop(part)
		delete(p.processed, part)
	}
}

// lost forgets partitions without committing (the session expired).
func (p *Processor) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	for _, part := range lost[p.cfg.Topics.Events] {
		p.agg.Drop(part)
		delete(p.processed, part)
		delete(p.dirty, part)
	}
}
