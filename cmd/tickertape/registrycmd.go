package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tickertape/tickertape/internal/certs"
	"github.com/tickertape/tickertape/registry"
)

func init() {
	register(&command{name: "registry", summary: "run the schema registry alone against any Kafka cluster", run: runRegistry})
}

func runRegistry(args []string, stdout, stderr io.Writer) error {
	var brokers, listen, advertised, topic, group, logLevel string
	var ineligible bool
	fs := newFlagSet("registry --brokers HOST:PORT[,...] [flags]",
		"Runs the Confluent-compatible schema registry on its own, keeping its state in the\n_schemas topic of any Kafka cluster (the embedded broker or Apache Kafka). Several\ninstances may share a cluster: one is elected to write, the others forward writes to it.",
		`  tickertape registry --brokers 127.0.0.1:9092
  tickertape registry --brokers kafka1:9092,kafka2:9092 --listen 0.0.0.0:8081 --advertised-url http://reg1:8081
  curl -s localhost:8081/subjects
  curl -s localhost:8081/metrics      # Prometheus
  # HTTPS and basic auth against the cluster's SASL users (alice may write, others read):
  TICKERTAPE_SASL_PASSWORD=... tickertape registry --brokers 127.0.0.1:9093 --tls-ca certs/ca.pem \
    --sasl-user registry --sasl-mechanism SCRAM-SHA-512 --tls-cert certs/server.pem --tls-key certs/server-key.pem \
    --registry-auth basic --super-user admin --registry-writers alice
  curl -s --cacert certs/ca.pem -u bob:bob-pw https://localhost:8081/subjects`, stderr)
	fs.StringVar(&brokers, "brokers", "", "comma-separated Kafka bootstrap addresses (required)")
	fs.StringVar(&listen, "listen", "127.0.0.1:8081", "address of the REST API")
	fs.StringVar(&advertised, "advertised-url", "", "URL other instances use to forward writes here (default: http://<listen>)")
	fs.StringVar(&topic, "topic", "_schemas", "compacted topic holding the registry's state (kafkastore.topic)")
	fs.StringVar(&group, "group-id", "schema-registry", "consumer group used to elect the writing instance")
	fs.BoolVar(&ineligible, "leader-ineligible", false, "never write; forward every write to the elected instance")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	var tlsCert, tlsKey, regAuth string
	var superUsers, writers listFlag
	var authCache time.Duration
	fs.StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain): the REST API then serves HTTPS; reloaded on SIGHUP. Writes forwarded to another instance's https URL trust --tls-ca (else the system roots)")
	fs.StringVar(&tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&regAuth, "registry-auth", "none", "none, or basic: HTTP basic auth, each user checked by authenticating to --brokers over SASL with --sasl-mechanism (reads for any user, writes for --super-user and --registry-writers); needs --sasl-user")
	fs.Var(&superUsers, "super-user", "a user who may read and write (as the brokers' super.users); repeatable")
	fs.Var(&writers, "registry-writers", "users who may write besides the super users (comma-separated or repeatable)")
	fs.DurationVar(&authCache, "registry-auth-cache", time.Minute, "how long a verified credential is accepted before the brokers are asked again (a changed password is refused at the latest this long after the change)")
	var sec clientSecurity
	sec.registerKafka(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kopts, err := sec.kafkaOpts()
	if err != nil {
		return err
	}
	var basic *registry.BasicAuth
	switch regAuth {
	case "none", "":
		if len(writers.vals) > 0 || len(superUsers.vals) > 0 {
			return usageError{errors.New("--registry-writers and --super-user need --registry-auth basic")}
		}
	case "basic":
		if sec.saslUser == "" {
			return usageError{errors.New("--registry-auth basic checks each user against the brokers' SASL, so the registry must reach them over SASL too: give --sasl-user (and TICKERTAPE_SASL_PASSWORD) and --sasl-mechanism")}
		}
		if authCache <= 0 {
			return usageError{errors.New("--registry-auth-cache must be positive (e.g. 30s)")}
		}
		tlsOpts, err := sec.kafkaTLSOpts()
		if err != nil {
			return err
		}
		basic = &registry.BasicAuth{
			Users:   &registry.KafkaPasswords{Brokers: strings.Split(brokers, ","), Mechanism: sec.saslMech, Opts: tlsOpts},
			Writers: writers.vals, SuperUsers: superUsers.vals, CacheTTL: authCache,
		}
	default:
		return usageError{fmt.Errorf("--registry-auth %q: use none or basic", regAuth)}
	}
	if (tlsCert == "") != (tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	var reloader *certs.Reloader
	var forwardTLS *tls.Config
	if tlsCert != "" {
		if reloader, err = certs.NewReloader(tlsCert, tlsKey); err != nil {
			return err
		}
	}
	if sec.tlsCA != "" {
		if forwardTLS, err = certs.ClientConfig(sec.tlsCA, "", ""); err != nil {
			return usageError{fmt.Errorf("--tls-ca: %v", err)}
		}
	}
	if brokers == "" {
		return usageError{errors.New("--brokers is required (for the embedded broker, use tickertape serve, which runs the registry too)")}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("registry listener on %s: %w (choose another address with --listen)", listen, err)
	}
	scheme := "http"
	if reloader != nil {
		scheme = "https"
	}
	if advertised == "" {
		advertised = scheme + "://" + ln.Addr().String()
	}
	r, err := registry.New(registry.Config{
		Brokers: strings.Split(brokers, ","), Topic: topic, GroupID: group,
		AdvertisedURL: advertised, LeaderIneligible: ineligible, KafkaOpts: kopts, Logger: logger, Auth: basic, ForwardTLS: forwardTLS,
	})
	if err != nil {
		ln.Close()
		return usageError{registryConfigError(err)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = r.Start(sctx)
	cancel()
	if err != nil {
		ln.Close()
		return fmt.Errorf("%w (is Kafka reachable at %s?)", err, brokers)
	}
	// Prometheus /metrics beside the REST API (the Confluent API has no such path).
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), r.Collector())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4}))
	mux.Handle("/", r.Handler())
	srv := r.NewHTTPServer()
	srv.Handler = mux
	errc := make(chan error, 1)
	if reloader != nil {
		srv.TLSConfig, _ = reloader.ServerConfig("")
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for range hup {
				if err := reloader.Reload(); err != nil {
					logger.Error("SIGHUP: keeping the old TLS certificate", "err", err)
				} else {
					logger.Info("SIGHUP: reloaded the TLS certificate", "cert", tlsCert)
				}
			}
		}()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	authNote := ""
	if basic != nil {
		authNote = "; basic auth against the brokers' SASL users"
	}
	fmt.Fprintf(stdout, "tickertape registry ready in %s\n  registry  %s://%s (state in %s on %s; Prometheus metrics at /metrics%s)\n", time.Since(start).Round(time.Millisecond), scheme, ln.Addr(), topic, brokers, authNote)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stop()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(serveErr, srv.Shutdown(shutdown), r.Close(shutdown))
}

// registryConfigError names the flag of each invalid registry field.
func registryConfigError(err error) error {
	flags := map[string]string{"Brokers": "--brokers", "Topic": "--topic", "AdvertisedURL": "--advertised-url"}
	var errs []error
	for _, e := range unjoin(err) {
		var ce *registry.ConfigError
		if errors.As(e, &ce) && flags[ce.Field] != "" {
			e = fmt.Errorf("%s: %s", flags[ce.Field], ce.Problem)
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// unjoin returns the errors errors.Join put together, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
