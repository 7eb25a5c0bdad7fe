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

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/web"
	"github.com/twmb/franz-go/pkg/sr"
)

func init() {
	register(&command{name: "serve", summary: "run the embedded Kafka broker and schema registry", run: runServe})
}

// stackFlags are the flags of every command that can start the embedded stack.
type stackFlags struct {
	dataDir, kafkaAddr, registryAddr, httpAddr string
	advertised                                 string
	fsync                                      string
	noAutoCreate                               bool
	partitions                                 int
	maxRequestBytes                            int
	logLevel                                   string
	groupDelay                                 time.Duration
	maxConns, maxConnsPerIP                    int
	idle                                       time.Duration
	queuedBytes                                int64
}

func (f *stackFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory for partition logs and broker state")
	fs.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "address of the Kafka protocol listener")
	fs.StringVar(&f.registryAddr, "registry-addr", "127.0.0.1:8081", "address of the schema registry (Confluent REST API); empty turns it off")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP endpoint: the dashboard (/), Prometheus /metrics and /healthz; empty turns it off")
	fs.StringVar(&f.advertised, "advertised-addr", "", "host:port that clients are told to connect to (default: the Kafka listener's address)")
	fs.StringVar(&f.fsync, "fsync", "always", "when acked data is forced to disk: always (acks wait for fsync, group commit), interval=<duration> (e.g. interval=100ms), or never")
	fs.BoolVar(&f.noAutoCreate, "no-auto-create-topics", false, "refuse produce and metadata requests for unknown topics instead of creating them")
	fs.IntVar(&f.partitions, "default-partitions", 1, "partitions of auto-created topics")
	fs.IntVar(&f.maxRequestBytes, "max-request-bytes", 100<<20, "largest request frame accepted (socket.request.max.bytes)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error; debug logs every Kafka request (API, version, client id, error code; at most 100 lines a second)")
	fs.IntVar(&f.maxConns, "max-connections", 0, "most client connections open at once; at the cap new ones wait to be accepted (Kafka: max.connections); 0 for no cap")
	fs.IntVar(&f.maxConnsPerIP, "max-connections-per-ip", 0, "most client connections from one address; more are closed at once (Kafka: max.connections.per.ip); 0 for no cap")
	fs.DurationVar(&f.idle, "connections-max-idle", 10*time.Minute, "close a client connection that sends nothing for this long (Kafka: connections.max.idle.ms); 0 for never")
	fs.Int64Var(&f.queuedBytes, "queued-max-request-bytes", 256<<20, "bytes of requests read but not yet answered, across all connections; a frame that does not fit waits (Kafka: queued.max.request.bytes); 0 for no bound")
	fs.DurationVar(&f.groupDelay, "group-initial-rebalance-delay", 300*time.Millisecond, "how long a consumer group waits for more members before its first generation (Kafka: group.initial.rebalance.delay.ms, 3s); 0 for none")
}

func (f *stackFlags) config(stderr io.Writer) (app.Config, *slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return app.Config{}, nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", f.logLevel)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	policy, err := commitlog.ParseFsyncPolicy(f.fsync)
	if err != nil {
		return app.Config{}, nil, usageError{fmt.Errorf("--fsync: %v", err)}
	}
	if f.partitions < 1 {
		return app.Config{}, nil, usageError{fmt.Errorf("--default-partitions %d: must be at least 1", f.partitions)}
	}
	if f.maxRequestBytes < 1024 || f.maxRequestBytes > 1<<30 {
		return app.Config{}, nil, usageError{fmt.Errorf("--max-request-bytes %d: must be between 1024 and 1073741824", f.maxRequestBytes)}
	}
	bc := broker.Config{
		DataDir:           f.dataDir,
		Fsync:             policy,
		DisableAutoCreate: f.noAutoCreate,
		DefaultPartitions: int32(f.partitions),
		MaxRequestBytes:   int32(f.maxRequestBytes),
		Logger:            logger,
	}
	if f.maxConns < 0 || f.maxConnsPerIP < 0 || f.idle < 0 || f.queuedBytes < 0 {
		return app.Config{}, nil, usageError{fmt.Errorf("--max-connections, --max-connections-per-ip, --connections-max-idle and --queued-max-request-bytes take 0 (no limit) or a positive value")}
	}
	if f.queuedBytes > 0 && f.queuedBytes < int64(f.maxRequestBytes) {
		return app.Config{}, nil, usageError{fmt.Errorf("--queued-max-request-bytes %d is smaller than --max-request-bytes %d: the largest request could never be read", f.queuedBytes, f.maxRequestBytes)}
	}
	bc.MaxConnections, bc.MaxConnectionsPerIP = f.maxConns, f.maxConnsPerIP
	bc.ConnectionsMaxIdle, bc.QueuedMaxRequestBytes = f.idle, f.queuedBytes
	if f.idle == 0 {
		bc.ConnectionsMaxIdle = -1 // never
	}
	if f.queuedBytes == 0 {
		bc.QueuedMaxRequestBytes = -1 // unlimited
	}
	bc.GroupInitialRebalanceDelay, bc.NoGroupInitialRebalanceDelay = max(f.groupDelay, 0), f.groupDelay <= 0
	if f.advertised != "" {
		host, port, ok := strings.Cut(f.advertised, ":")
		var p int
		if _, err := fmt.Sscanf(port, "%d", &p); !ok || err != nil || host == "" || p <= 0 || p > 65535 {
			return app.Config{}, nil, usageError{fmt.Errorf("--advertised-addr %q: want host:port", f.advertised)}
		}
		bc.AdvertisedHost, bc.AdvertisedPort = host, int32(p)
	}
	return app.Config{
		KafkaAddr:    f.kafkaAddr,
		RegistryAddr: f.registryAddr,
		HTTPAddr:     f.httpAddr,
		Broker:       bc,
		Logger:       logger,
	}, logger, nil
}

