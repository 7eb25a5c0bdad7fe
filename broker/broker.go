package broker

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickertape/tickertape/auth"
	"github.com/tickertape/tickertape/commitlog"
)

// Config is the broker's configuration. The zero value of every field means
// "use the default" (see DefaultConfig); New reports every invalid field at once.
type Config struct {
	// DataDir holds the partition logs and the topic catalogue.
	DataDir string
	// NodeID is the broker id reported in metadata; it is also the controller id.
	NodeID int32
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients to connect
	// to. Empty/0 means: the listener's own address.
	AdvertisedHost string
	AdvertisedPort int32
	// AutoCreateTopics creates unknown topics on Metadata (when the client allows
	// it) and on Produce. Use DisableAutoCreate to turn it off.
	DisableAutoCreate bool
	// DefaultPartitions is the partition count of auto-created topics and of
	// CreateTopics requests that ask for -1.
	DefaultPartitions int32
	// Fsync is the durability policy for every partition.
	Fsync commitlog.FsyncPolicy
	// Preallocate says how active segment files grow ahead of the appends
	// (zero value: off, the file grows with the appends).
	Preallocate commitlog.Prealloc
	// DeleteRate bounds how fast the segment files that retention drops are
	// deleted, in bytes a second (commitlog.Remover: on a filesystem mounted
	// with discard, a big delete stalls every fsync); 0 means
	// DefaultDeleteRate, a negative value deletes them at once.
	DeleteRate int64
	// MaxRequestBytes bounds one request frame (socket.request.max.bytes).
	MaxRequestBytes int32
	// QueuedMaxRequestBytes bounds the bytes of all requests read but not yet
	// handled, across connections (queued.max.request.bytes). A reader whose
	// frame does not fit waits; frames are read as their bytes arrive, so a
	// size prefix alone reserves no memory. Kafka's default is unlimited;
	// ours is 256 MiB. -1 = unlimited.
	QueuedMaxRequestBytes int64
	// MaxConnections caps open client connections (max.connections); at the
	// cap the listener stops accepting until one closes. 0 = unlimited.
	MaxConnections int
	// MaxConnectionsPerIP caps connections from one address
	// (max.connections.per.ip); more are closed at once. 0 = unlimited.
	MaxConnectionsPerIP int
	// ConnectionsMaxIdle closes connections that send nothing for this long
	// (connections.max.idle.ms, default 10 minutes). Negative = never.
	ConnectionsMaxIdle time.Duration
	// LogDefaults are the broker-level defaults of topic configs
	// (log.retention.ms, log.segment.bytes, ...).
	LogDefaults commitlog.Config
	// RetentionCheckInterval is how often retention runs (log.retention.check.interval.ms).
	RetentionCheckInterval time.Duration
	// GroupMinSessionTimeout and GroupMaxSessionTimeout bound the session
	// timeouts consumers may ask for (group.min/max.session.timeout.ms).
	GroupMinSessionTimeout, GroupMaxSessionTimeout time.Duration
	// GroupInitialRebalanceDelay is how long a group leaving Empty waits for more
	// members before its first generation (group.initial.rebalance.delay.ms).
	// Kafka's default is 3 s; ours is short for the embedded case. Zero is the
	// default; NoGroupInitialRebalanceDelay turns it off.
	GroupInitialRebalanceDelay   time.Duration
	NoGroupInitialRebalanceDelay bool
	// OffsetsRetention is how long an empty group's committed offsets are kept
	// (offsets.retention.minutes).
	OffsetsRetention time.Duration
	// OffsetsTopicPartitions is the partition count of __consumer_offsets when
	// it is created (offsets.topic.num.partitions).
	OffsetsTopicPartitions int32
	// ProtectedTopics may not be deleted by clients (answered with
	// TOPIC_AUTHORIZATION_FAILED, as Kafka answers for its internal topics);
	// the embedded stack names the schema registry's topic here.
	ProtectedTopics []string
	// Authorize turns the authorizer on (it is also turned on by serving a
	// SASL listener or a TLS listener that requires client certificates):
	// every request is then checked against the ACLs, and a resource without
	// a matching ACL is denied, super users excepted.
	Authorize bool
	// SuperUsers are principals ("User:alice", or just "alice") allowed
	// everything when authorization is on (Kafka's super.users).
	SuperUsers []string
	// AuthFailureDelay is how long a connection that failed SASL
	// authentication waits before its error response is sent and it is
	// closed (connection.failed.authentication.delay.ms, default 100 ms).
	// Negative = no delay.
	AuthFailureDelay time.Duration
	// Logger receives the broker's few log lines; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults New fills in.
func DefaultConfig() Config {
	return Config{
		DataDir:                    "./data",
		NodeID:                     1,
		DefaultPartitions:          1,
		Fsync:                      commitlog.FsyncPolicy{Mode: commitlog.FsyncAlways},
		MaxRequestBytes:            100 << 20,
		QueuedMaxRequestBytes:      256 << 20,
		ConnectionsMaxIdle:         10 * time.Minute,
		LogDefaults:                commitlog.DefaultConfig(),
		RetentionCheckInterval:     5 * time.Minute,
		GroupMinSessionTimeout:     6 * time.Second,
		GroupMaxSessionTimeout:     30 * time.Minute,
		GroupInitialRebalanceDelay: 300 * time.Millisecond,
		OffsetsRetention:           7 * 24 * time.Hour,
		OffsetsTopicPartitions:     8,
		AuthFailureDelay:           100 * time.Millisecond,
	}
}

func (c *Config) fill() error {
	d := DefaultConfig()
	var errs []error
	if c.DataDir == "" {
		c.DataDir = d.DataDir
	}
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node id %d: must be >= 0", c.NodeID))
	} else if c.NodeID == 0 {
		c.NodeID = d.NodeID
	}
	if c.DefaultPartitions < 0 {
		errs = append(errs, fmt.Errorf("default partitions %d: must be >= 1", c.DefaultPartitions))
	} else if c.DefaultPartitions == 0 {
		c.DefaultPartitions = d.DefaultPartitions
	}
	if c.MaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("max request bytes %d: must be > 0", c.MaxRequestBytes))
	} else if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = d.MaxRequestBytes
	}
	switch {
	case c.QueuedMaxRequestBytes == 0:
		c.QueuedMaxRequestBytes = d.QueuedMaxRequestBytes
	case c.QueuedMaxRequestBytes < -1:
		errs = append(errs, fmt.Errorf("queued max request bytes %d: must be -1 (unlimited) or > 0", c.QueuedMaxRequestBytes))
	}
	if c.QueuedMaxRequestBytes > 0 && c.QueuedMaxRequestBytes < int64(c.MaxRequestBytes) {
		errs = append(errs, fmt.Errorf("queued max request bytes %d is below the max request bytes %d: a largest request could never be read", c.QueuedMaxRequestBytes, c.MaxRequestBytes))
	}
	if c.MaxConnections < 0 || c.MaxConnectionsPerIP < 0 {
		errs = append(errs, fmt.Errorf("max connections %d / per ip %d: must be >= 0 (0 = unlimited)", c.MaxConnections, c.MaxConnectionsPerIP))
	}
	if c.ConnectionsMaxIdle == 0 {
		c.ConnectionsMaxIdle = d.ConnectionsMaxIdle
	}
	if c.Fsync.Mode == commitlog.FsyncInterval && c.Fsync.Interval <= 0 {
		errs = append(errs, errors.New("fsync interval must be > 0"))
	}
	if c.LogDefaults == (commitlog.Config{}) {
		c.LogDefaults = d.LogDefaults
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = d.RetentionCheckInterval
	}
	if c.GroupMinSessionTimeout <= 0 {
		c.GroupMinSessionTimeout = d.GroupMinSessionTimeout
	}
	if c.GroupMaxSessionTimeout <= 0 {
		c.GroupMaxSessionTimeout = d.GroupMaxSessionTimeout
	}
	if c.GroupMinSessionTimeout > c.GroupMaxSessionTimeout {
		errs = append(errs, fmt.Errorf("group min session timeout %s is above the max %s", c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout))
	}
	switch {
	case c.GroupInitialRebalanceDelay < 0:
		errs = append(errs, fmt.Errorf("group initial rebalance delay %s: must be >= 0 (NoGroupInitialRebalanceDelay turns it off)", c.GroupInitialRebalanceDelay))
	case c.NoGroupInitialRebalanceDelay:
		c.GroupInitialRebalanceDelay = 0
	case c.GroupInitialRebalanceDelay == 0:
		c.GroupInitialRebalanceDelay = d.GroupInitialRebalanceDelay
	}
	if c.OffsetsRetention <= 0 {
		c.OffsetsRetention = d.OffsetsRetention
	}
	if c.OffsetsTopicPartitions <= 0 {
		c.OffsetsTopicPartitions = d.OffsetsTopicPartitions
	}
	if c.AuthFailureDelay == 0 {
		c.AuthFailureDelay = d.AuthFailureDelay
	}
	for _, su := range c.SuperUsers {
		if strings.TrimPrefix(su, "User:") == "" {
			errs = append(errs, fmt.Errorf("super user %q: want a user name or User:name", su))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return errors.Join(errs...)
}

// Broker is one running broker. Create it with New, then Serve a listener.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu        sync.RWMutex // guards the catalogue below; taken before any commitlog lock
	clusterID string
	topics    map[string]*topic
	topicIDs  map[[16]byte]*topic
	pids      producerIDs
	// catalogueRaw is the catalogue file's content as last read or written.
	catalogueRaw []byte
	groups       *coordinator
	txns         *txnCoordinator // txn.go
	metrics      *metrics
	remover      *commitlog.Remover // nil: dropped segments go at once

	lnMu     sync.Mutex
	lns      []net.Listener
	addr     net.Addr
	conns    map[*conn]struct{}
	perIP    map[string]int // open connections per remote address (under lnMu)
	connGone chan struct{}  // signalled when a connection closes (for max.connections)
	queued   *byteSemaphore // queued.max.request.bytes

	connWG sync.WaitGroup // connection goroutines
	bgWG   sync.WaitGroup // background loops (retention, interval fsync, acks=0 fsync)
	acks0  *acksZeroSyncer
	closed chan struct{}
	once   sync.Once
	lock   *os.File // the data directory's lock, held until Close
	reqLog requestLog

	acls   *aclStore       // ACLs (acls.json in the data dir)
	users  *auth.Users     // SCRAM credentials (users.json in the data dir)
	authOn atomic.Bool     // an authenticated listener is served: authorization is on
	supers map[string]bool // super-user principals ("User:alice")
}

