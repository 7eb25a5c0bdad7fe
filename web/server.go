package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/internal/topics"
	"github.com/tickertape/tickertape/serde"
)

// flushEvery is how often coalesced changes go out to browsers.
const flushEvery = 100 * time.Millisecond

//go:embed static
var static embed.FS

// Config configures the dashboard and /metrics.
type Config struct {
	// Brokers and Serde are where the feed reads market.candles and
	// market.events (any Kafka cluster, any Confluent-compatible registry).
	// With no Brokers, only /metrics is served.
	Brokers []string
	Serde   *serde.Serde
	Topics  topics.Names
	// Gatherer is what /metrics serves and the health view reads.
	Gatherer prometheus.Gatherer
	// Intervals are the candle intervals the dashboard offers; a stream
	// request for another one is refused with 400. Default 1s,1m,5m,1h.
	Intervals []string
	// MaxClients bounds concurrent live streams (503 beyond). Default 1000.
	MaxClients int
	// HealthEvery is the health view's period. Default 1s.
	HealthEvery time.Duration
	KafkaOpts   []kgo.Opt
	Logger      *slog.Logger
}

// Server serves the dashboard, its live feed and /metrics.
type Server struct {
	cfg        Config
	log        *slog.Logger
	hub        *hub
	feed       *feed
	mux        *http.ServeMux
	lastHealth atomic.Pointer[healthJSON]
	healthMu   sync.Mutex // one on-demand health sample at a time
}

// New validates cfg and fills in defaults.
func New(cfg Config) (*Server, error) {
	if len(cfg.Brokers) > 0 && cfg.Serde == nil {
		return nil, errors.New("web: Brokers without Serde (the registry client that decodes the topics)")
	}
	cfg.Topics = cfg.Topics.WithDefaults()
	if len(cfg.Intervals) == 0 {
		cfg.Intervals = []string{"1s", "1m", "5m", "1h"}
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 1000
	}
	if cfg.HealthEvery <= 0 {
		cfg.HealthEvery = time.Second
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := newHub()
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "web"), hub: h, feed: newFeed(h), mux: http.NewServeMux()}
	sub, _ := fs.Sub(static, "static")
	files := http.FileServerFS(sub)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.log}, MaxRequestsInFlight: 4}))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	})
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	s.mux.HandleFunc("GET /api/markets", s.markets)
	s.mux.HandleFunc("GET /api/candles", s.candles)
	s.mux.HandleFunc("GET /api/health", s.health)
	s.mux.HandleFunc("GET /api/stream", s.stream)
	return s, nil
}

// Handler serves /, /static/, /api/ and /metrics.
func (s *Server) Handler() http.Handler { return s.mux }

// Run reads the topics and samples health until ctx is done. A feed that
// fails (the cluster is unreachable) is restarted with backoff; the rest
// of the server keeps answering.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.runHealth(ctx) }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.hub.flush()
			}
		}
	}()
	if len(s.cfg.Brokers) > 0 {
		backoff := time.Second
		for ctx.Err() == nil {
			if err := s.runFeed(ctx); err != nil {
				s.log.Warn("dashboard feed stopped; retrying", "err", err, "in", backoff)
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
	wg.Wait()
	s.hub.closeAll()
	return nil
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) markets(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"markets": s.feed.list(), "intervals": s.cfg.Intervals})
}

// market validates the exchange, symbol and interval query parameters.
func (s *Server) market(r *http.Request, needInterval bool) (marketKey, string, int, error) {
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "exchange", "symbol", "interval":
		default:
			return marketKey{}, "", http.StatusBadRequest, fmt.Errorf("unknown query parameter %q (use exchange, symbol and interval)", name)
		}
	}
	k := marketKey{q.Get("exchange"), q.Get("symbol")}
	iv := q.Get("interval")
	if k.exchange == "" || k.symbol == "" {
		return k, iv, http.StatusBadRequest, errors.New("exchange and symbol are required (e.g. ?exchange=poloniex&symbol=BTC-USDT&interval=1m; GET /api/markets lists them)")
	}
	if needInterval || iv != "" {
		ok := false
		for _, i := range s.cfg.Intervals {
			ok = ok || i == iv
		}
		if !ok {
			return k, iv, http.StatusBadRequest, fmt.Errorf("interval %q is not one of %s", iv, strings.Join(s.cfg.Intervals, ", "))
		}
	}
	exOK, mOK := s.feed.known(k)
	switch {
	case !exOK:
		return k, iv, http.StatusNotFound, fmt.Errorf("no data for exchange %q (GET /api/markets lists the markets seen so far)", k.exchange)
	case !mOK:
		return k, iv, http.StatusNotFound, fmt.Errorf("no data for symbol %q on %s (symbols are normalized BASE-QUOTE, like BTC-USDT; GET /api/markets lists them)", k.symbol, k.exchange)
	}
	return k, iv, 0, nil
}

func (s *Server) candles(w http.ResponseWriter, r *http.Request) {
	k, iv, code, err := s.market(r, true)
	if err != nil {
		writeJSON(w, code, apiError{err.Error()})
		return
	}
	raw, _ := s.feed.snapshot(k, iv)
	w.Header().Set("Content-Type", "application/json")
	w.Write(raw)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if h := s.lastHealth.Load(); h != nil && time.Since(time.UnixMicro(h.TimeUs)) < 3*s.cfg.HealthEvery {
		writeJSON(w, http.StatusOK, h)
		return
	}
	s.healthMu.Lock()
	h, _ := s.healthSample(nil)
	s.healthMu.Unlock()
	writeJSON(w, http.StatusOK, h)
}

// stream is the live feed over Server-Sent Events: with a market, a
// "snapshot" event, then its candles of one interval, trades, book, best
// bid/ask and consolidated best bid/ask; always "health" every period.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	topicsWanted := []string{healthTopic}
	var first []byte
	if len(r.URL.Query()) > 0 {
		k, iv, code, err := s.market(r, true)
		if err != nil {
			writeJSON(w, code, apiError{err.Error()})
			return
		}
		topicsWanted = append(topicsWanted, topicOf(k, ""), topicOf(k, iv), symbolTopic(k.symbol))
		snap, _ := s.feed.snapshot(k, iv)
		first = frame("snapshot", snap)
	}
	if s.hub.count.Load() >= int64(s.cfg.MaxClients) {
		writeJSON(w, http.StatusServiceUnavailable, apiError{fmt.Sprintf("%d live dashboards are open already (the limit)", s.cfg.MaxClients)})
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub := s.hub.subscribe(topicsWanted...)
	defer s.hub.unsubscribe(sub)
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if first != nil && !write(first) {
		return
	}
	if h := s.lastHealth.Load(); h != nil {
		raw, _ := json.Marshal(h)
		if !write(frame("health", raw)) {
			return
		}
	} else if !write([]byte(": connected\n\n")) {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.gone:
			return // dropped for not keeping up; EventSource reconnects
		case b := <-sub.ch:
			if !write(b) {
				return
			}
		case <-ping.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		}
	}
}

type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Warn("metrics: " + fmt.Sprint(v...)) }
