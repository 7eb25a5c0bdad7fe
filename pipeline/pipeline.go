package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"golang.org/x/sync/errgroup"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/ingest"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/stream"
)

// Pipeline is one pipeline; Run runs it once.
type Pipeline struct {
	cfg   Config
	log   *slog.Logger
	ready chan struct{}
	done  chan struct{} // closed when Run returns

	// Set before ready is closed, read-only after.
	info  Info
	stack *app.Stack
	// The options of every client the pipeline makes (the caller's, or the
	// embedded stack's in-process ones).
	kafkaOpts []kgo.Opt
	regOpts   []sr.ClientOpt
	venues    []*venue
	proc      *stream.Processor
	books     *book.Processor
	started   time.Time

	running atomic.Bool

	mu     sync.Mutex // guards sample
	sample sample
}

type venue struct {
	cfg VenueConfig
	v   Venue
	in  *ingest.Ingest
}

// Info is what a started pipeline connects to.
type Info struct {
	Brokers     []string
	RegistryURL string
	// Embedded is set when the pipeline started the embedded stack, with
	// how long it took to be ready.
	Embedded     bool
	StackReadyIn time.Duration
	StackDataDir string
	Venues       []VenueInfo
	Topics       [4]string // events, candles, late, dead letters
	CandleGroup  string    // "" without a processor
	// BooksGroup is the book builder's group ("" without one), writing
	// BooksTopic and BBOTopic.
	BooksGroup, BooksTopic, BBOTopic string
}

// VenueInfo describes one venue being ingested.
type VenueInfo struct {
	Name        string
	Synthetic   bool
	Description string
	Symbols     []string
}