// New opens (or creates) the data directory, recovers every partition and
// returns a broker that is ready to Serve.
func New(cfg Config) (*Broker, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg:      cfg,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		topics:   make(map[string]*topic),
		topicIDs: make(map[[16]byte]*topic),
		conns:    make(map[*conn]struct{}),
		perIP:    make(map[string]int),
		connGone: make(chan struct{}, 1),
		queued:   newByteSemaphore(cfg.QueuedMaxRequestBytes),
		closed:   make(chan struct{}),
		lock:     lock,
	}
	b.supers = map[string]bool{internalPrincipal: true}
	for _, su := range cfg.SuperUsers {
		b.supers["User:"+strings.TrimPrefix(su, "User:")] = true
	}
	if b.users, err = auth.OpenUsers(cfg.DataDir); err != nil {
		cancel()
		unlockDataDir(lock)
		return nil, err
	}
	if b.acls, err = openACLs(cfg.DataDir); err != nil {
		cancel()
		unlockDataDir(lock)
		return nil, err
	}
	b.authOn.Store(cfg.Authorize)
	b.groups = &coordinator{b: b, groups: map[string]*group{}}
	b.txns = newTxnCoordinator(b)
	b.metrics = newMetrics(b)
	if cfg.DeleteRate >= 0 {
		rate := cfg.DeleteRate
		if rate == 0 {
			rate = DefaultDeleteRate
		}
		b.remover = commitlog.NewRemover(rate, deleteBacklog, b.log)
	}
	if err := b.loadCatalogue(); err != nil {
		cancel()
		b.closeLogs()
		unlockDataDir(lock)
		return nil, err
	}
	if err := b.groups.load(); err != nil {
		cancel()
		b.closeLogs()
		unlockDataDir(lock)
		return nil, fmt.Errorf("load consumer groups: %w", err)
	}
	if err := b.txns.load(); err != nil {
		cancel()
		b.closeLogs()
		unlockDataDir(lock)
		return nil, fmt.Errorf("load transactions: %w", err)
	}
	b.bgWG.Add(1)
	go b.txns.abortLoop()
	b.bgWG.Add(1)
	go b.retentionLoop()
	if cfg.Fsync.Mode == commitlog.FsyncAlways {
		b.acks0 = newAcksZeroSyncer()
		b.bgWG.Add(1)
		go b.acksZeroLoop()
	}
	if cfg.Fsync.Mode == commitlog.FsyncInterval {
		b.bgWG.Add(1)
		go b.flushLoop(cfg.Fsync.Interval)
	}
	return b, nil
}

