package book

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	Brokers    []string
	Serde      *serde.Serde
	Topics     topics.Names
	Partitions int32  // of topics created on first use; default 6
	Group      string // default tickertape-books
	Depth      int    // levels a side in market.books; default 50
	// Every is how often a changed book is published at most; snapshots
	// and resyncs are published at once. Default 1s.
	Every     time.Duration
	KafkaOpts []kgo.Opt
	Logger    *slog.Logger
	Now       func() time.Time
	// ExactlyOnce: EOSAuto (the default) uses transactions when the brokers
	// support them (ApiVersions lists EndTxn); EOSOn requires them; EOSOff
	// commits after the acks (a crash republishes books, identical).
	ExactlyOnce EOSMode
	// TransactionalID of the exactly-once producer; default: the group, a
	// dash and a random suffix.
	TransactionalID string
	// TransactionTimeout aborts the transaction of a builder that died
	// mid-batch; default 10s.
	TransactionTimeout time.Duration
}

// EOSMode says whether the builder uses transactions; the same type as
// stream.EOSMode, so one --exactly-once flag drives both.
type EOSMode = txn.Mode

// The modes.
const (
	EOSAuto = txn.Auto
	EOSOn   = txn.On
	EOSOff  = txn.Off
)

// Defaults.
const (
	DefaultDepth = 50
	DefaultGroup = "tickertape-books"
	DefaultEvery = time.Second
)

// Validate reports every problem of cfg at once; zero values are defaults.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("book: Brokers is required"))
	}
	if cfg.Serde == nil {
		errs = append(errs, errors.New("book: Serde is required"))
	}
	if cfg.Partitions < 0 {
		errs = append(errs, fmt.Errorf("book: Partitions %d is negative", cfg.Partitions))
	}
	if cfg.Depth < 0 || cfg.Depth > 5000 {
		errs = append(errs, fmt.Errorf("book: Depth %d is outside 1..5000", cfg.Depth))
	}
	if cfg.Every < 0 {
		errs = append(errs, fmt.Errorf("book: Every %s is negative", cfg.Every))
	}
	return errors.Join(errs...)
}

// Counters are the processor's counters, safe to read at any time.
type Counters struct {
	Records      atomic.Int64 // read from market.events
	BookRecords  atomic.Int64 // of them, book messages
	BBORecords   atomic.Int64 // read from market.bbo
	Undecodable  atomic.Int64 // records skipped because they do not decode
	Books        atomic.Int64 // market.books records written
	BBOs         atomic.Int64 // per-venue market.bbo records written
	Consolidated atomic.Int64 // consolidated market.bbo records written
	Commits      atomic.Int64
	Aborts       atomic.Int64 // transactions aborted and rebuilt from the committed state (exactly-once mode)

	mu    sync.Mutex
	stats map[string]VenueStats
	bbo   map[string]market.BBO // latest per exchange:SYMBOL, consolidated under consolidated:SYMBOL
}

// Venues returns each venue's builder counters.
func (c *Counters) Venues() map[string]VenueStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]VenueStats, len(c.stats))
	for k, v := range c.stats {
		out[k] = v
	}
	return out
}

// LatestBBO returns the latest BBO this process published per
// exchange:SYMBOL (consolidated ones under consolidated:SYMBOL).
func (c *Counters) LatestBBO() map[string]market.BBO {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]market.BBO, len(c.bbo))
	for k, v := range c.bbo {
		out[k] = v
	}
	return out
}

// Processor is the book builder: a consumer group over market.events (the
// books) and market.bbo (the consolidation) that writes market.books and
// market.bbo.
type Processor struct {
	cfg      Config
	log      *slog.Logger
	Counters Counters

	cl     *kgo.Client
	clPtr  atomic.Pointer[kgo.Client] // cl, for Kill from another goroutine
	adm    *kadm.Client
	bookID int
	bboID  int

	mu     sync.Mutex // guards b, c, next, dirty (the poll loop and the rebalance callbacks)
	b      *Builder
	c      *Consolidator
	next   map[string]map[int32]int64 // topic → partition → next offset to read
	owned  map[string]map[int32]bool  // topic → partitions assigned
	read   bool                       // records read since the last commit (exactly-once mode)
	killed atomic.Bool
	closer atomic.Pointer[kclose.Closer] // set once the client exists; the rebalance callbacks lock through it

	eos bool // transactions in use (decided in Run, before the client exists)
	// eosShown is eos for ExactlyOnce, which other goroutines call: never
	// p.mu, which a batch holds while it waits for the brokers.
	eosShown atomic.Bool
	topicIDs map[string][16]byte
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
		cfg.Group = DefaultGroup
	}
	if cfg.Depth == 0 {
		cfg.Depth = DefaultDepth
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "books"), b: NewBuilder(cfg.Depth, cfg.Every.Microseconds()), c: NewConsolidator(),
		next: map[string]map[int32]int64{cfg.Topics.Events: {}, cfg.Topics.BBO: {}}, owned: map[string]map[int32]bool{cfg.Topics.Events: {}, cfg.Topics.BBO: {}}}
	p.Counters.stats = map[string]VenueStats{}
	p.Counters.bbo = map[string]market.BBO{}
	return p, nil
}

