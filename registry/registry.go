package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config configures a Registry. Brokers is required; the zero value of every
// other field is its default (DefaultConfig lists them).
type Config struct {
	// Brokers are the Kafka bootstrap addresses (host:port) that hold Topic.
	Brokers []string
	// Topic is the compacted topic holding the registry's state (_schemas).
	Topic string
	// GroupID is the consumer group the instances use to elect the one that
	// writes (schema-registry).
	GroupID string
	// AdvertisedURL is how other instances reach this one to forward writes
	// (http://host:port). Needed only when several instances share Topic.
	AdvertisedURL string
	// LeaderIneligible keeps this instance from ever writing: it forwards
	// every write to the elected one.
	LeaderIneligible bool
	// WriteTimeout bounds how long a write waits for the topic (and for a
	// leader to be elected): 50002 after it.
	WriteTimeout time.Duration
	// MaxBodyBytes caps request bodies (413 above it, before they are read
	// further).
	MaxBodyBytes int64
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are the HTTP server's
	// (see NewHTTPServer).
	ReadHeaderTimeout, ReadTimeout, IdleTimeout time.Duration
	// Auth, if set, requires HTTP basic authentication (see auth.go).
	Auth *BasicAuth
	// ForwardTLS, if set, is the TLS client configuration for forwarding
	// writes to the leader over https (the CA that signed the instances'
	// certificates); nil trusts the system roots.
	ForwardTLS *tls.Config
	// KafkaOpts are extra franz-go options for the clients (TLS, SASL, ...).
	KafkaOpts []kgo.Opt
	Logger    *slog.Logger
}

// Registry is a Confluent-compatible schema registry whose state lives in a
// Kafka topic. Create it with New, then Start; serve Handler over HTTP.
type Registry struct {
	cfg Config
	log *slog.Logger

	fwd  *http.Client // forwards writes to the leader
	cl   *kgo.Client  // produces to and reads Topic
	admc *kgo.Client  // admin requests (a client of its own: cl's consumer caches the topic's absence)
	adm  *kadm.Client
	elec *election

	mu       sync.RWMutex // guards st
	st       *state
	progress *sync.Cond // signalled (with mu held) whenever st.applied moves

	writeMu sync.Mutex // one write at a time: check, produce, wait until applied
	topicID [16]byte   // Topic's id when Start found it
	broken  *Error     // under writeMu: Topic was deleted or replaced; writes stop

	prepCache prepCache // parsed schemas by text (prepare)
	metrics   *metrics

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{} // closed when the topic has been replayed

	closeOnce sync.Once
}

// DefaultConfig returns the defaults New fills in for zero fields. Brokers
// has no default: it is required.
func DefaultConfig() Config {
	return Config{
		Topic:             DefaultTopic,
		GroupID:           "schema-registry",
		WriteTimeout:      10 * time.Second,
		MaxBodyBytes:      16 << 20,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
}

// ConfigError is one invalid field of a Config. Field is the Go field name;
// a CLI names its own flag for it (tickertape registry does).
type ConfigError struct {
	Field   string // "Brokers", "Topic", "WriteTimeout", "MaxBodyBytes", "AdvertisedURL", ...
	Problem string
}

func (e *ConfigError) Error() string { return "registry: " + e.Problem }

// Validate reports every problem of cfg at once (errors.Join of
// *ConfigError); zero values are defaults.
func (cfg *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if len(cfg.Brokers) == 0 {
		bad("Brokers", "no Kafka brokers given (want host:port[,host:port...])")
	}
	for i, b := range cfg.Brokers {
		if strings.TrimSpace(b) == "" {
			bad("Brokers", "Kafka broker %d of %d is empty", i+1, len(cfg.Brokers))
		}
	}
	if err := validTopic(cfg.Topic); err != nil {
		bad("Topic", "topic %q: %v", cfg.Topic, err)
	}
	for _, d := range []struct {
		field, name string
		v           time.Duration
	}{{"WriteTimeout", "write timeout", cfg.WriteTimeout}, {"ReadHeaderTimeout", "read header timeout", cfg.ReadHeaderTimeout},
		{"ReadTimeout", "read timeout", cfg.ReadTimeout}, {"IdleTimeout", "idle timeout", cfg.IdleTimeout}} {
		if d.v < 0 {
			bad(d.field, "%s %s is negative", d.name, d.v)
		}
	}
	if cfg.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "max body bytes %d is negative", cfg.MaxBodyBytes)
	}
	if u := cfg.AdvertisedURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("AdvertisedURL", "advertised URL %q must be http://host:port or https://host:port", u)
		}
	}
	return errors.Join(errs...)
}