// Serve accepts PLAINTEXT Kafka connections on ln until Close, advertising
// Config.AdvertisedHost/Port. It returns nil after Close.
func (b *Broker) Serve(ln net.Listener) error {
	return b.ServeListener(ln, Listener{AdvertisedHost: b.cfg.AdvertisedHost, AdvertisedPort: b.cfg.AdvertisedPort})
}

// ServeListener accepts Kafka connections on ln until Close, served as l
// says (security protocol, advertised address, TLS). It returns nil after Close.
func (b *Broker) ServeListener(ln net.Listener, l Listener) error {
	ls := &listenerState{Listener: l, addr: ln.Addr()}
	if err := ls.validate(); err != nil {
		ln.Close()
		return err
	}
	if l.Protocol.SASL() || (l.TLS != nil && l.TLS.ClientAuth >= tls.VerifyClientCertIfGiven) {
		b.authOn.Store(true)
	}
	b.lnMu.Lock()
	select {
	case <-b.closed:
		b.lnMu.Unlock()
		ln.Close()
		return errors.New("broker closed")
	default:
	}
	b.lns = append(b.lns, ln)
	if b.addr == nil {
		b.addr = ln.Addr()
	}
	b.lnMu.Unlock()
	var tempDelay time.Duration
	for {
		if !b.waitForConnSlot() {
			return nil
		}
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-b.closed:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return err // closed by its owner (the stack closes listeners first)
			}
			// Out of descriptors (EMFILE, ENFILE), out of buffers, or a
			// connection reset before it was accepted: none of these is the
			// listener's fault. Back off and accept again, as net/http does,
			// so that the connections already open keep being served.
			if tempDelay == 0 {
				b.log.Warn("accepting a connection failed; retrying with backoff", "err", err)
			}
			tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(tempDelay):
			case <-b.closed:
				return nil
			}
			continue
		}
		tempDelay = 0
		b.metrics.accepted.Inc()
		if !b.startConn(c, ls) {
			return nil
		}
	}
}

