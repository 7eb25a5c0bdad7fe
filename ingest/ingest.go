// Package ingest runs an exchange connector under the exchange.Supervisor
// and writes every event to Kafka: Avro in the Confluent wire format
// (schemas registered under TopicRecordNameStrategy subjects), keyed
// exchange:SYMBOL so that one symbol's events stay in order, through an
// idempotent franz-go producer with acks=all. It counts what goes in and
// out; a record Kafka refuses after kgo's retries stops the run, because
// silently dropping it would lose data.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// Config configures an Ingest.
type Config struct {
	Brokers    []string
	Serde      *serde.Serde // registry access
	Topics     topics.Names
	Partitions int32                     // of topics created on first use; default 6
	Exchange   exchange.SupervisorConfig // Connector, Subscription, watchdog, backoff; Handler is set by Ingest
	KafkaOpts  []kgo.Opt
	Logger     *slog.Logger
	// StopGrace bounds a stop: how long after the run's context ends the
	// producer may still wait for the brokers to take what was accepted
	// (0 is 30 s). Past it the run returns an error naming what was not
	// delivered; the next start backfills trades from what Kafka holds.
	StopGrace time.Duration
}

// Counters are the delivery counters, safe to read at any time.
type Counters struct {
	EventsIn               atomic.Int64 // events from the supervisor
	Produced               atomic.Int64 // acknowledged by Kafka
	Failed                 atomic.Int64 // refused after retries (the run stops)
	Retried                atomic.Int64 // produce requests that failed and were sent again by the client
	Trades, Tickers, Books atomic.Int64
	latMu                  sync.Mutex
	lat                    []time.Duration // recent produce latencies
	latency                prometheus.Histogram
}

// LatencyHistogram is the Prometheus histogram of produce latencies
// (tickertape_ingest_produce_duration_seconds, labelled with the venue).
func (in *Ingest) LatencyHistogram() prometheus.Collector { return in.Counters.latency }

// ProduceLatency returns the p50 and p99 of recent produce latencies.
func (s *Counters) ProduceLatency() (p50, p99 time.Duration) {
	s.latMu.Lock()
	l := append([]time.Duration(nil), s.lat...)
	s.latMu.Unlock()
	if len(l) == 0 {
		return 0, 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)/2], l[min(len(l)-1, len(l)*99/100)]
}

func (s *Counters) addLatency(d time.Duration) {
	s.latMu.Lock()
	if len(s.lat) >= 4096 {
		s.lat = s.lat[1:]
	}
	s.lat = append(s.lat, d)
	s.latMu.Unlock()
	if s.latency != nil {
		s.latency.Observe(d.Seconds())
	}
}

// Ingest is a running ingestion.
type Ingest struct {
	cfg        Config
	log        *slog.Logger
	Counters   Counters
	Supervisor *exchange.Supervisor // its Counters are the venue's

	cl       *kgo.Client
	pctx     context.Context // the producer's: ends StopGrace after the run's (Run)
	exchange string          // the connector's name, the metrics' exchange label
	ids      [3]int          // schema ids: trade, ticker, book
	failure  atomic.Pointer[error]
}

// Validate reports every problem of cfg at once; zero values are defaults.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("ingest: Brokers is required"))
	}
	if cfg.Serde == nil {
		errs = append(errs, errors.New("ingest: Serde is required"))
	}
	if cfg.Partitions < 0 {
		errs = append(errs, fmt.Errorf("ingest: Partitions %d is negative", cfg.Partitions))
	}
	return errors.Join(errs...)
}

// New validates cfg, fills defaults and prepares the supervisor.
func New(cfg Config) (*Ingest, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Topics = cfg.Topics.WithDefaults()
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Ingest{cfg: cfg, log: cfg.Logger.With("component", "ingest")}
	if cfg.Exchange.Connector != nil {
		in.exchange = cfg.Exchange.Connector.Name()
	}
	in.Counters.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tickertape_ingest_produce_duration_seconds", Help: "Time from handing an event to the producer to Kafka's acknowledgement (acks=all).",
		ConstLabels: prometheus.Labels{"exchange": in.exchange},
		Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	ec := cfg.Exchange
	ec.Handler = in.handle
	if ec.Logger == nil {
		ec.Logger = cfg.Logger
	}
	sup, err := exchange.NewSupervisor(ec)
	if err != nil {
		return nil, err
	}
	in.Supervisor = sup
	return in, nil
}

