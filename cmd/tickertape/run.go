package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/stream"
)

func init() {
	register(&command{name: "run", summary: "the main job: live Poloniex → Kafka → candles (starts the embedded stack unless --brokers)", run: func(a []string, o, e io.Writer) error { return runPipeline("run", a, o, e) }})
	register(&command{name: "demo", summary: "the main job offline, against a local fake Poloniex (synthetic data)", run: func(a []string, o, e io.Writer) error { return runPipeline("demo", a, o, e) }})
	register(&command{name: "ingest", summary: "the ingest half of run: exchange → market.events", run: func(a []string, o, e io.Writer) error { return runPipeline("ingest", a, o, e) }})
	register(&command{name: "process", summary: "the processing half of run: market.events → market.candles", run: func(a []string, o, e io.Writer) error { return runPipeline("process", a, o, e) }})
}

// pipelineFlags are the flags of run, demo, ingest and process.
type pipelineFlags struct {
	stack      stackFlags
	brokers    string
	registry   string
	exchange   string
	symbols    string
	intervals  string
	lateness   time.Duration
	idleAfter  time.Duration
	group      string
	partitions int
	fake       bool
	seed       uint64
	status     string
}

func runPipeline(mode string, args []string, stdout, stderr io.Writer) error {
	var f pipelineFlags
	usage, examples := pipelineHelp(mode)
	fs := newFlagSet(mode+" [flags]", usage, examples, stderr)
	embedded := mode == "run" || mode == "demo"
	if embedded {
		f.stack.register(fs)
	}
	if mode == "demo" {
		d := fs.Lookup("data-dir")
		d.DefValue, d.Usage = "", d.Usage+" (default: a temporary directory, removed on exit)"
	}
	defBrokers, defRegistry := "", ""
	if !embedded {
		defBrokers, defRegistry = "127.0.0.1:9092", "http://127.0.0.1:8081"
	}
	fs.StringVar(&f.brokers, "brokers", defBrokers, "Kafka bootstrap addresses (host:port,...) of an existing cluster"+map[bool]string{true: "; empty starts the embedded stack", false: ""}[embedded])
	fs.StringVar(&f.registry, "registry", defRegistry, "schema registry URL"+map[bool]string{true: " (required with --brokers)", false: ""}[embedded])
	if mode != "process" {
		fs.StringVar(&f.exchange, "exchange", "poloniex", "exchange to ingest from (poloniex)")
		fs.StringVar(&f.symbols, "symbols", "BTC_USDT,ETH_USDT", "symbols, as the exchange spells them")
	}
	if mode == "ingest" {
		fs.BoolVar(&f.fake, "fake", false, "ingest from a local fake Poloniex (synthetic data) instead of the live one")
	}
	if mode == "demo" || mode == "ingest" {
		fs.Uint64Var(&f.seed, "seed", 1, "seed of the fake exchange's synthetic market")
	}
	if mode != "ingest" {
		fs.StringVar(&f.intervals, "intervals", "1s,1m,5m,1h", "candle intervals")
		fs.DurationVar(&f.lateness, "lateness", 5*time.Second, "how late (in exchange time) a trade may arrive and still count in its candle")
		fs.DurationVar(&f.idleAfter, "idle-after", 30*time.Second, "a symbol without trades this long has its open candles closed by the clock")
		fs.StringVar(&f.group, "group", "tickertape-candles", "consumer group of the candle processor")
	}
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of the market topics when they are created")
	switch mode {
	case "ingest":
		fs.StringVar(&f.stack.httpAddr, "http-addr", "127.0.0.1:8082", "address of the dashboard and Prometheus /metrics; empty turns it off")
	case "process":
		fs.StringVar(&f.stack.httpAddr, "http-addr", "127.0.0.1:8083", "address of the dashboard and Prometheus /metrics; empty turns it off")
	}
	fs.StringVar(&f.status, "status", "auto", "live status on stderr: auto (a live panel on a terminal, a log line every 10s otherwise), log, or off")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if mode == "demo" {
		f.fake = true
	}
	if embedded && f.brokers != "" && f.registry == "" {
		return usageError{errors.New("--brokers needs --registry (the URL of a Confluent-compatible schema registry)")}
	}
	var intervals []stream.Interval
	if mode != "ingest" {
		var err error
		if intervals, err = stream.ParseIntervals(f.intervals); err != nil {
			return usageError{fmt.Errorf("--intervals: %v", err)}
		}
	}
	var symbols []string
	for _, s := range strings.Split(f.symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			symbols = append(symbols, strings.ToUpper(s))
		}
	}
	if mode != "process" && len(symbols) == 0 {
		return usageError{errors.New("--symbols is empty")}
	}

	cfg := pipeline.Config{Partitions: int32(f.partitions)}
	var logger *slog.Logger
	if embedded && f.brokers == "" {
		if mode == "demo" && !flagSet(fs, "data-dir") && os.Getenv("TICKERTAPE_DATA_DIR") == "" {
			dir, err := os.MkdirTemp("", "tickertape-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			f.stack.dataDir = dir
		}
		var err error
		if cfg.Stack, logger, err = f.stack.config(stderr); err != nil {
			return err
		}
	} else {
		if !embedded && f.registry == "" {
			return usageError{errors.New("no schema registry: give --registry")}
		}
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		cfg.Brokers, cfg.RegistryURL = strings.Split(f.brokers, ","), f.registry
	}
	cfg.Logger = logger
	if mode != "process" {
		cfg.Venues = []pipeline.VenueConfig{{Name: f.exchange, Symbols: symbols, Fake: f.fake, Seed: f.seed}}
	}
	if mode != "ingest" {
		cfg.Candles = &pipeline.CandleConfig{Group: f.group, Intervals: intervals, Lateness: f.lateness, IdleAfter: f.idleAfter}
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		var unknownVenue *pipeline.UnknownVenueError
		if errors.As(err, &unknownVenue) {
			return usageError{fmt.Errorf("--exchange %q: only %s is supported so far", unknownVenue.Name, strings.Join(unknownVenue.Known, ", "))}
		}
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(cfg.Brokers) > 0 { // an existing cluster: say now if it is not there
		if err := reachBrokers(ctx, cfg.Brokers); err != nil {
			return err
		}
		if err := reachRegistry(ctx, cfg.RegistryURL); err != nil {
			return err
		}
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case err := <-done:
		return pipelineError(err)
	case <-p.Ready():
	}
	info := p.Info()
	for _, v := range info.Venues {
		if v.Synthetic {
			fmt.Fprintln(stdout, "exchange ", v.Description, "— SYNTHETIC DATA, not a real market")
		}
	}
	if info.Embedded {
		fmt.Fprintf(stdout, "kafka     %s (embedded, data in %s, ready in %s)\nregistry  %s\n", info.Brokers[0], info.StackDataDir, info.StackReadyIn.Round(time.Millisecond), info.RegistryURL)
	}
	dash, stopHTTP, err := startDashboard(p, f.stack.httpAddr, f.intervals, logger, stdout)
	if err != nil {
		stop()
		<-done
		return err
	}
	defer stopHTTP()
	dashDone := make(chan struct{})
	go func() {
		defer close(dashDone)
		if dash != nil {
			dash.Run(ctx)
		}
	}()
	defer func() { stop(); <-dashDone }() // ends the dashboard's streams before its server closes
	fmt.Fprintf(stdout, "topics    %s → %s (late: %s, dead letters: %s)\n", info.Topics[0], info.Topics[1], info.Topics[2], info.Topics[3])
	fmt.Fprintln(stdout, "running; Ctrl-C stops (everything accepted is delivered first)")
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	stopStatus := startStatus(f.status, stderr, p)
	err = <-done
	stopStatus()
	if err != nil {
		return pipelineError(err)
	}
	logger.Info("stopped cleanly")
	return nil
}

// pipelineError says what to do next about a venue that cannot be used.
func pipelineError(err error) error {
	var unreachable *pipeline.UnreachableError
	var unknownSym *pipeline.UnknownSymbolError
	switch {
	case errors.As(err, &unreachable):
		return fmt.Errorf("%v.\nNo network? `tickertape demo` runs the same pipeline offline against a local fake exchange", err)
	case errors.As(err, &unknownSym):
		return usageError{err}
	}
	return err
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func pipelineHelp(mode string) (string, string) {
	switch mode {
	case "run":
		return "The main job: streams trades, tickers and book updates from live Poloniex into\nmarket.events (Avro, schemas in the registry) and computes candles (OHLCV + VWAP) into\nmarket.candles. Without --brokers it starts the embedded broker and registry (like serve).",
			`  tickertape run
  tickertape run --symbols BTC_USDT,ETH_USDT,SOL_USDT --intervals 1m,5m
  tickertape run --brokers kafka1:9092,kafka2:9092 --registry http://registry:8081
  tickertape consume -t market.candles --filter final=true     # in another terminal`
	case "demo":
		return "Runs the whole pipeline offline: a local fake Poloniex (a seeded synthetic market,\nclearly not real data) feeds the real connector, the embedded broker and registry, and\nthe candle processor. Data goes to a temporary directory unless --data-dir is given.",
			`  tickertape demo
  tickertape demo --intervals 1s,1m --seed 7
  tickertape consume -t market.events --max 5                   # in another terminal
  kcat -b 127.0.0.1:9092 -L`
	case "ingest":
		return "Ingests one exchange into market.events, for running ingest and processing as\nseparate services against a running broker and registry (tickertape serve, or any\nKafka cluster and Confluent-compatible registry).",
			`  tickertape ingest --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081
  tickertape ingest --fake          # synthetic data from a local fake Poloniex`
	}
	return "Computes candles from market.events into market.candles as a consumer group: run\nseveral to share the partitions.",
		`  tickertape process --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081
  tickertape process --intervals 1m,1h --lateness 10s`
}
