package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/grouplag"
	"github.com/tickertape/tickertape/registry"
)

// Config configures the embedded stack. Addresses may use port 0 to pick a free
// port; an empty RegistryAddr or HTTPAddr turns that listener off.
type Config struct {
	KafkaAddr    string
	RegistryAddr string
	HTTPAddr     string
	// Broker is the broker's configuration (DataDir, Fsync, ...).
	Broker broker.Config
	// Registry is the schema registry's configuration; Brokers and
	// AdvertisedURL are filled in to point at this stack.
	Registry registry.Config
	Logger   *slog.Logger
}

// Stack is a running embedded stack.
type Stack struct {
	Broker   *broker.Broker
	Registry *registry.Registry // nil when RegistryAddr is empty
	// Metrics holds the stack's Prometheus collectors (Go runtime, process,
	// broker, registry, consumer-group lag); served at /metrics on HTTPAddr.
	// Callers register their own (ingest, processors) in it.
	Metrics *prometheus.Registry

	httpHandler atomic.Pointer[http.Handler] // serves HTTPAddr besides /healthz, once set
	lagClient   *kgo.Client

	kafkaLn    net.Listener
	registryLn net.Listener
	httpLn     net.Listener
	servers    []*http.Server
	log        *slog.Logger
	wg         sync.WaitGroup
	errc       chan error
	once       sync.Once
	closeErr   error
}

// Start opens the data directory, recovers it, binds every listener and serves
// until Close. When Start returns without error, every address accepts
// connections.
func Start(cfg Config) (*Stack, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Broker.Logger == nil {
		cfg.Broker.Logger = cfg.Logger
	}
	if cfg.KafkaAddr == "" {
		cfg.KafkaAddr = "127.0.0.1:9092"
	}
	s := &Stack{log: cfg.Logger, errc: make(chan error, 3)}
	var err error
	// Bind first, so that a busy port fails before recovery does any work.
	if s.kafkaLn, err = listen(ListenerKafka, cfg.KafkaAddr); err != nil {
		return nil, err
	}
	if cfg.RegistryAddr != "" {
		if s.registryLn, err = listen(ListenerRegistry, cfg.RegistryAddr); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	if cfg.HTTPAddr != "" {
		if s.httpLn, err = listen(ListenerHTTP, cfg.HTTPAddr); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	if s.registryLn != nil {
		// The registry's topic is this stack's own state: deleting it would let
		// schema ids be given out again.
		name := cfg.Registry.Topic
		if name == "" {
			name = registry.DefaultTopic
		}
		cfg.Broker.ProtectedTopics = append(cfg.Broker.ProtectedTopics, name)
	}
	if s.Broker, err = broker.New(cfg.Broker); err != nil {
		s.closeListeners()
		return nil, err
	}
	s.serve(func() error { return s.Broker.Serve(s.kafkaLn) })
	s.Metrics = prometheus.NewRegistry()
	s.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.Broker.Collector())
	if s.lagClient, err = kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.ClientID("tickertape-metrics")); err == nil {
		s.Metrics.MustRegister(grouplag.New(kadm.NewClient(s.lagClient), 0))
	}
	if s.registryLn != nil {
		rc := cfg.Registry
		rc.Brokers = []string{s.KafkaAddr()}
		rc.AdvertisedURL = s.RegistryURL()
		if rc.Logger == nil {
			rc.Logger = cfg.Logger
		}
		if s.Registry, err = registry.New(rc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err = s.Registry.Start(ctx)
			cancel()
		}
		if err != nil {
			s.Registry = nil
			s.closeListeners()
			s.Close(context.Background())
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		s.serveServer(s.registryLn, s.Registry.NewHTTPServer())
		s.Metrics.MustRegister(s.Registry.Collector())
	}
	if s.httpLn != nil {
		s.serveHTTP(s.httpLn, s.healthMux())
	}
	return s, nil
}

// The listeners a Stack binds, as ListenError names them.
const (
	ListenerKafka    = "kafka"
	ListenerRegistry = "schema registry"
	ListenerHTTP     = "http"
)

// ListenError is a listener Start could not bind.
type ListenError struct {
	Listener string // ListenerKafka, ListenerRegistry or ListenerHTTP
	Addr     string
	Err      error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s listener on %s: %v (is another server using it? choose another address)", e.Listener, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

func listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Listener: what, Addr: addr, Err: err}
	}
	return ln, nil
}

func (s *Stack) serve(fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
}

func (s *Stack) serveHTTP(ln net.Listener, h http.Handler) {
	s.serveServer(ln, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10})
}

func (s *Stack) serveServer(ln net.Listener, srv *http.Server) {
	s.servers = append(s.servers, srv)
	s.serve(func() error { return srv.Serve(ln) })
}

// KafkaAddr is the address Kafka clients connect to.
func (s *Stack) KafkaAddr() string { return s.kafkaLn.Addr().String() }

// RegistryURL is the schema registry's base URL, or "" when it is off.
func (s *Stack) RegistryURL() string {
	if s.registryLn == nil {
		return ""
	}
	return "http://" + s.registryLn.Addr().String()
}

// SetHTTPHandler makes h serve every path of HTTPAddr except /healthz
// (the dashboard and /metrics of a pipeline, see package web). Until it is
// called, HTTPAddr serves /healthz and /metrics (the stack's own).
func (s *Stack) SetHTTPHandler(h http.Handler) { s.httpHandler.Store(&h) }

// HTTPURL is the base URL of the health endpoint, or "" when it is off.
func (s *Stack) HTTPURL() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + s.httpLn.Addr().String()
}

// Err reports a listener that stopped on its own (for example, an accept error).
func (s *Stack) Err() <-chan error { return s.errc }

// Close stops accepting, finishes in-flight requests (until ctx is done), then
// flushes and closes every partition. It is safe to call more than once.
func (s *Stack) Close(ctx context.Context) error {
	s.once.Do(func() {
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if s.Registry != nil {
			s.Registry.Close()
		}
		if s.lagClient != nil {
			s.lagClient.Close()
		}
		if err := s.Broker.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		s.wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Stack) closeListeners() {
	for _, ln := range []net.Listener{s.kafkaLn, s.registryLn, s.httpLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

func (s *Stack) healthMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"status":     "ok",
			"kafka":      s.KafkaAddr(),
			"cluster_id": s.Broker.ClusterID(),
		})
	})
	metrics := promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{MaxRequestsInFlight: 4})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if h := s.httpHandler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/metrics" && r.Method == http.MethodGet {
			metrics.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	return mux
}