// Group is the processor's consumer group.
func (p *Processor) Group() string { return p.cfg.Group }

// Depth is the levels a side it publishes.
func (p *Processor) Depth() int { return p.cfg.Depth }

// Kill stops the processor abruptly, without committing or leaving the
// group, as a crash would (for tests).
func (p *Processor) Kill() {
	if p.killed.Swap(true) {
		return
	}
	if cl := p.clPtr.Load(); cl != nil {
		cl.CloseAllowingRebalance() // a poll may hold the rebalance blocked
	}
}

// Run consumes until ctx is done, then publishes, commits and leaves.
func (p *Processor) Run(ctx context.Context) error {
	n := p.cfg.Topics
	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...)}, p.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("book: %w", err)
	}
	defer adminCl.Close()
	p.adm = kadm.NewClient(adminCl)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := topics.Ensure(sctx, p.adm, n, p.cfg.Partitions); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	if err := topics.EnsureBooks(sctx, p.adm, n, p.cfg.Partitions); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	if p.bookID, err = p.cfg.Serde.Register(sctx, market.SubjectFor(n.Books, market.BookName), market.BookSchema); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	if p.bboID, err = p.cfg.Serde.Register(sctx, market.SubjectFor(n.BBO, market.BBOName), market.BBOSchema); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	p.topicIDs = map[string][16]byte{}
	if tds, err := p.adm.ListTopics(sctx, n.Events, n.BBO); err == nil {
		for name, td := range tds {
			p.topicIDs[name] = td.ID
		}
	}
	ts := txn.Settings{ID: p.cfg.TransactionalID, Timeout: p.cfg.TransactionTimeout}
	if p.eos, err = txn.Decide(sctx, p.adm, p.cfg.ExactlyOnce, p.cfg.Group, &ts, "book",
		"a crash of the book builder may republish books (identical)", p.log.Info); err != nil {
		return err
	}
	p.eosShown.Store(p.eos)
	p.cfg.TransactionalID, p.cfg.TransactionTimeout = ts.ID, ts.Timeout
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(n.Events, n.BBO),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, p.cfg.KafkaOpts...)
	if p.eos {
		opts = append(opts, txn.Opts(ts)...)
		p.log.Info("exactly-once mode: books, BBOs and offsets commit in one transaction per batch", "transactional_id", ts.ID)
	}
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("book: %w", err)
	}
	p.clPtr.Store(p.cl)
	if p.killed.Load() { // killed before the client existed
		p.cl.Close()
		return nil
	}
	closer := kclose.New(p.cl)
	p.closer.Store(closer)
	defer closer.Watch(ctx, stopGrace, p.log, "book builder")()
	defer func() {
		if !p.killed.Load() {
			closer.Close()
		}
	}()
	for ctx.Err() == nil && !p.killed.Load() {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := p.cl.PollRecords(pctx, 2000)
		pcancel()
		if p.killed.Load() {
			p.cl.AllowRebalance() // Kill's Close may be waiting for this poll
			return nil
		}
		var fatal bool
		fs.EachError(func(t string, part int32, err error) {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			case errors.Is(err, kgo.ErrClientClosed):
				fatal = true
			default:
				p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
			}
		})
		if fatal {
			p.cl.AllowRebalance()
			return nil
		}
		err := p.process(ctx, fs.Records())
		p.cl.AllowRebalance()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	if p.killed.Load() {
		return nil
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer fcancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out Outputs
	p.b.Tick(p.cfg.Now().UnixMicro()+p.cfg.Every.Microseconds(), &out) // everything changed, now
	if err := p.flushAndCommit(fctx, &out); err != nil && !closer.Forced() {
		return err
	}
	return nil
}

// stopGrace is how long a stop may wait for the brokers before the client
// is closed under the last batch (see internal/kclose).
const stopGrace = 10 * time.Second

// decoded is one record's content.
type decoded struct {
	r    *kgo.Record
	book *market.BookUpdate
	bbo  *market.BBO
}

