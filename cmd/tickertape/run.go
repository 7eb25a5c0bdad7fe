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

	"github.com/tickertape/tickertape/book"
	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/pipeline"
	"github.com/tickertape/tickertape/stream"
)

func init() {
	register(&command{name: "run", summary: "the main job: live exchanges → Kafka → candles (starts the embedded stack unless --brokers)", run: func(a []string, o, e io.Writer) error { return runPipeline("run", a, o, e) }})
	register(&command{name: "demo", summary: "the main job offline, against local fakes of every exchange (synthetic data)", run: func(a []string, o, e io.Writer) error { return runPipeline("demo", a, o, e) }})
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
	eos        string // --exactly-once
	group      string
	noBooks    bool
	booksOnly  bool
	bookDepth  int
	booksGroup string
	partitions int
	fake       bool
	seed       uint64
	status     string
	sec        clientSecurity
	wsURLs     venueURLs
	restURLs   venueURLs
}

// venueURLs is a repeatable VENUE=URL flag (also comma-separated, as the
// environment variable gives it).
type venueURLs map[string]string

func (v *venueURLs) String() string {
	var parts []string
	for k, u := range *v {
		parts = append(parts, k+"="+u)
	}
	return strings.Join(parts, ",")
}

func (v *venueURLs) Set(s string) error {
	if *v == nil {
		*v = venueURLs{}
	}
	for _, part := range strings.Split(s, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || u == "" {
			return fmt.Errorf("%q: want VENUE=URL (binance=wss://stream.binance.us:9443)", part)
		}
		if _, err := exchange.Lookup(name); err != nil {
			return err
		}
		(*v)[name] = u
	}
	return nil
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
		def := "poloniex"
		if mode == "demo" {
			def = strings.Join(exchange.Names(), ",")
		}
		fs.StringVar(&f.exchange, "exchange", def, "exchanges to ingest from, comma-separated ("+strings.Join(exchange.Names(), ", ")+"; `tickertape exchanges` lists what each supports)")
		fs.StringVar(&f.symbols, "symbols", "", "symbols for every exchange, as BASE-QUOTE (BTC-USDT) or as the exchange spells them; empty: each exchange's defaults")
		fs.Var(&f.wsURLs, "ws-url", "VENUE=URL: override a venue's WebSocket base URL (testnets, Binance.US, proxies); repeatable")
		fs.Var(&f.restURLs, "rest-url", "VENUE=URL: override a venue's REST base URL; repeatable")
	}
	if mode == "ingest" {
		fs.BoolVar(&f.fake, "fake", false, "ingest from the exchanges' local fakes (synthetic data) instead of the live ones")
	}
	if mode == "demo" || mode == "ingest" {
		fs.Uint64Var(&f.seed, "seed", 1, "seed of the fake exchange's synthetic market")
	}
	if mode != "ingest" {
		fs.StringVar(&f.intervals, "intervals", "1s,1m,5m,1h", "candle intervals")
		fs.DurationVar(&f.lateness, "lateness", 5*time.Second, "how late (in exchange time) a trade may arrive and still count in its candle")
		fs.DurationVar(&f.idleAfter, "idle-after", 30*time.Second, "a symbol without trades this long has its open candles closed by the clock")
		fs.StringVar(&f.group, "group", "tickertape-candles", "consumer group of the candle processor")
		fs.StringVar(&f.eos, "exactly-once", "auto", "candles and books in transactions, read by read_committed consumers: auto (when the brokers support transactions), on, or off (a crash may repeat a final candle or a book, identical)")
		fs.BoolVar(&f.noBooks, "no-books", false, "do not run the book builder (verified books into market.books, best bid/ask into market.bbo)")
		fs.IntVar(&f.bookDepth, "book-depth", book.DefaultDepth, "levels a side of each book in market.books")
		fs.StringVar(&f.booksGroup, "books-group", book.DefaultGroup, "consumer group of the book builder")
	}
	if mode == "process" {
		fs.BoolVar(&f.booksOnly, "books-only", false, "run only the book builder (no candles)")
	}
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of the market topics when they are created")
	switch mode {
	case "ingest":
		fs.StringVar(&f.stack.httpAddr, "http-addr", "127.0.0.1:8082", "address of the dashboard and Prometheus /metrics; empty turns it off")
	case "process":
		fs.StringVar(&f.stack.httpAddr, "http-addr", "127.0.0.1:8083", "address of the dashboard and Prometheus /metrics; empty turns it off")
	}
	f.sec.register(fs)
	fs.StringVar(&f.status, "status", "auto", "live status on stderr: auto (a live panel on a terminal, a log line every 10s otherwise), log, or off")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if mode == "demo" {
		f.fake = true
	}
	if f.noBooks && f.booksOnly {
		return usageError{errors.New("--no-books and --books-only exclude each other")}
	}
	if mode != "ingest" && (f.bookDepth < 1 || f.bookDepth > 5000) {
		return usageError{fmt.Errorf("--book-depth %d: give 1 to 5000 levels", f.bookDepth)}
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
	eos, err := stream.ParseEOSMode(f.eos)
	if err != nil {
		return usageError{fmt.Errorf("--exactly-once: %v", err)}
	}
	var symbols []string
	for _, s := range strings.Split(f.symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			symbols = append(symbols, strings.ToUpper(s))
		}
	}
	var venues []pipeline.VenueConfig
	if mode != "process" {
		seen := map[string]bool{}
		for i, name := range strings.Split(f.exchange, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			reg, err := exchange.Lookup(name)
			if err != nil {
				return usageError{fmt.Errorf("--exchange %q: known exchanges are %s", name, strings.Join(exchange.Names(), ", "))}
			}
			syms := symbols
			if len(syms) == 0 {
				conn, err := reg.New(exchange.Options{})
				if err != nil {
					return err
				}
				syms = conn.Info().DefaultSymbols
			}
			venues = append(venues, pipeline.VenueConfig{Name: name, Symbols: syms, Fake: f.fake, Seed: f.seed + uint64(i),
				WSURL: f.wsURLs[name], RESTURL: f.restURLs[name]})
		}
		if len(venues) == 0 {
			return usageError{errors.New("--exchange is empty")}
		}
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
		var err error
		if cfg.KafkaOpts, err = f.sec.kafkaOpts(); err != nil {
			return err
		}
		if cfg.RegistryOpts, err = f.sec.registryOpts(f.registry); err != nil {
			return err
		}
	}
	cfg.Logger = logger
	if mode != "process" {
		cfg.Venues = venues
	}
	if mode != "ingest" && !f.booksOnly {
		cfg.Candles = &pipeline.CandleConfig{Group: f.group, Intervals: intervals, Lateness: f.lateness, IdleAfter: f.idleAfter, ExactlyOnce: eos}
	}
	if mode != "ingest" && !f.noBooks {
		cfg.Books = &pipeline.BooksConfig{Group: f.booksGroup, Depth: f.bookDepth, ExactlyOnce: eos}
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		var unknownVenue *pipeline.UnknownVenueError
		if errors.As(err, &unknownVenue) {
			return usageError{fmt.Errorf("--exchange %q: known exchanges are %s", unknownVenue.Name, strings.Join(unknownVenue.Known, ", "))}
		}
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(cfg.Brokers) > 0 { // an existing cluster: say now if it is not there
		if err := reachBrokers(ctx, cfg.Brokers, cfg.KafkaOpts...); err != nil {
			return err
		}
		if err := reachRegistry(ctx, cfg.RegistryURL, cfg.RegistryOpts...); err != nil {
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
		kafka := info.Brokers[0]
		if st := p.Stack(); st != nil && st.Secured() {
			kafka = strings.Join(st.ListenerAddrs(), ", ") + "; authorizer on"
		}
		fmt.Fprintf(stdout, "kafka     %s (embedded, data in %s, ready in %s)\nregistry  %s\n", kafka, info.StackDataDir, info.StackReadyIn.Round(time.Millisecond), info.RegistryURL)
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
	if info.CandleGroup != "" || len(info.Venues) > 0 {
		fmt.Fprintf(stdout, "topics    %s → %s (late: %s, dead letters: %s)\n", info.Topics[0], info.Topics[1], info.Topics[2], info.Topics[3])
	}
	if info.BooksGroup != "" {
		fmt.Fprintf(stdout, "books     %s → %s, %s (`tickertape book --exchange E SYMBOL` shows one)\n", info.Topics[0], info.BooksTopic, info.BBOTopic)
	}
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
	return stackError(err)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func pipelineHelp(mode string) (string, string) {
	switch mode {
	case "run":
		return "The main job: streams trades, tickers and book updates from live exchanges (Poloniex by\ndefault; --exchange binance,bitstamp,bybit,coinbase,kraken,okx,poloniex runs several in one process, each under its own\nsupervised connections) into market.events (Avro, schemas in the registry) and computes\ncandles (OHLCV + VWAP) into market.candles. Without --brokers it starts the embedded broker\nand registry (like serve). URL overrides also come from TICKERTAPE_WS_URL and\nTICKERTAPE_REST_URL (VENUE=URL,VENUE=URL).",
			`  tickertape run
  tickertape run --exchange binance,bitstamp,bybit,coinbase,kraken,okx,poloniex
  tickertape run --exchange binance --symbols BTC-USDT,SOL-USDT --intervals 1m,5m
  tickertape run --exchange binance --ws-url binance=wss://stream.binance.us:9443 --rest-url binance=https://api.binance.us
  tickertape run --brokers kafka1:9092,kafka2:9092 --registry http://registry:8081
  tickertape consume -t market.candles --filter final=true     # in another terminal`
	case "demo":
		return "Runs the whole pipeline offline: local fakes of every venue (Binance, Bitstamp, Bybit, Coinbase,\nKraken, OKX, Poloniex: seeded synthetic markets, clearly not real data: their events say binance-synthetic and so on)\nfeed the real connectors, the embedded broker and registry, and the candle processor.\nData goes to a temporary directory unless --data-dir is given.",
			`  tickertape demo
  tickertape demo --exchange poloniex --intervals 1s,1m --seed 7
  tickertape consume -t market.events --max 5                   # in another terminal
  kcat -b 127.0.0.1:9092 -L`
	case "ingest":
		return "Ingests exchanges into market.events, for running ingest and processing as\nseparate services against a running broker and registry (tickertape serve, or any\nKafka cluster and Confluent-compatible registry).",
			`  tickertape ingest --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081
  tickertape ingest --exchange binance,coinbase --symbols BTC-USDT
  tickertape ingest --fake --exchange binance,bitstamp,bybit,coinbase,kraken,okx,poloniex   # synthetic data from local fakes`
	}
	return "Computes candles from market.events into market.candles, and verified order books into\nmarket.books and best bid/ask (per venue and consolidated) into market.bbo, as consumer\ngroups: run several to share the partitions.",
		`  tickertape process --brokers 127.0.0.1:9092 --registry http://127.0.0.1:8081
  tickertape process --intervals 1m,1h --lateness 10s
  tickertape process --books-only --book-depth 20     # only the book builder
  tickertape process --no-books                       # only candles`
}