// New validates cfg and fills its defaults. Nothing is started until Run.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Topics = cfg.Topics.WithDefaults()
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.SampleEvery == 0 {
		cfg.SampleEvery = time.Second
	}
	if cfg.Factory == nil {
		var errs []error
		for _, v := range cfg.Venues {
			if _, err := exchange.Lookup(v.Name); err != nil && v.Connector == nil {
				errs = append(errs, &UnknownVenueError{Name: v.Name, Known: Venues()})
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		cfg.Factory = DefaultFactory
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Stack.Logger == nil {
		cfg.Stack.Logger = cfg.Logger
	}
	return &Pipeline{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), done: make(chan struct{})}, nil
}

// Ready is closed once Run has started everything: the stack (if
// embedded) accepts connections and the venues and the processor are
// about to stream. Info is valid from then on.
func (p *Pipeline) Ready() <-chan struct{} { return p.ready }

// Stack is the embedded stack, or nil when the pipeline uses external
// brokers; valid once Ready is closed.
func (p *Pipeline) Stack() *app.Stack {
	p.wait()
	return p.stack
}

// wait blocks until Run is ready or has returned.
func (p *Pipeline) wait() {
	select {
	case <-p.ready:
	case <-p.done:
	}
}

// Info describes what the pipeline connects to. It waits until Ready is
// closed (or Run has returned: then it holds what Run got to).
func (p *Pipeline) Info() Info {
	p.wait()
	return p.info
}

// ClientOpts are the options the pipeline's own clients use for the brokers
// and the registry (TLS, SASL, basic auth; in process when embedded), so
// that a dashboard beside it reaches them the same way. Valid once ready.
func (p *Pipeline) ClientOpts() ([]kgo.Opt, []sr.ClientOpt) {
	p.wait()
	return p.kafkaOpts, p.regOpts
}

// Run starts the stack (when embedded), builds and checks the venues,
// then streams until ctx is done or a part fails. On the way out it
// delivers what ingest accepted, commits the processor's state, and
// closes everything it started, the stack last. It returns nil after a
// cancelled ctx, otherwise the first failure.
func (p *Pipeline) Run(ctx context.Context) (err error) {
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("pipeline: Run called twice (build a new Pipeline)")
	}
	defer close(p.done)
	cfg := p.cfg
	// The venues first: a venue that cannot be used fails before the stack
	// does any work.
	type built struct {
		vc VenueConfig
		v  Venue
	}
	var venues []built
	for _, vc := range cfg.Venues {
		v := Venue{Connector: vc.Connector}
		if v.Connector == nil {
			var err error
			if v, err = cfg.Factory(vc); err != nil {
				return err
			}
			if v.Close != nil {
				cleanup = append(cleanup, v.Close)
			}
		}
		if v.Resolve != nil {
			syms, err := v.Resolve(ctx, vc.Symbols)
			if err != nil {
				return err
			}
			vc.Symbols = syms
		}
		venues = append(venues, built{vc, v})
	}
	brokers, registryURL := cfg.Brokers, cfg.RegistryURL
	kafkaOpts := append([]kgo.Opt(nil), cfg.KafkaOpts...)
	regOpts := append([]sr.ClientOpt{sr.URLs(registryURL)}, cfg.RegistryOpts...)
	if len(brokers) == 0 {
		start := time.Now()
		stack, err := app.Start(cfg.Stack)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := stack.Close(sctx); err != nil {
				p.log.Warn("closing the embedded stack", "err", err)
			}
		})
		p.stack = stack
		brokers, registryURL = []string{stack.KafkaAddr()}, stack.RegistryURL()
		if registryURL == "" {
			return errors.New("pipeline: the embedded stack runs no schema registry (Stack.RegistryAddr is empty)")
		}
		kafkaOpts = append(kafkaOpts, stack.InternalKafkaOpts()...)
		regOpts = stack.InternalRegistryOpts()
		p.info.Embedded, p.info.StackReadyIn, p.info.StackDataDir = true, time.Since(start), cfg.Stack.Broker.DataDir
	}
	p.info.Brokers, p.info.RegistryURL = brokers, registryURL
	n := cfg.Topics
	p.info.Topics = [4]string{n.Events, n.Candles, n.Late, n.DeadLetter}
	p.kafkaOpts, p.regOpts = kafkaOpts, regOpts
	srcl, err := sr.NewClient(regOpts...)
	if err != nil {
		return fmt.Errorf("pipeline: registry URL %q: %w", registryURL, err)
	}

	for _, b := range venues {
		vc, v := b.vc, b.v
		sc := vc.Supervisor
		sc.Connector = v.Connector
		sc.Subscription = exchange.Subscription{Symbols: vc.Symbols, Trades: true, Tickers: !vc.NoTickers, Books: !vc.NoBooks}
		in, err := ingest.New(ingest.Config{Brokers: brokers, Serde: serde.New(srcl), Topics: n, Partitions: cfg.Partitions,
			Exchange: sc, KafkaOpts: kafkaOpts, Logger: cfg.Logger, StopGrace: cfg.StopGrace})
		if err != nil {
			return err
		}
		name := vc.Name
		if name == "" {
			name = v.Connector.Name()
		}
		vc.Name = name
		p.venues = append(p.venues, &venue{cfg: vc, v: v, in: in})
		p.info.Venues = append(p.info.Venues, VenueInfo{Name: name, Synthetic: v.Synthetic, Description: v.Description, Symbols: vc.Symbols})
	}
	if c := cfg.Candles; c != nil {
		sc := stream.Config{Brokers: brokers, Serde: serde.New(srcl), Topics: n, Partitions: cfg.Partitions, Group: c.Group,
			Intervals: c.Intervals, Lateness: c.Lateness, UpdateEvery: c.UpdateEvery, NoUpdates: c.NoUpdates, IdleAfter: c.IdleAfter,
			KafkaOpts: append(append([]kgo.Opt(nil), kafkaOpts...), c.KafkaOpts...), Logger: cfg.Logger,
			ExactlyOnce: c.ExactlyOnce, TransactionalID: c.TransactionalID, TransactionTimeout: c.TransactionTimeout}
		if p.proc, err = stream.New(sc); err != nil {
			return err
		}
		p.info.CandleGroup = p.proc.Group()
	}
	if c := cfg.Books; c != nil {
		bc := book.Config{Brokers: brokers, Serde: serde.New(srcl), Topics: n, Partitions: cfg.Partitions, Group: c.Group, Depth: c.Depth, Every: c.Every,
			KafkaOpts: append(append([]kgo.Opt(nil), kafkaOpts...), c.KafkaOpts...), Logger: cfg.Logger,
			ExactlyOnce: c.ExactlyOnce, TransactionalID: c.TransactionalID, TransactionTimeout: c.TransactionTimeout}
		if p.books, err = book.New(bc); err != nil {
			return err
		}
		p.info.BooksGroup, p.info.BooksTopic, p.info.BBOTopic = p.books.Group(), n.Books, n.BBO
	}
	adminCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, kafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	cleanup = append(cleanup, adminCl.Close)
	p.started = time.Now()
	p.takeSample(ctx, kadm.NewClient(adminCl), 0) // the baseline of the first rates
	close(p.ready)

	g, gctx := errgroup.WithContext(ctx)
	for _, v := range p.venues {
		g.Go(func() error { return v.in.Run(gctx) })
	}
	if p.proc != nil {
		g.Go(func() error { return p.proc.Run(gctx) })
	}
	if p.books != nil {
		g.Go(func() error { return p.books.Run(gctx) })
	}
	samplerDone := make(chan struct{})
	var sg sync.WaitGroup
	sg.Add(1)
	go func() {
		defer sg.Done()
		p.sampleLoop(gctx, samplerDone, kadm.NewClient(adminCl))
	}()
	err = g.Wait()
	close(samplerDone)
	sg.Wait()
	return err
}