// Run creates the topics, registers the schemas, and streams until ctx is
// done (then it flushes what is buffered and returns nil) or a record cannot
// be delivered.
func (in *Ingest) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(in.cfg.Brokers...),
		kgo.DefaultProduceTopic(in.cfg.Topics.Events),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// No linger: a trade goes to the broker at once. Batching needs no
		// wait: franz-go keeps at most five produce requests in flight per
		// broker, so under load the next batch fills by itself while those
		// wait for their fsyncs.
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(2 * time.Minute),
		kgo.WithHooks(retryHook{&in.Counters}),
	}, in.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	in.cl = cl
	defer cl.Close()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := topics.Ensure(sctx, kadm.NewClient(cl), in.cfg.Topics, in.cfg.Partitions); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	for i, s := range []struct {
		name   string
		schema avro.Schema
	}{{market.TradeName, market.TradeSchema}, {market.TickerName, market.TickerSchema}, {market.BookUpdateName, market.BookUpdateSchema}} {
		id, err := in.cfg.Serde.Register(sctx, market.SubjectFor(in.cfg.Topics.Events, s.name), s.schema)
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		in.ids[i] = id
	}
	// Produce and the final Flush wait on pctx: a full producer buffer (the
	// brokers gone) would otherwise block the stop for ever. It ends
	// StopGrace after the run's context (or after the supervisor returned).
	grace := in.cfg.StopGrace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	var graceOnce sync.Once
	startGrace := func() { graceOnce.Do(func() { time.AfterFunc(grace, pcancel) }) }
	defer context.AfterFunc(ctx, startGrace)()
	in.pctx = pctx
	err = in.Supervisor.Run(ctx)
	startGrace()
	if ferr := cl.Flush(pctx); ferr != nil && err == nil {
		err = fmt.Errorf("ingest: stopping: the brokers did not take the last %d events within %s (%w); trades are backfilled from what Kafka holds on the next start",
			max(in.Counters.EventsIn.Load()-in.Counters.Produced.Load(), 0), grace, ferr)
	}
	if f := in.failure.Load(); f != nil {
		return *f
	}
	return err
}

// handle encodes one event and hands it to the producer. Delivery is
// asynchronous; the first failure stops the run.
func (in *Ingest) handle(ctx context.Context, ev exchange.Event) error {
	if f := in.failure.Load(); f != nil {
		return *f
	}
	in.Counters.EventsIn.Add(1)
	b := make([]byte, 0, 160) // the record owns its bytes until acknowledged
	var key []byte
	switch {
	case ev.Trade != nil:
		b = market.AppendTrade(serde.AppendHeader(b, in.ids[0]), ev.Trade)
		key = market.AppendEventKey(nil, ev.Trade.Exchange, ev.Trade.Symbol)
		in.Counters.Trades.Add(1)
	case ev.Ticker != nil:
		b = market.AppendTicker(serde.AppendHeader(b, in.ids[1]), ev.Ticker)
		key = market.AppendEventKey(nil, ev.Ticker.Exchange, ev.Ticker.Symbol)
		in.Counters.Tickers.Add(1)
	case ev.Book != nil:
		b = market.AppendBookUpdate(serde.AppendHeader(b, in.ids[2]), ev.Book)
		key = market.AppendEventKey(nil, ev.Book.Exchange, ev.Book.Symbol)
		in.Counters.Books.Add(1)
	default:
		return nil
	}
	start := time.Now()
	// Not ctx: a cancelled run still delivers what it accepted (Run flushes),
	// within the stop's grace.
	in.cl.Produce(in.pctx, &kgo.Record{Key: key, Value: b}, func(r *kgo.Record, err error) {
		if err != nil && in.pctx.Err() != nil {
			in.Counters.Failed.Add(1)
			return // the stop's grace ran out; Run reports it
		}
		if err != nil {
			in.Counters.Failed.Add(1)
			e := fmt.Errorf("ingest: Kafka refused an event after retries (the run stops rather than lose it): %w", err)
			in.failure.CompareAndSwap(nil, &e)
			return
		}
		in.Counters.Produced.Add(1)
		in.Counters.addLatency(time.Since(start))
	})
	return nil
}

// retryHook counts produce requests that failed on the wire; franz-go sends
// their records again (idempotently, so without duplicates).
type retryHook struct{ s *Counters }

func (h retryHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err != nil {
		h.s.Retried.Add(1)
	}
}

var _ kgo.HookBrokerWrite = retryHook{}