// process handles one batch: decode outside the lock (it may wait for the
// registry), then apply, publish, wait for the acks, commit.
func (p *Processor) process(ctx context.Context, recs []*kgo.Record) error {
	ds := make([]decoded, 0, len(recs))
	for _, r := range recs {
		d, err := p.decode(ctx, r)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now().UnixMicro()
	var out Outputs
	for _, d := range ds {
		r := d.r
		switch r.Topic {
		case p.cfg.Topics.Events:
			if d.book != nil {
				p.b.Apply(d.book, r.Partition, r.Offset, now, &out)
			}
			p.b.Advance(r.Partition, r.Offset+1, now, &out)
		case p.cfg.Topics.BBO:
			if d.bbo != nil {
				p.c.Apply(d.bbo, r.Partition, r.Offset, now, &out.BBOs)
			}
			p.c.Advance(r.Partition, r.Offset+1, now, &out.BBOs)
		}
		p.next[r.Topic][r.Partition] = r.Offset + 1
		p.read = true
	}
	p.b.Tick(now, &out)
	for _, c := range out.CrossedNow {
		p.log.Warn("crossed book: best bid at or above best ask (reported once until it uncrosses)", "exchange", c.Exchange, "symbol", c.Symbol,
			"sequence", c.Sequence, "bid", c.Bids[0].Price, "ask", c.Asks[0].Price)
	}
	return p.flushAndCommit(ctx, &out)
}

// decode reads a record of either topic. Records of other types, and
// records that do not decode (the candle processor dead-letters those of
// market.events), are counted and skipped. An unreachable registry is an
// error after retries.
func (p *Processor) decode(ctx context.Context, r *kgo.Record) (decoded, error) {
	d := decoded{r: r}
	isEvents := r.Topic == p.cfg.Topics.Events
	if isEvents {
		p.Counters.Records.Add(1)
	} else {
		p.Counters.BBORecords.Add(1)
	}
	id, _, err := serde.ParseHeader(r.Value)
	if err != nil {
		p.Counters.Undecodable.Add(1)
		return d, nil
	}
	for attempt := 0; ; attempt++ {
		var writer avro.Schema
		if writer, err = p.cfg.Serde.WriterSchema(ctx, id); err == nil {
			name := ""
			if ns, ok := writer.(avro.NamedSchema); ok {
				name = ns.FullName()
			}
			var m map[string]any
			switch {
			case isEvents && name == market.BookUpdateName:
				if err = p.cfg.Serde.Decode(ctx, r.Value, market.BookUpdateSchema, &m); err == nil {
					u, uerr := market.BookUpdateFromMap(m)
					if uerr != nil || u.Exchange == "" || u.Symbol == "" {
						p.Counters.Undecodable.Add(1)
						return d, nil
					}
					p.Counters.BookRecords.Add(1)
					d.book = &u
					return d, nil
				}
			case !isEvents && name == market.BBOName:
				if err = p.cfg.Serde.Decode(ctx, r.Value, market.BBOSchema, &m); err == nil {
					q, qerr := market.BBOFromMap(m)
					if qerr != nil || q.Exchange == "" || q.Symbol == "" {
						p.Counters.Undecodable.Add(1)
						return d, nil
					}
					d.bbo = &q
					return d, nil
				}
			default:
				return d, nil // another type: not ours
			}
		}
		switch {
		case errors.Is(err, serde.ErrUnknownSchemaID), errors.Is(err, serde.ErrUndecodable), errors.Is(err, serde.ErrIncompatible),
			errors.Is(err, serde.ErrBadMagic), errors.Is(err, serde.ErrTruncated):
			p.Counters.Undecodable.Add(1)
			return d, nil
		}
		if ctx.Err() != nil {
			return d, fmt.Errorf("book: stopped while the schema registry was not answering (%v): %w", err, ctx.Err())
		}
		if attempt >= 30 {
			return d, fmt.Errorf("book: the schema registry is not answering: %w", err)
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

// flushAndCommit writes the outputs, waits for their acks, then commits
// every owned partition's replay point. p.mu is held.
func (p *Processor) flushAndCommit(ctx context.Context, out *Outputs) error {
	recs := make([]*kgo.Record, 0, len(out.Books)+len(out.BBOs))
	for i := range out.Books {
		bk := &out.Books[i]
		v := market.AppendBook(serde.AppendHeader(make([]byte, 0, 64+40*(len(bk.Bids)+len(bk.Asks))), p.bookID), bk)
		recs = append(recs, &kgo.Record{Topic: p.cfg.Topics.Books, Key: []byte(bk.Key()), Value: v})
	}
	for i := range out.BBOs {
		q := &out.BBOs[i]
		v := market.AppendBBO(serde.AppendHeader(make([]byte, 0, 128), p.bboID), q)
		recs = append(recs, &kgo.Record{Topic: p.cfg.Topics.BBO, Key: []byte(q.Symbol), Value: v})
	}
	if p.eos {
		if len(recs) == 0 {
			// Nothing to write: the offsets read go with the next batch that
			// writes. A transaction holding only offsets is one franz-go does
			// not end (it sends EndTxn only after a produce), and ending it
			// ourselves would, with Kafka's transactions v2, bump the epoch
			// under the client.
			return nil
		}
		ok, err := p.transact(ctx, recs)
		if err != nil {
			return err
		}
		if ok {
			p.read = false
			p.count(out)
		}
		return nil
	}
	if len(recs) > 0 {
		if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("book: writing books: %w", err)
		}
	}
	p.count(out)
	return p.commit(ctx)
}

// count adds published outputs to the counters.
func (p *Processor) count(out *Outputs) {
	p.Counters.Books.Add(int64(len(out.Books)))
	p.Counters.mu.Lock()
	for _, q := range out.BBOs {
		if q.Consolidated {
			p.Counters.Consolidated.Add(1)
		} else {
			p.Counters.BBOs.Add(1)
		}
		p.Counters.bbo[market.EventKey(q.Exchange, q.Symbol)] = q
	}
	for k, v := range p.b.Stats() {
		p.Counters.stats[k] = v
	}
	p.Counters.mu.Unlock()
}

// commit commits, per owned partition, the offset a new owner must replay
// from to rebuild its state (Builder.CommitOffset, Consolidator.CommitOffset).
func (p *Processor) commit(ctx context.Context) error {
	offs := map[string]map[int32]kgo.EpochOffset{}
	for topic, parts := range p.next {
		for part, next := range parts {
			var at int64
			if topic == p.cfg.Topics.Events {
				at = p.b.CommitOffset(part, next)
			} else {
				at = p.c.CommitOffset(part, next)
			}
			if offs[topic] == nil {
				offs[topic] = map[int32]kgo.EpochOffset{}
			}
			offs[topic][part] = kgo.EpochOffset{Epoch: -1, Offset: at}
		}
	}
	if len(offs) == 0 {
		return nil
	}
	var cerr error
	p.cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				if err := kerr.ErrorForCode(pr.ErrorCode); err != nil && cerr == nil {
					cerr = err
				}
			}
		}
	})
	if cerr != nil {
		if errors.Is(cerr, kerr.RebalanceInProgress) || errors.Is(cerr, kerr.IllegalGeneration) || errors.Is(cerr, kerr.UnknownMemberID) {
			p.log.Debug("commit refused during a rebalance; the next owner replays from the previous commit", "err", cerr)
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("book: committing: %w", cerr)
	}
	p.Counters.Commits.Add(1)
	return nil
}