// sampleLoop measures rates and lag every SampleEvery until done.
func (p *Pipeline) sampleLoop(ctx context.Context, done <-chan struct{}, adm *kadm.Client) {
	t := time.NewTicker(p.cfg.SampleEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.takeSample(ctx, adm, now.Sub(p.lastSampleAt()))
		}
	}
}

func (p *Pipeline) lastSampleAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sample.at
}

// unprocessed sums, over the partitions of topic this process reads (those
// in positions), the records not yet processed: the end offset minus the
// processor's position. Other processes' partitions are theirs to report.
func unprocessed(lag kadm.GroupLag, topic string, positions map[int32]int64) int64 {
	var n int64
	for part, l := range lag[topic] {
		if at, ok := positions[part]; ok && l.End.Err == nil {
			n += max(l.End.Offset-at, 0)
		}
	}
	return n
}

// sample is what the sampler measured last.
type sample struct {
	at     time.Time
	counts map[string][3]int64 // per venue: trades, tickers, book updates
	rates  map[string][3]float64
	lag    int64 // -1: unknown
	behind int64 // -1: unknown
	lagErr error
}

func (p *Pipeline) takeSample(ctx context.Context, adm *kadm.Client, since time.Duration) {
	s := sample{at: time.Now(), counts: map[string][3]int64{}, rates: map[string][3]float64{}, lag: -1, behind: -1}
	for _, v := range p.venues {
		c := &v.in.Counters
		s.counts[v.cfg.Name] = [3]int64{c.Trades.Load(), c.Tickers.Load(), c.Books.Load()}
	}
	if p.proc != nil {
		lctx, cancel := context.WithTimeout(ctx, time.Second)
		lags, err := adm.Lag(lctx, p.proc.Group())
		cancel()
		if err == nil {
			if l, ok := lags[p.proc.Group()]; ok {
				if err = l.Error(); err == nil {
					s.lag = l.Lag.Total()
					s.behind = unprocessed(l.Lag, p.cfg.Topics.Events, p.proc.Positions())
				}
			}
		}
		s.lagErr = err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if secs := since.Seconds(); secs > 0 {
		for name, cur := range s.counts {
			prev := p.sample.counts[name]
			s.rates[name] = [3]float64{float64(cur[0]-prev[0]) / secs, float64(cur[1]-prev[1]) / secs, float64(cur[2]-prev[2]) / secs}
		}
	}
	p.sample = s
}
