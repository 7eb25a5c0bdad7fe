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
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/poloniex"
	"github.com/tickertape/tickertape/ingest"
	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/serde"
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
	if f.exchange != "" && f.exchange != "poloniex" {
		return usageError{fmt.Errorf("--exchange %q: only poloniex is supported so far", f.exchange)}
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

	var logger *slog.Logger
	var stackCfg app.Config
	if embedded {
		if mode == "demo" && !flagSet(fs, "data-dir") && os.Getenv("TICKERTAPE_DATA_DIR") == "" {
			dir, err := os.MkdirTemp("", "tickertape-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			f.stack.dataDir = dir
		}
		var err error
		if stackCfg, logger, err = f.stack.config(stderr); err != nil {
			return err
		}
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The exchange.
	var conn *poloniex.Connector
	if mode != "process" {
		if f.fake {
			fake, err := poloniex.NewFake(poloniex.FakeConfig{Seed: f.seed})
			if err != nil {
				return err
			}
			defer fake.Close()
			conn = poloniex.New(fake.Config())
			fmt.Fprintln(stdout, "exchange  fake Poloniex on", fake.RESTURL(), "— SYNTHETIC DATA, not a real market")
		} else {
			conn = poloniex.New(poloniex.Config{})
			if err := checkLive(ctx, conn, symbols); err != nil {
				return err
			}
		}
	}

	// Kafka and the registry: given, or the embedded stack.
	brokers, registryURL := strings.Split(f.brokers, ","), f.registry
	var stack *app.Stack
	if embedded && f.brokers == "" {
		start := time.Now()
		var err error
		stack, err = app.Start(stackCfg)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			stack.Close(sctx)
		}()
		brokers, registryURL = []string{stack.KafkaAddr()}, stack.RegistryURL()
		fmt.Fprintf(stdout, "kafka     %s (embedded, data in %s, ready in %s)\nregistry  %s\n", stack.KafkaAddr(), f.stack.dataDir, time.Since(start).Round(time.Millisecond), registryURL)
	}
	if registryURL == "" {
		return usageError{errors.New("no schema registry: give --registry (or, for the embedded one, leave --brokers empty)")}
	}
	srcl, err := sr.NewClient(sr.URLs(registryURL))
	if err != nil {
		return usageError{fmt.Errorf("--registry %q: %v", registryURL, err)}
	}
	names := topics.Default

	var in *ingest.Ingest
	var proc *stream.Processor
	if mode != "process" {
		if in, err = ingest.New(ingest.Config{Brokers: brokers, Serde: serde.New(srcl), Topics: names, Partitions: int32(f.partitions), Logger: logger,
			Exchange: exchange.Config{Connector: conn, Subscription: exchange.Subscription{Symbols: symbols, Trades: true, Tickers: true, Books: true}}}); err != nil {
			return err
		}
	}
	if mode != "ingest" {
		if proc, err = stream.New(stream.Config{Brokers: brokers, Serde: serde.New(srcl), Topics: names, Partitions: int32(f.partitions), Group: f.group,
			Intervals: intervals, Lateness: f.lateness, IdleAfter: f.idleAfter, Logger: logger}); err != nil {
			return err
		}
	}
	dash, stopHTTP, err := startDashboard(stack, f.stack.httpAddr, brokers, srcl, names, f.intervals, logger, stdout, in, proc)
	if err != nil {
		return err
	}
	defer stopHTTP()
	fmt.Fprintf(stdout, "topics    %s → %s (late: %s, dead letters: %s)\n", names.Events, names.Candles, names.Late, names.DeadLetter)
	fmt.Fprintln(stdout, "running; Ctrl-C stops (everything accepted is delivered first)")
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, r := range []func(context.Context) error{
		func(c context.Context) error {
			if in == nil {
				return nil
			}
			return in.Run(c)
		},
		func(c context.Context) error {
			if proc == nil {
				return nil
			}
			return proc.Run(c)
		},
		func(c context.Context) error {
			if dash == nil {
				return nil
			}
			return dash.Run(c)
		},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r(runCtx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	stopStatus := startStatus(runCtx, f.status, stderr, in, proc, brokers, f.group, f.fake)
	wg.Wait()
	stopStatus()
	select {
	case err := <-errc:
		return err
	default:
		logger.Info("stopped cleanly")
		return nil
	}
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// checkLive makes sure live Poloniex answers and knows the symbols.
func checkLive(ctx context.Context, conn *poloniex.Connector, symbols []string) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	markets, err := conn.Markets(cctx)
	if err != nil {
		return fmt.Errorf("cannot reach Poloniex (%v).\nNo network? `tickertape demo` runs the same pipeline offline against a local fake exchange", err)
	}
	known := map[string]bool{}
	for _, m := range markets {
		known[m.Symbol] = true
	}
	for _, s := range symbols {
		if !known[s] {
			return usageError{fmt.Errorf("Poloniex has no symbol %q (symbols look like BTC_USDT)", s)}
		}
	}
	return nil
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

// startStatus shows progress on stderr until the returned func is called.
func startStatus(ctx context.Context, mode string, w io.Writer, in *ingest.Ingest, proc *stream.Processor, brokers []string, group string, synthetic bool) func() {
	if mode == "off" {
		return func() {}
	}
	tty := false
	if f, ok := w.(*os.File); ok && mode == "auto" {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := 10 * time.Second
	if tty {
		every = time.Second
	}
	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	adm := kadm.NewClient(cl)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cl.Close()
		t := time.NewTicker(every)
		defer t.Stop()
		var prev [3]int64
		prevAt := time.Now()
		lines := 0
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			secs := time.Since(prevAt).Seconds()
			prevAt = time.Now()
			var b strings.Builder
			if in != nil {
				cur := [3]int64{in.Stats.Trades.Load(), in.Stats.Tickers.Load(), in.Stats.Books.Load()}
				p50, p99 := in.Stats.ProduceLatency()
				fmt.Fprintf(&b, "ingest   %.0f trades/s  %.0f tickers/s  %.0f book updates/s  produce p50 %s p99 %s  retries %d  reconnects %d  gaps %d  backfilled %d\n",
					float64(cur[0]-prev[0])/secs, float64(cur[1]-prev[1])/secs, float64(cur[2]-prev[2])/secs,
					p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), in.Stats.Retried.Load(), max(in.Sup.Counters.Connects.Load()-1, 0),
					in.Sup.Counters.Gaps.Load(), in.Sup.Counters.BackfilledTrades.Load())
				prev = cur
			}
			if proc != nil {
				lag := int64(-1)
				lctx, cancel := context.WithTimeout(ctx, time.Second)
				if lags, err := adm.Lag(lctx, group); err == nil {
					if l, ok := lags[group]; ok && l.Error() == nil {
						lag = l.Lag.Total()
					}
				}
				cancel()
				fmt.Fprintf(&b, "process  %d trades  %d final candles  %d late  %d dead letters  lag %d\n",
					proc.Stats.Trades.Load(), proc.Stats.FinalCandles.Load(), proc.Stats.Late.Load(), proc.Stats.DeadLettered.Load(), lag)
				latest := proc.Stats.Latest()
				var keys []string
				for k := range latest {
					if strings.HasSuffix(k, ":1m") {
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				for _, k := range keys {
					c := latest[k]
					label := ""
					if synthetic {
						label = "  (synthetic)"
					}
					state := "open"
					if c.Final {
						state = "final"
					}
					fmt.Fprintf(&b, "  1m %-10s %s  O %s H %s L %s C %s  vol %s  vwap %s  %d trades  %s%s\n", c.Symbol,
						time.UnixMicro(c.OpenTimeUs).UTC().Format("15:04"), c.Open, c.High, c.Low, c.Close, c.Volume, c.VWAP, c.TradeCount, state, label)
				}
			}
			if tty {
				if lines > 0 {
					fmt.Fprintf(w, "\033[%dA\033[J", lines)
				}
				out := b.String()
				lines = strings.Count(out, "\n")
				fmt.Fprint(w, out)
			} else {
				fmt.Fprint(w, time.Now().UTC().Format("15:04:05 ")+strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "\n", "\n         ")+"\n")
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