func runServe(args []string, stdout, stderr io.Writer) error {
	var sf stackFlags
	fs := newFlagSet("serve [flags]",
		"Runs the embedded Kafka-compatible broker (and, on --registry-addr, the schema registry)\nuntil interrupted. Any Kafka client can connect to --kafka-addr. Acknowledged\nwrites are on disk (fsync) before the client hears back.",
		`  tickertape serve
  tickertape serve --data-dir /var/lib/tickertape --kafka-addr 0.0.0.0:9092 --advertised-addr myhost:9092
  tickertape serve --fsync interval=100ms --default-partitions 6
  kcat -b 127.0.0.1:9092 -t hello -P <<< 'hi'   # then, in another terminal:
  kcat -b 127.0.0.1:9092 -t hello -C -e`, stderr)
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, logger, err := sf.config(stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	stack, err := app.Start(cfg)
	if err != nil {
		return stackError(err)
	}
	fmt.Fprintf(stdout, "tickertape %s ready in %s\n", versionString(), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "  kafka     %s\n", stack.KafkaAddr())
	if u := stack.RegistryURL(); u != "" {
		fmt.Fprintf(stdout, "  registry  %s (Confluent Schema Registry API)\n", u)
	}
	dashDone := make(chan struct{})
	if u := stack.HTTPURL(); u != "" {
		// The dashboard reads the market topics of this broker, if a pipeline
		// (tickertape ingest / process) writes them; /metrics is the stack's.
		wc := web.Config{Gatherer: stack.Metrics, Logger: logger}
		if ru := stack.RegistryURL(); ru != "" {
			srcl, err := sr.NewClient(sr.URLs(ru))
			if err != nil {
				return err
			}
			wc.Brokers, wc.Serde = []string{stack.KafkaAddr()}, serde.New(srcl)
		}
		dash, err := web.New(wc)
		if err != nil {
			return err
		}
		stack.SetHTTPHandler(dash.Handler())
		go func() { defer close(dashDone); dash.Run(ctx) }()
		fmt.Fprintf(stdout, "  http      %s/ (dashboard), %s/metrics (Prometheus), %s/healthz\n", u, u, u)
	} else {
		close(dashDone)
	}
	fmt.Fprintf(stdout, "  data      %s (fsync %s)\n", sf.dataDir, sf.fsync)
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-stack.Err():
		logger.Error("listener stopped", "err", runErr)
	}
	stop() // a second signal now kills the process at once; it also ends the dashboard's streams
	<-dashDone
	logger.Info("shutting down: finishing in-flight requests and flushing partitions")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := stack.Close(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped cleanly")
	return runErr
}

// stackError names the flag that chooses the address of a listener the
// stack could not bind.
func stackError(err error) error {
	var le *app.ListenError
	if errors.As(err, &le) {
		flag := map[string]string{app.ListenerKafka: "--kafka-addr", app.ListenerRegistry: "--registry-addr", app.ListenerHTTP: "--http-addr"}[le.Listener]
		return fmt.Errorf("%s listener on %s: %v (is another server using it? choose another address with %s)", le.Listener, le.Addr, le.Err, flag)
	}
	return err
}
