package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/grouplag"
	"github.com/tickertape/tickertape/registry"
)

// Config configures the embedded stack. Addresses may use port 0 to pick a free
// port; an empty RegistryAddr or HTTPAddr turns that listener off.
type Config struct {
	// KafkaAddr is the one PLAINTEXT Kafka listener, used when Listeners is empty.
	KafkaAddr string
	// Listeners are the Kafka listeners (PLAINTEXT, SSL, SASL_PLAINTEXT,
	// SASL_SSL); when set, KafkaAddr is ignored. The first is KafkaAddr().
	Listeners []Listener
	// TLS is the server configuration of SSL and SASL_SSL listeners (with
	// ClientAuth set for mTLS); RegistryTLS, if set, serves the registry
	// over HTTPS.
	TLS, RegistryTLS *tls.Config
	// RegistryAuth requires HTTP basic auth on the registry, against the
	// broker's SCRAM users (its Users field is filled in).
	RegistryAuth *registry.BasicAuth
	// BootstrapUser is "name:password": the user is created at start when it
	// does not exist yet (TICKERTAPE_BOOTSTRAP_USER).
	BootstrapUser string
	RegistryAddr  string
	HTTPAddr      string
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

	kafkaLn     net.Listener   // the first Kafka listener
	kafkaLns    []net.Listener // every Kafka listener, in Config.Listeners order
	listeners   []Listener
	secured     bool // some listener authenticates: our own clients dial in process
	registryLn  net.Listener
	registryTLS bool
	httpLn      net.Listener
	servers     []*http.Server
	log         *slog.Logger
	wg          sync.WaitGroup
	errc        chan error
	once        sync.Once
	closeErr    error
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
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []Listener{{Addr: cfg.KafkaAddr}}
	}
	s := &Stack{log: cfg.Logger, errc: make(chan error, 2+len(cfg.Listeners)), listeners: cfg.Listeners}
	for _, l := range cfg.Listeners {
		if l.Protocol.TLS() && cfg.TLS == nil {
			return nil, fmt.Errorf("the %s listener on %s needs a TLS certificate (--tls-cert and --tls-key; `tickertape tls init DIR` makes a development one)", l.Protocol, l.Addr)
		}
		if l.Protocol.SASL() || (l.Protocol.TLS() && cfg.TLS.ClientAuth >= tls.VerifyClientCertIfGiven) {
			s.secured = true
		}
	}
	if cfg.RegistryAuth != nil && !s.secured {
		return nil, errors.New("--registry-auth basic needs an authenticated Kafka listener (SASL_PLAINTEXT or SASL_SSL) for the users to exist")
	}
	// The authorizer is on before the first connection is accepted.
	cfg.Broker.Authorize = cfg.Broker.Authorize || s.secured
	var err error
	// Bind first, so that a busy port fails before recovery does any work.
	for _, l := range cfg.Listeners {
		ln, err := listen(ListenerKafka, l.Addr)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		s.kafkaLns = append(s.kafkaLns, ln)
	}
	s.kafkaLn = s.kafkaLns[0]
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
	if cfg.BootstrapUser != "" {
		if err := s.bootstrapUser(cfg.BootstrapUser); err != nil {
			s.closeListeners()
			s.Broker.Close(context.Background())
			return nil, err
		}
	}
	for i, l := range cfg.Listeners {
		bl := l.Listener()
		if l.Protocol.TLS() {
			bl.TLS = cfg.TLS
		}
		ln := s.kafkaLns[i]
		s.serve(func() error { return s.Broker.ServeListener(ln, bl) })
	}
	s.Metrics = prometheus.NewRegistry()
	s.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.Broker.Collector())
	if s.lagClient, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.KafkaAddr()), kgo.ClientID("tickertape-metrics")}, s.InternalKafkaOpts()...)...); err == nil {
		s.Metrics.MustRegister(grouplag.New(kadm.NewClient(s.lagClient), 0))
	}
	if s.registryLn != nil {
		rc := cfg.Registry
		rc.Brokers = []string{s.KafkaAddr()}
		rc.KafkaOpts = append(append([]kgo.Opt(nil), rc.KafkaOpts...), s.InternalKafkaOpts()...)
		rc.AdvertisedURL = s.RegistryURL()
		if cfg.RegistryAuth != nil {
			a := *cfg.RegistryAuth
			a.Users = s.Broker.Users()
			a.SuperUsers = append(append([]string(nil), a.SuperUsers...), cfg.Broker.SuperUsers...)
			rc.Auth = &a
		}
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
		srv := s.Registry.NewHTTPServer()
		if cfg.RegistryTLS != nil {
			srv.TLSConfig = cfg.RegistryTLS
			s.registryTLS = true
		}
		s.serveServer(s.registryLn, srv)
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
	if srv.TLSConfig != nil {
		s.serve(func() error { return srv.ServeTLS(ln, "", "") })
		return
	}
	s.serve(func() error { return srv.Serve(ln) })
}

