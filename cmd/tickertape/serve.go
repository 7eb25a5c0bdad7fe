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
	"github.com/tickertape/tickertape/internal/certs"
	"github.com/tickertape/tickertape/registry"
	"github.com/tickertape/tickertape/serde"
	"github.com/tickertape/tickertape/web"
	"github.com/twmb/franz-go/pkg/sr"
)

func init() {
	register(&command{name: "serve", summary: "run the embedded Kafka broker and schema registry", run: runServe})
}

// stackFlags are the flags of every command that can start the embedded stack.
type stackFlags struct {
	dataDir, registryAddr, httpAddr string
	kafkaAddrs, advertised          listFlag
	tlsCert, tlsKey, tlsClientCA    string
	superUsers                      listFlag
	registryAuth                    string
	registryWriters                 listFlag
	certs                           *certs.Reloader // loaded by config, reloaded on SIGHUP
	fsync                           string
	prealloc                        string
	deleteRate                      int64
	noAutoCreate                    bool
	partitions                      int
	maxRequestBytes                 int
	logLevel                        string
	groupDelay                      time.Duration
	maxConns, maxConnsPerIP         int
	idle                            time.Duration
	queuedBytes                     int64
}

func (f *stackFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory for partition logs and broker state")
	f.kafkaAddrs = listFlag{vals: []string{"127.0.0.1:9092"}}
	fs.Var(&f.kafkaAddrs, "kafka-addr", "a Kafka listener, [PROTOCOL://]host:port with PROTOCOL one of PLAINTEXT (the default), SSL, SASL_PLAINTEXT, SASL_SSL; repeatable")
	fs.StringVar(&f.registryAddr, "registry-addr", "127.0.0.1:8081", "address of the schema registry (Confluent REST API); empty turns it off")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP endpoint: the dashboard (/), Prometheus /metrics and /healthz; empty turns it off")
	fs.Var(&f.advertised, "advertised-addr", "host:port that a listener's clients are told to connect to (default: its own address); one per --kafka-addr in the same order, or PROTOCOL://host:port for that protocol's listener; repeatable")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) of the SSL and SASL_SSL listeners and of the registry, which then serves HTTPS; reloaded on SIGHUP")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM CA file: TLS listeners then require client certificates signed by it (mTLS); the subject is the principal, e.g. User:CN=alice")
	fs.Var(&f.superUsers, "super-user", "a user allowed everything, whatever the ACLs say (Kafka's super.users); repeatable")
	fs.StringVar(&f.registryAuth, "registry-auth", "none", "none, or basic: the registry asks for HTTP basic auth against the SCRAM users (reads for any user, writes for super users and --registry-writers)")
	fs.Var(&f.registryWriters, "registry-writers", "users who may write to the registry besides the super users (comma-separated or repeatable)")
	fs.StringVar(&f.fsync, "fsync", "always", "when acked data is forced to disk: always (acks wait for fsync, group commit), interval=<duration> (e.g. interval=100ms), or never")
	fs.StringVar(&f.prealloc, "preallocate", "off", "grow segment files ahead of the appends so an fsync has less metadata to commit: zero (zeros written ahead in the background), fallocate (Kafka's file.preallocate) or off; neither beat off on ext4 over virtio (docs/BENCHMARKS.md)")
	fs.BoolVar(&f.noAutoCreate, "no-auto-create-topics", false, "refuse produce and metadata requests for unknown topics instead of creating them")
	fs.IntVar(&f.partitions, "default-partitions", 1, "partitions of auto-created topics")
	fs.Int64Var(&f.deleteRate, "delete-rate", broker.DefaultDeleteRate, "bytes a second at which the segment files retention drops are deleted, in the background (on a filesystem mounted with discard a big delete stalls every fsync, and so every ack); 0 deletes them at once")
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
	prealloc, err := commitlog.ParsePrealloc(f.prealloc)
	if err != nil {
		return app.Config{}, nil, usageError{fmt.Errorf("--preallocate: %v", err)}
	}
	deleteRate := f.deleteRate
	switch {
	case deleteRate < 0:
		return app.Config{}, nil, usageError{fmt.Errorf("--delete-rate %d: give bytes a second, or 0 to delete at once", f.deleteRate)}
	case deleteRate == 0:
		deleteRate = -1 // broker.Config: at once
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
		Preallocate:       prealloc,
		DeleteRate:        deleteRate,
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
	ac := app.Config{
		RegistryAddr:  f.registryAddr,
		HTTPAddr:      f.httpAddr,
		Broker:        bc,
		Logger:        logger,
		BootstrapUser: os.Getenv("TICKERTAPE_BOOTSTRAP_USER"),
	}
	if err := f.securityConfig(&ac); err != nil {
		return app.Config{}, nil, err
	}
	return ac, logger, nil
}