// startConn registers an accepted connection and serves it in its own
// goroutine; false once the broker is closed.
func (b *Broker) startConn(c net.Conn, ls *listenerState) bool {
	ip := remoteIP(c)
	cn := newConn(b, c, ls)
	b.lnMu.Lock()
	select {
	case <-b.closed:
		b.lnMu.Unlock()
		c.Close()
		return false
	default:
	}
	if max := b.cfg.MaxConnectionsPerIP; max > 0 && !ls.internal && b.perIP[ip] >= max {
		b.lnMu.Unlock()
		b.log.Debug("closing a connection over max.connections.per.ip", "remote", ip, "max", max)
		c.Close()
		return true
	}
	b.conns[cn] = struct{}{}
	b.perIP[ip]++
	b.connWG.Add(1)
	b.lnMu.Unlock()
	go func() {
		defer b.connWG.Done()
		cn.serve()
		b.lnMu.Lock()
		delete(b.conns, cn)
		if b.perIP[ip]--; b.perIP[ip] <= 0 {
			delete(b.perIP, ip)
		}
		b.lnMu.Unlock()
		select {
		case b.connGone <- struct{}{}:
		default:
		}
	}()
	return true
}

// waitForConnSlot blocks while max.connections connections are open, as
// Kafka's acceptor does. It returns false once the broker is closed.
func (b *Broker) waitForConnSlot() bool {
	for {
		b.lnMu.Lock()
		n := len(b.conns)
		b.lnMu.Unlock()
		if b.cfg.MaxConnections <= 0 || n < b.cfg.MaxConnections {
			return true
		}
		select {
		case <-b.connGone:
		case <-b.closed:
			return false
		}
	}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}

