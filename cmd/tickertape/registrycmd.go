package main

import (
	"context"
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
  curl -s localhost:8081/metrics      # Prometheus`, stderr)
	fs.StringVar(&brokers, "brokers", "", "comma-separated Kafka bootstrap addresses (required)")
	fs.StringVar(&listen, "listen", "127.0.0.1:8081", "address of the REST API")
	fs.StringVar(&advertised, "advertised-url", "", "URL other instances use to forward writes here (default: http://<listen>)")
	fs.StringVar(&topic, "topic", "_schemas", "compacted topic holding the registry's state (kafkastore.topic)")
	fs.StringVar(&group, "group-id", "schema-registry", "consumer group used to elect the writing instance")
	fs.BoolVar(&ineligible, "leader-ineligible", false, "never write; forward every write to the elected instance")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	var sec clientSecurity
	sec.registerKafka(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	kopts, err := sec.kafkaOpts()
	if err != nil {
		return err
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
	if advertised == "" {
		advertised = "http://" + ln.Addr().String()
	}
	r, err := registry.New(registry.Config{
		Brokers: strings.Split(brokers, ","), Topic: topic, GroupID: group,
		AdvertisedURL: advertised, LeaderIneligible: ineligible, KafkaOpts: kopts, Logger: logger,
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
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "tickertape registry ready in %s\n  registry  http://%s (state in %s on %s; Prometheus metrics at /metrics)\n", time.Since(start).Round(time.Millisecond), ln.Addr(), topic, brokers)
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