// securityConfig fills in the listeners, TLS, super users and registry auth.
func (f *stackFlags) securityConfig(ac *app.Config) error {
	var needTLS bool
	byProto := map[broker.Protocol]int{}
	for i, a := range f.kafkaAddrs.vals {
		p, addr, err := broker.ParseListener(a)
		if err != nil {
			return usageError{fmt.Errorf("--kafka-addr: %v", err)}
		}
		if _, dup := byProto[p]; dup {
			return usageError{fmt.Errorf("--kafka-addr: two %s listeners; give each protocol one listener", p)}
		}
		byProto[p] = i
		needTLS = needTLS || p.TLS()
		ac.Listeners = append(ac.Listeners, app.Listener{Addr: addr, Protocol: p})
	}
	positional := 0
	for _, a := range f.advertised.vals {
		target := positional
		hostPort := a
		if strings.Contains(a, "://") {
			p, hp, err := broker.ParseListener(a)
			if err != nil {
				return usageError{fmt.Errorf("--advertised-addr: %v", err)}
			}
			i, ok := byProto[p]
			if !ok {
				return usageError{fmt.Errorf("--advertised-addr %q: there is no %s listener (--kafka-addr)", a, p)}
			}
			target, hostPort = i, hp
		} else {
			positional++
		}
		if target >= len(ac.Listeners) {
			return usageError{fmt.Errorf("--advertised-addr %q: more advertised addresses than --kafka-addr listeners", a)}
		}
		host, port, ok := strings.Cut(hostPort, ":")
		var p int
		if _, err := fmt.Sscanf(port, "%d", &p); !ok || err != nil || host == "" || p <= 0 || p > 65535 {
			return usageError{fmt.Errorf("--advertised-addr %q: want host:port", a)}
		}
		ac.Listeners[target].AdvertisedHost, ac.Listeners[target].AdvertisedPort = host, int32(p)
	}
	if len(ac.Listeners) == 1 && ac.Listeners[0].Protocol == broker.Plaintext {
		// The one plaintext listener keeps the broker-level advertised address,
		// as before listeners had protocols.
		ac.Broker.AdvertisedHost, ac.Broker.AdvertisedPort = ac.Listeners[0].AdvertisedHost, ac.Listeners[0].AdvertisedPort
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if needTLS && f.tlsCert == "" {
		return usageError{errors.New("an SSL or SASL_SSL listener needs --tls-cert and --tls-key (`tickertape tls init ./certs` makes a development pair)")}
	}
	if f.tlsClientCA != "" && f.tlsCert == "" {
		return usageError{errors.New("--tls-client-ca needs --tls-cert and --tls-key")}
	}
	if f.tlsCert != "" {
		rl, err := certs.NewReloader(f.tlsCert, f.tlsKey)
		if err != nil {
			return err
		}
		f.certs = rl
		if ac.TLS, err = rl.ServerConfig(f.tlsClientCA); err != nil {
			return usageError{fmt.Errorf("--tls-client-ca: %v", err)}
		}
		ac.RegistryTLS, _ = rl.ServerConfig("") // HTTPS, without client certificates
	}
	ac.Broker.SuperUsers = f.superUsers.vals
	switch f.registryAuth {
	case "none", "":
		if len(f.registryWriters.vals) > 0 {
			return usageError{errors.New("--registry-writers needs --registry-auth basic")}
		}
	case "basic":
		ac.RegistryAuth = &registry.BasicAuth{Writers: f.registryWriters.vals}
	default:
		return usageError{fmt.Errorf("--registry-auth %q: use none or basic", f.registryAuth)}
	}
	return nil
}

// listFlag is a repeatable flag (also comma-separated, as an environment
// variable gives it); the first use replaces the default.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }

func (l *listFlag) Set(s string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

func runServe(args []string, stdout, stderr io.Writer) error {
	var sf stackFlags
	fs := newFlagSet("serve [flags]",
		"Runs the embedded Kafka-compatible broker (and, on --registry-addr, the schema registry)\nuntil interrupted. Any Kafka client can connect to --kafka-addr. Acknowledged\nwrites are on disk (fsync) before the client hears back.",
		`  tickertape serve
  tickertape serve --data-dir /var/lib/tickertape --kafka-addr 0.0.0.0:9092 --advertised-addr myhost:9092
  tickertape serve --fsync interval=100ms --default-partitions 6
  kcat -b 127.0.0.1:9092 -t hello -P <<< 'hi'   # then, in another terminal:
  kcat -b 127.0.0.1:9092 -t hello -C -e
  # secured: TLS + SASL, one super user, the registry over HTTPS with basic auth (README "Securing it")
  tickertape tls init ./certs
  TICKERTAPE_BOOTSTRAP_USER=admin:change-me tickertape serve --kafka-addr SASL_SSL://0.0.0.0:9093 \
    --advertised-addr myhost:9093 --tls-cert certs/server.pem --tls-key certs/server-key.pem \
    --super-user admin --registry-auth basic
  tickertape serve --kafka-addr PLAINTEXT://127.0.0.1:9092 --kafka-addr SSL://0.0.0.0:9094 \
    --advertised-addr 127.0.0.1:9092 --advertised-addr myhost:9094 --tls-cert c.pem --tls-key k.pem --tls-client-ca ca.pem`, stderr)
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
	for _, l := range stack.ListenerAddrs() {
		if len(stack.ListenerAddrs()) == 1 && strings.HasPrefix(l, "PLAINTEXT://") {
			l = stack.KafkaAddr()
		}
		fmt.Fprintf(stdout, "  kafka     %s\n", l)
	}
	if stack.Secured() {
		fmt.Fprintf(stdout, "  security  authorizer on: ACLs apply; super users %s\n", strings.Join(append([]string{"(none)"}, sf.superUsers.vals...)[min(1, len(sf.superUsers.vals)):], ", "))
	}
	if sf.certs != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer func() { signal.Stop(hup); close(hup) }()
		go func() {
			for range hup {
				if err := sf.certs.Reload(); err != nil {
					logger.Error("SIGHUP: keeping the old TLS certificate", "err", err)
				} else {
					logger.Info("SIGHUP: reloaded the TLS certificate", "cert", sf.tlsCert)
				}
			}
		}()
	}
	if u := stack.RegistryURL(); u != "" {
		fmt.Fprintf(stdout, "  registry  %s (Confluent Schema Registry API)\n", u)
	}
	dashDone := make(chan struct{})
	if u := stack.HTTPURL(); u != "" {
		// The dashboard reads the market topics of this broker, if a pipeline
		// (tickertape ingest / process) writes them; /metrics is the stack's.
		wc := web.Config{Gatherer: stack.Metrics, Logger: logger}
		if ru := stack.RegistryURL(); ru != "" {
			srcl, err := sr.NewClient(stack.InternalRegistryOpts()...)
			if err != nil {
				return err
			}
			wc.Brokers, wc.Serde, wc.KafkaOpts = []string{stack.KafkaAddr()}, serde.New(srcl), stack.InternalKafkaOpts()
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
// stack could not bind, or the data directory another broker holds.
func stackError(err error) error {
	if errors.Is(err, broker.ErrDataDirInUse) {
		return fmt.Errorf("%w (--data-dir)", err)
	}
	var le *app.ListenError
	if errors.As(err, &le) {
		flag := map[string]string{app.ListenerKafka: "--kafka-addr", app.ListenerRegistry: "--registry-addr", app.ListenerHTTP: "--http-addr"}[le.Listener]
		return fmt.Errorf("%s listener on %s: %v (is another server using it? choose another address with %s)", le.Listener, le.Addr, le.Err, flag)
	}
	return err
}