// assigned sets up newly assigned partitions: each is replayed from its
// committed offset (or its start) to the end offset it has now, and only
// then published. Without the committed state it cannot know what the
// previous owner published, so it waits for it.
func (p *Processor) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if len(assigned) == 0 {
		return
	}
	var ts []string
	for t := range assigned {
		ts = append(ts, t)
	}
	var committed kadm.OffsetResponses
	var starts, ends kadm.ListedOffsets
	if err := txn.Retry(ctx, p.log, "the committed and end offsets of newly assigned partitions", func(ctx context.Context) (err error) {
		committed, starts, ends, err = p.replayState(ctx, ts)
		return err
	}); err != nil {
		return // the client is closing
	}
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	for topic, parts := range assigned {
		for _, part := range parts {
			p.assignLocked(topic, part, committed, starts, ends)
		}
	}
}

// revoked publishes, commits and forgets partitions leaving this member.
func (p *Processor) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	if p.killed.Load() {
		return
	}
	// In exactly-once mode every batch committed with its outputs; the
	// books the clock would publish now are published by the next owner
	// (it knows what was published).
	if p.eos {
		p.forget(revoked)
		return
	}
	if err := p.flushAndCommit(ctx, &Outputs{}); err != nil {
		p.log.Warn("commit on revoke failed; the next owner replays from the previous commit", "err", err)
	}
	p.forget(revoked)
}

// lost forgets partitions without committing (the session expired).
func (p *Processor) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	if !p.closer.Load().Lock(&p.mu) { // the client is closing under a stuck batch
		return
	}
	defer p.mu.Unlock()
	p.forget(lost)
}

func (p *Processor) forget(m map[string][]int32) {
	for topic, parts := range m {
		for _, part := range parts {
			if topic == p.cfg.Topics.Events {
				p.b.Drop(part)
			} else {
				p.c.Drop(part)
			}
			delete(p.next[topic], part)
			delete(p.owned[topic], part)
		}
	}
}