// Addr is the address of the first listener passed to Serve, or nil.
func (b *Broker) Addr() net.Addr {
	b.lnMu.Lock()
	defer b.lnMu.Unlock()
	return b.addr
}

// ClusterID is this broker's persistent cluster id.
func (b *Broker) ClusterID() string { return b.clusterID }

// Close stops accepting, lets in-flight requests finish (up to ctx's deadline),
// then flushes and closes every partition. It is safe to call more than once.
func (b *Broker) Close(ctx context.Context) error {
	var err error
	b.once.Do(func() {
		b.lnMu.Lock()
		close(b.closed)
		for _, ln := range b.lns {
			ln.Close()
		}
		for c := range b.conns {
			c.stopReading()
		}
		b.lnMu.Unlock()
		done := make(chan struct{})
		go func() { b.connWG.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			b.lnMu.Lock()
			for c := range b.conns {
				c.nc.Close()
			}
			b.lnMu.Unlock()
			<-done
		}
		b.cancel()
		b.bgWG.Wait()
		b.groups.stop()
		err = b.closeLogs()
		unlockDataDir(b.lock)
	})
	return err
}

func (b *Broker) closeLogs() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, t := range b.topics {
		for _, p := range t.parts {
			if err := p.log.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s-%d: %w", t.name, p.index, err))
			}
		}
	}
	if err := b.pids.close(); err != nil {
		errs = append(errs, err)
	}
	if b.remover != nil {
		b.remover.Close() // what is still queued is deleted on the next start
	}
	return errors.Join(errs...)
}

// DefaultDeleteRate is Config.DeleteRate's default: 16 MiB/s, the rate at
// which deleting did not stall fdatasyncs on ext4 with discard over virtio
// (32 MiB/s: 40-46 ms stalls; all at once: 90-270 ms; docs/BENCHMARKS.md).
const DefaultDeleteRate = 16 << 20

// deleteBacklog is how many dropped bytes may wait before they go at once.
const deleteBacklog = 2 << 30

// advertised returns the host and port that Metadata hands to clients.
func (b *Broker) advertised() (string, int32) {
	host, port := b.cfg.AdvertisedHost, b.cfg.AdvertisedPort
	if host != "" && port != 0 {
		return host, port
	}
	if a := b.Addr(); a != nil {
		h, p, err := net.SplitHostPort(a.String())
		if err == nil {
			if host == "" {
				host = h
				if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
					host = "127.0.0.1"
				}
			}
			if port == 0 {
				n, _ := strconv.Atoi(p)
				port = int32(n)
			}
		}
	}
	return host, port
}

func (b *Broker) retentionLoop() {
	defer b.bgWG.Done()
	t := time.NewTicker(b.cfg.RetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			b.ApplyRetention()
		}
	}
}

// ApplyRetention runs retention (and time-based segment rolling) and, for
// topics with cleanup.policy=compact, log compaction on every partition now, and expires the offsets of long-empty groups, as the
// background loop does every RetentionCheckInterval.
func (b *Broker) ApplyRetention() {
	b.groups.expireOffsets(time.Now())
	for _, p := range b.allPartitions() {
		if n, err := p.log.ApplyRetention(); err != nil && !errors.Is(err, commitlog.ErrClosed) {
			b.log.Warn("retention failed", "partition", p.String(), "err", err)
		} else if n > 0 {
			b.log.Debug("retention deleted segments", "partition", p.String(), "segments", n)
		}
		if ms := p.topic.compactAfterMs.Load(); ms >= 0 {
			if n, err := p.log.Compact(time.Duration(ms) * time.Millisecond); err != nil && !errors.Is(err, commitlog.ErrClosed) {
				b.log.Warn("compaction failed", "partition", p.String(), "err", err)
			} else if n > 0 {
				b.log.Debug("compaction removed records", "partition", p.String(), "records", n)
			}
		}
	}
}

func (b *Broker) flushLoop(every time.Duration) {
	defer b.bgWG.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
			for _, p := range b.allPartitions() {
				if err := p.log.Flush(); err != nil && !errors.Is(err, commitlog.ErrClosed) {
					b.log.Error("fsync failed", "partition", p.String(), "err", err)
				}
			}
		}
	}
}

func newClusterID() string {
	var u [16]byte
	rand.Read(u[:])
	return base64.RawURLEncoding.EncodeToString(u[:])
}