// validTopic applies Kafka's rules for topic names; "" is the default.
func validTopic(name string) error {
	switch {
	case name == "":
		return nil
	case name == "." || name == "..":
		return errors.New(`"." and ".." are not topic names`)
	case len(name) > 249:
		return fmt.Errorf("%d characters, Kafka allows 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q is not allowed (Kafka allows ASCII letters, digits, '.', '_' and '-')", c)
		}
	}
	return nil
}

// New validates cfg and fills in defaults. It does not connect; Start does.
func New(cfg Config) (*Registry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := DefaultConfig()
	if cfg.Topic == "" {
		cfg.Topic = d.Topic
	}
	if cfg.GroupID == "" {
		cfg.GroupID = d.GroupID
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = d.MaxBodyBytes
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = d.ReadTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = d.IdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Registry{cfg: cfg, log: cfg.Logger.With("component", "registry"), st: newState(), ready: make(chan struct{}), fwd: forwardClient}
	if cfg.ForwardTLS != nil {
		r.fwd = &http.Client{Timeout: forwardClient.Timeout, Transport: &http.Transport{TLSClientConfig: cfg.ForwardTLS, Proxy: http.ProxyFromEnvironment}}
	}
	r.progress = sync.NewCond(&r.mu)
	r.metrics = newMetrics(r)
	return r, nil
}

// DefaultTopic is the topic holding the registry's state, as in Confluent's.
const DefaultTopic = "_schemas"

// Start connects to Kafka, creates Topic if it is missing (one partition,
// cleanup.policy=compact), replays it, and joins the leader election. It
// returns once the state is replayed, so reads are answered from a current
// state; writes wait for the election (within WriteTimeout).
func (r *Registry) Start(ctx context.Context) error {
	var err error
	if r.admc, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(r.cfg.Brokers...)}, r.cfg.KafkaOpts...)...); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	r.adm = kadm.NewClient(r.admc)
	end, err := r.ensureTopic(ctx)
	if err == nil {
		r.topicID, err = r.currentTopicID(ctx)
	}
	if err != nil {
		r.admc.Close()
		return err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.DefaultProduceTopic(r.cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.cfg.Topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, r.cfg.KafkaOpts...)
	if r.cl, err = kgo.NewClient(opts...); err != nil {
		r.admc.Close()
		return fmt.Errorf("registry: %w", err)
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.readLoop()
	go r.skipUnreadable()
	if err := r.waitApplied(ctx, end); err != nil {
		r.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("registry: replaying %s: %w", r.cfg.Topic, err)
	}
	close(r.ready)
	r.mu.RLock()
	n, skipped, last := len(r.st.schemas), r.st.skipped, r.st.lastSkip
	r.mu.RUnlock()
	if skipped > 0 {
		r.log.Warn("skipped records in the schemas topic that could not be applied", "topic", r.cfg.Topic, "skipped", skipped, "last_error", last)
	}
	r.log.Debug("schemas replayed", "topic", r.cfg.Topic, "schemas", n, "records", end)
	if r.elec, err = startElection(r); err != nil {
		r.Close(context.WithoutCancel(ctx))
		return err
	}
	return nil
}

// ensureTopic creates the topic if needed and returns its end offset.
func (r *Registry) ensureTopic(ctx context.Context) (int64, error) {
	rf := int16(-1)
	if md, err := r.adm.BrokerMetadata(ctx); err == nil {
		rf = int16(min(3, len(md.Brokers)))
	} else {
		return 0, fmt.Errorf("registry: cannot reach Kafka at %s: %w", strings.Join(r.cfg.Brokers, ","), err)
	}
	resp, err := r.adm.CreateTopic(ctx, 1, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, r.cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("registry: creating topic %s: %w", r.cfg.Topic, err)
	}
	return r.endOffset(ctx)
}

// endOffset asks for the end of Topic's partition 0. A topic just created
// on a real cluster has no leader for a moment (the partition is missing
// from the answer, or its error is retriable): ask again until ctx ends.
func (r *Registry) endOffset(ctx context.Context) (int64, error) {
	backoff := 50 * time.Millisecond
	for {
		ends, err := r.adm.ListEndOffsets(ctx, r.cfg.Topic)
		if err == nil {
			o, ok := ends.Lookup(r.cfg.Topic, 0)
			switch {
			case ok && o.Err == nil:
				return o.Offset, nil
			case !ok:
				err = fmt.Errorf("partition 0 not in the answer yet (no leader)")
			case kerr.IsRetriable(o.Err):
				err = o.Err
			default:
				return 0, fmt.Errorf("registry: reading the end of %s: %w", r.cfg.Topic, o.Err)
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("registry: reading the end of %s: %w (last: %v)", r.cfg.Topic, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// currentTopicID asks Kafka for Topic's id.
func (r *Registry) currentTopicID(ctx context.Context) ([16]byte, error) {
	// A request of our own, not kadm's cached metadata: a deleted topic must
	// be seen at once, and asking must not create it again.
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(r.cfg.Topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, r.admc)
	if err != nil {
		return [16]byte{}, fmt.Errorf("registry: metadata of %s: %w", r.cfg.Topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == r.cfg.Topic {
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				return [16]byte{}, fmt.Errorf("registry: metadata of %s: %w", r.cfg.Topic, err)
			}
			return t.TopicID, nil
		}
	}
	return [16]byte{}, fmt.Errorf("registry: metadata of %s: %w", r.cfg.Topic, kerr.UnknownTopicOrPartition)
}

// NewHTTPServer returns an http.Server for Handler with the registry's
// timeouts and a 64 KiB cap on the request line and headers, so that stalled
// or oversized requests are answered (or dropped) before they hold memory.
func (r *Registry) NewHTTPServer() *http.Server {
	return &http.Server{
		Handler:           r.Handler(),
		ReadHeaderTimeout: r.cfg.ReadHeaderTimeout,
		ReadTimeout:       r.cfg.ReadTimeout,
		IdleTimeout:       r.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// readLoop applies every record of the topic, in order, for the registry's
// lifetime.
func (r *Registry) readLoop() {
	defer r.wg.Done()
	for {
		fs := r.cl.PollFetches(r.ctx)
		if r.ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn("reading the schemas topic", "topic", t, "err", err)
			}
		})
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		r.mu.Lock()
		for _, rec := range recs {
			if rec.Offset >= r.st.applied {
				r.st.apply(rec.Offset, rec.Key, rec.Value)
			}
		}
		r.progress.Broadcast()
		r.mu.Unlock()
	}
}

// waitApplied waits until every record below offset is applied.
func (r *Registry) waitApplied(ctx context.Context, offset int64) error {
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.progress.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.st.applied < offset {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.progress.Wait()
	}
	return nil
}

// write appends records to the topic and waits until they are applied, so
// that the caller's next read sees them. Acks are all-ISR: a write is
// acknowledged only once it is durably in the topic.
func (r *Registry) write(ctx context.Context, recs ...record) error {
	krs := make([]*kgo.Record, len(recs))
	for i, rec := range recs {
		krs[i] = &kgo.Record{Key: rec.Key, Value: rec.Value, Partition: 0}
	}
	res := r.cl.ProduceSync(ctx, krs...)
	if err := res.FirstErr(); err != nil {
		if ctx.Err() != nil {
			return errf(CodeOperationTimeout, "Write to the schemas topic timed out after %s", r.cfg.WriteTimeout)
		}
		return errf(CodeStoreError, "Error while writing to the schemas topic: %v", err)
	}
	last := int64(-1)
	for _, pr := range res {
		last = max(last, pr.Record.Offset)
	}
	if err := r.waitApplied(ctx, last+1); err != nil {
		return errf(CodeOperationTimeout, "The write reached the schemas topic but was not read back within %s", r.cfg.WriteTimeout)
	}
	return nil
}

// Close leaves the election (telling the group at once, within ctx, so
// that another instance takes over the writes without waiting for a session
// timeout) and stops the clients. It is safe to call more than once.
func (r *Registry) Close(ctx context.Context) error {
	var err error
	r.closeOnce.Do(func() {
		if r.elec != nil {
			err = r.elec.close(ctx)
		}
		if r.cancel != nil {
			r.cancel()
		}
		r.wg.Wait()
		if r.cl != nil {
			r.cl.Close()
		}
		if r.admc != nil {
			r.admc.Close()
		}
	})
	return err
}

// Handler serves the Confluent REST API.
func (r *Registry) Handler() http.Handler { return r.metrics.instrument(r.withAuth(r.routes())) }
