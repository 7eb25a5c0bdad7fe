package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/stream"
)

// Config configures a Pipeline. The zero value of every field is its
// default, except that there must be something to run: at least one venue
// or the candle processor.
type Config struct {
	// Brokers and RegistryURL name an existing Kafka cluster and a
	// Confluent-compatible schema registry. When Brokers is empty, Run
	// starts the embedded stack configured by Stack and uses it; a
	// RegistryURL is then not allowed.
	Brokers     []string
	RegistryURL string
	Stack       app.Config

	// Venues are the exchanges to ingest from, each under its own
	// supervisor; none means no ingest (the processing half only).
	Venues []VenueConfig
	// Factory builds a venue's connector from its config; nil is
	// DefaultFactory.
	Factory Factory

	// Candles configures the candle processor; nil means none (the ingest
	// half only).
	Candles *CandleConfig
	// Books configures the book builder (market.books, market.bbo); nil
	// means none.
	Books *BooksConfig

	Topics     topics.Names // empty names take topics.Default
	Partitions int32        // of topics created on first use; 0 is 6
	// SampleEvery is how often the rates and the consumer lag in Snapshot
	// are measured; 0 is one second.
	SampleEvery time.Duration
	KafkaOpts   []kgo.Opt // added to every Kafka client the pipeline makes
	// RegistryOpts are added to the registry client (TLS, basic auth) of
	// RegistryURL; the embedded stack's registry needs none.
	RegistryOpts []sr.ClientOpt
	Logger       *slog.Logger
	// StopGrace bounds how long a stop waits for the brokers to take the
	// events ingest accepted (0 is 30 s); see ingest.Config.StopGrace.
	StopGrace time.Duration
}

// VenueConfig is one venue to ingest from.
type VenueConfig struct {
	// Name selects the venue ("poloniex"); the Factory builds it.
	Name string
	// Symbols as the venue spells them (BTC_USDT) or normalized (BTC-USDT);
	// the venue's market list resolves them before streaming starts.
	Symbols []string
	// WSURL and RESTURL override the venue's live endpoints (testnets,
	// regional endpoints such as Binance.US, proxies); empty keeps them.
	WSURL, RESTURL string
	// Fake ingests from the venue's local fake exchange (synthetic data)
	// instead of the live one; Seed seeds its market.
	Fake bool
	Seed uint64
	// Fake exchange knobs (zero: the fake's defaults).
	FakeTick          time.Duration
	FakeTradesPerTick int
	// FakeOnTrade, if set, is called for every trade the fake makes, with
	// the exact time (benchmarks measure latency from it; see
	// exchange.FakeOptions.OnTrade).
	FakeOnTrade        func(venueSymbol string, id int64, made time.Time)
	NoTickers, NoBooks bool // trades are always ingested
	// Connector, when set, is used as is instead of one from the Factory
	// (tests with their own fake).
	Connector exchange.Connector
	// Supervisor tunes the watchdog, backoff, backfill and de-duplication;
	// its Connector, Subscription and Handler are filled in by the pipeline.
	Supervisor exchange.SupervisorConfig
}

// CandleConfig configures the candle processor; zero values take the
// defaults of stream.Config.
type CandleConfig struct {
	Group       string
	Intervals   []stream.Interval
	Lateness    time.Duration
	UpdateEvery time.Duration
	NoUpdates   bool // only final candles, no updates of open windows
	IdleAfter   time.Duration
	KafkaOpts   []kgo.Opt // for the processor's clients only
	// ExactlyOnce, TransactionalID and TransactionTimeout: see stream.Config
	// (auto, the default, uses transactions when the brokers support them).
	ExactlyOnce        stream.EOSMode
	TransactionalID    string
	TransactionTimeout time.Duration
}

// BooksConfig configures the book builder; zero values take the defaults
// of book.Config (depth 50, every changed book once a second).
type BooksConfig struct {
	Group     string
	Depth     int
	Every     time.Duration
	KafkaOpts []kgo.Opt // for the builder's clients only
	// ExactlyOnce, TransactionalID and TransactionTimeout: see book.Config
	// (auto, the default, uses transactions when the brokers support them).
	ExactlyOnce        book.EOSMode
	TransactionalID    string
	TransactionTimeout time.Duration
}

// Validate reports every problem of cfg at once.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Venues) == 0 && cfg.Candles == nil && cfg.Books == nil {
		errs = append(errs, errors.New("pipeline: nothing to run: no venue, no candle processor and no book builder"))
	}
	if len(cfg.Brokers) == 0 && cfg.RegistryURL != "" {
		errs = append(errs, errors.New("pipeline: RegistryURL without Brokers: the embedded stack has its own registry"))
	}
	if len(cfg.Brokers) > 0 && cfg.RegistryURL == "" {
		errs = append(errs, errors.New("pipeline: Brokers needs RegistryURL (a Confluent-compatible schema registry)"))
	}
	for i, b := range cfg.Brokers {
		if b == "" {
			errs = append(errs, fmt.Errorf("pipeline: Brokers[%d] is empty", i))
		}
	}
	if cfg.Partitions < 0 {
		errs = append(errs, fmt.Errorf("pipeline: Partitions %d is negative", cfg.Partitions))
	}
	if cfg.SampleEvery < 0 {
		errs = append(errs, fmt.Errorf("pipeline: SampleEvery %s is negative", cfg.SampleEvery))
	}
	seen := map[string]bool{}
	for i, v := range cfg.Venues {
		name := v.Name
		if name == "" && v.Connector != nil {
			name = v.Connector.Name()
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("pipeline: venue %d has no name", i))
		} else if seen[name] {
			errs = append(errs, fmt.Errorf("pipeline: venue %q is listed twice", name))
		}
		seen[name] = true
		if len(v.Symbols) == 0 {
			errs = append(errs, fmt.Errorf("pipeline: venue %q has no symbols", name))
		}
		for _, s := range v.Symbols {
			if s == "" {
				errs = append(errs, fmt.Errorf("pipeline: venue %q has an empty symbol", name))
			}
		}
	}
	if c := cfg.Candles; c != nil {
		if c.Lateness < 0 || c.UpdateEvery < 0 || c.IdleAfter < 0 {
			errs = append(errs, errors.New("pipeline: Candles.Lateness, UpdateEvery and IdleAfter may not be negative"))
		}
	}
	if b := cfg.Books; b != nil {
		if b.Depth < 0 || b.Depth > 5000 {
			errs = append(errs, fmt.Errorf("pipeline: Books.Depth %d is outside 1..5000", b.Depth))
		}
		if b.Every < 0 {
			errs = append(errs, errors.New("pipeline: Books.Every may not be negative"))
		}
	}
	return errors.Join(errs...)
}