// KafkaAddr is the address Kafka clients connect to.
func (s *Stack) KafkaAddr() string { return s.kafkaLn.Addr().String() }

// RegistryURL is the schema registry's base URL, or "" when it is off.
func (s *Stack) RegistryURL() string {
	if s.registryLn == nil {
		return ""
	}
	if s.registryTLS {
		return "https://" + s.registryLn.Addr().String()
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
			if err := s.Registry.Close(ctx); err != nil {
				errs = append(errs, err)
			}
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
	for _, ln := range append([]net.Listener{s.registryLn, s.httpLn}, s.kafkaLns...) {
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

// Listener is one Kafka listener of the stack.
type Listener struct {
	Addr     string // host:port to bind
	Protocol broker.Protocol
	// AdvertisedHost and AdvertisedPort are what Metadata tells this
	// listener's clients; empty/0 is the bound address.
	AdvertisedHost string
	AdvertisedPort int32
}

// Listener returns the broker's view of l (without TLS, which the stack adds).
func (l Listener) Listener() broker.Listener {
	return broker.Listener{Protocol: l.Protocol, AdvertisedHost: l.AdvertisedHost, AdvertisedPort: l.AdvertisedPort}
}

// ListenerAddrs lists every Kafka listener as PROTOCOL://host:port, with the
// address actually bound.
func (s *Stack) ListenerAddrs() []string {
	out := make([]string, len(s.kafkaLns))
	for i, ln := range s.kafkaLns {
		out[i] = s.listeners[i].Protocol.String() + "://" + ln.Addr().String()
	}
	return out
}

// Secured reports whether some Kafka listener authenticates its clients
// (SASL, or TLS with client certificates); the authorizer is then on.
func (s *Stack) Secured() bool { return s.secured }

// InternalKafkaOpts are the franz-go options the stack's own clients (the
// registry, the pipeline, the dashboard) use to reach this broker: on a
// secured stack they dial in process as a super user, with no credential on
// the wire; otherwise nothing is needed.
func (s *Stack) InternalKafkaOpts() []kgo.Opt {
	if !s.secured {
		return nil
	}
	return []kgo.Opt{kgo.Dialer(s.Broker.DialInternal)}
}

// InternalRegistryOpts are the sr options the stack's own clients use for
// its registry: in process, past TLS and basic auth. Nil without a registry.
func (s *Stack) InternalRegistryOpts() []sr.ClientOpt {
	if s.Registry == nil {
		return nil
	}
	return []sr.ClientOpt{sr.URLs(s.RegistryURL()), sr.HTTPClient(&http.Client{Transport: s.Registry.InternalTransport(), Timeout: time.Minute})}
}

func (s *Stack) bootstrapUser(spec string) error {
	name, pass, ok := strings.Cut(spec, ":")
	if !ok || name == "" || pass == "" {
		return errors.New("TICKERTAPE_BOOTSTRAP_USER: want name:password")
	}
	if s.Broker.Users().Exists(name) {
		return nil
	}
	if err := s.Broker.Users().SetPassword(name, pass, 0); err != nil {
		return fmt.Errorf("TICKERTAPE_BOOTSTRAP_USER: %w", err)
	}
	s.log.Info("created the bootstrap user", "user", name)
	return nil
}
