// Package okx connects tickertape to OKX's v5 public market data: the
// WebSocket (trades-all on /ws/v5/business; tickers and books on
// /ws/v5/public) and the public REST (instruments, trades, history-trades).
// Its books chain prevSeqId to the previous seqId (exchange.ChainSync); the
// checksum OKX still sends is 0, "none", since 2026-06-23, and is verified
// whenever it is not. PROTOCOL.md records every fact this package relies
// on with its documentation page. Fake is an OKX that speaks the same
// protocol on loopback, for tests and tickertape demo.
package okx

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// Live endpoints. The WebSocket paths /ws/v5/public and /ws/v5/business
// are appended to WSURL (given with either path, the path is dropped).
const (
	WSURL   = "wss://ws.okx.com:8443"
	RESTURL = "https://www.okx.com"
)

// Paths of the two WebSocket endpoints a session uses.
const (
	PublicPath   = "/ws/v5/public"
	BusinessPath = "/ws/v5/business"
)

// Page sizes of the REST trade endpoints.
const (
	MaxRecentTrades  = 500 // GET /api/v5/market/trades
	MaxHistoryTrades = 100 // GET /api/v5/market/history-trades
)

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "okx"
	HTTPClient     *http.Client
	Now            func() time.Time
	Logger         *slog.Logger
	// PingInterval is how often each connection sends the text "ping";
	// OKX closes a connection that has sent nothing for 30 s, and a
	// connection that has received nothing (not even a pong) for three
	// intervals is taken as dead (the other one may still be talking, so
	// the supervisor's watchdog would not see it). Default 20s.
	PingInterval time.Duration
	// BackfillPages bounds the history-trades pages (100 trades each) one
	// Trades call reads walking back to the cursor. Default 100.
	BackfillPages int
	// ResyncEvery is the least time between two resubscriptions of one
	// symbol's book. Default 1s.
	ResyncEvery time.Duration
	// ConnectsPerSecond bounds the connection requests (OKX: about 3 a
	// second per IP); connectors with the same bound share one pacer, so
	// the bound holds for the process. Default 3.
	ConnectsPerSecond int
}

// Connector is the OKX exchange.Connector.
type Connector struct {
	cfg      Config
	connects *pacer
}

var _ exchange.Connector = (*Connector)(nil)

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient, Logger: o.Logger}), nil
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(FakeConfig{FakeConfig: exchangetest.ConfigFrom(o)})
	})
}

// New returns a Connector.
func New(cfg Config) *Connector {
	cfg.WSURL = strings.TrimRight(cmp.Or(cfg.WSURL, WSURL), "/")
	// A URL given with one of the endpoint paths means its host: the
	// session needs both endpoints.
	cfg.WSURL = strings.TrimSuffix(strings.TrimSuffix(cfg.WSURL, PublicPath), BusinessPath)
	cfg.RESTURL = strings.TrimRight(cmp.Or(cfg.RESTURL, RESTURL), "/")
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.BackfillPages <= 0 {
		cfg.BackfillPages = 100
	}
	if cfg.ResyncEvery <= 0 {
		cfg.ResyncEvery = time.Second
	}
	if cfg.ConnectsPerSecond <= 0 {
		cfg.ConnectsPerSecond = 3
	}
	return &Connector{cfg: cfg, connects: pacerFor(cfg.ConnectsPerSecond)}
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "OKX (v5 public)", WSURL: WSURL + PublicPath + " and " + BusinessPath, RESTURL: RESTURL,
		Channels: []string{"trades (trades-all on /ws/v5/business: one trade a message)", "tickers (tickers: last, best bid/ask, 24 h open/high/low/volume)",
			"books (books, 400 levels)"},
		BookSync:       "prevSeqId chain: each update's prevSeqId is the previous seqId (keep-alives and decreases after maintenance chain too); a break resubscribes the book; a nonzero checksum is verified (OKX sends 0 since 2026-06-23)",
		Backfill:       "by trade id (GET /api/v5/market/trades, then history-trades?type=1&after=, 100 a page), about 3 months back",
		DefaultSymbols: []string{"BTC-USDT", "ETH-USDT"},
		SymbolExample:  "BTC-USDT", SideMeaning: "side of the taker",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.ChainSync{Sum: Checksum} }

// Markets implements exchange.Connector with GET
// /api/v5/public/instruments?instType=SPOT.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	const path = "/api/v5/public/instruments?instType=SPOT"
	body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	p := newParser(c.cfg.Exchange, nil)
	items, err := p.restAnswer(body, path)
	if err != nil {
		return nil, err
	}
	out := make([]exchange.Market, 0, len(items))
	for _, it := range items {
		s := func(k string) string { return string(it.GetStringBytes(k)) }
		if s("instId") == "" {
			continue
		}
		out = append(out, exchange.Market{VenueSymbol: s("instId"), Symbol: exchange.Symbol(s("baseCcy"), s("quoteCcy"), nil),
			Base: exchange.NormalizeAsset(s("baseCcy"), nil), Quote: exchange.NormalizeAsset(s("quoteCcy"), nil),
			PriceScale: exchange.ScaleOf(s("tickSz")), SizeScale: exchange.ScaleOf(s("lotSz")), Status: s("state")})
	}
	slices.SortFunc(out, func(a, b exchange.Market) int { return strings.Compare(a.VenueSymbol, b.VenueSymbol) })
	return out, nil
}

// pacers pace connection requests, one per bound for the process: OKX
// allows about 3 a second per IP.
var (
	pacersMu sync.Mutex
	pacers   = map[int]*pacer{}
)

func pacerFor(perSecond int) *pacer {
	pacersMu.Lock()
	defer pacersMu.Unlock()
	p := pacers[perSecond]
	if p == nil {
		p = &pacer{n: perSecond, per: time.Second}
		pacers[perSecond] = p
	}
	return p
}

type pacer struct {
	mu   sync.Mutex
	n    int
	per  time.Duration
	last []time.Time
}

// wait blocks until one more connection request keeps within n per period.
func (p *pacer) wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := time.Now()
		for len(p.last) > 0 && now.Sub(p.last[0]) >= p.per {
			p.last = p.last[1:]
		}
		if len(p.last) < p.n {
			p.last = append(p.last, now)
			p.mu.Unlock()
			return nil
		}
		wait := p.per - now.Sub(p.last[0])
		p.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

type subArg struct {
	Channel string `json:"channel"`
	InstID  string `json:"instId"`
}

type request struct {
	ID   string   `json:"id,omitempty"`
	Op   string   `json:"op"`
	Args []subArg `json:"args"`
}

// maxOps is how many (un)subscribe requests one connection may send: OKX
// allows 480 an hour; past this budget the session ends and a new
// connection starts with fresh snapshots.
const maxOps = 400

type wsFrame struct{ raw []byte }

type conn struct {
	ws   *websocket.Conn
	path string
	ops  int
	mu   sync.Mutex
	recv time.Time // the last frame read
}

type session struct {
	c      *Connector
	public *conn // tickers, books (nil if neither is subscribed)
	biz    *conn // trades-all (nil if trades are not subscribed)
	p      *parser
	early  [][]byte
	frames chan wsFrame
	done   chan struct{}
	once   sync.Once
	// failed is closed when a connection broke (err says how): Next
	// reports it before any frame still queued, so that a session with a
	// dead connection ends at once (what was queued is backfilled).
	failed chan struct{}
	fail   sync.Once
	err    error
	resync map[string]time.Time
}

// Dial implements exchange.Connector: trades-all on /ws/v5/business, tickers
// and books on /ws/v5/public, one connection each; it returns once OKX has
// acknowledged every (channel, instId).
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s := &session{c: c, p: newParser(c.cfg.Exchange, func() int64 { return c.cfg.Now().UnixMicro() }),
		frames: make(chan wsFrame, 4096), done: make(chan struct{}), failed: make(chan struct{}), resync: map[string]time.Time{}}
	var pub, biz []subArg
	for _, sym := range sub.Symbols {
		if sub.Tickers {
			pub = append(pub, subArg{"tickers", sym})
		}
		if sub.Books {
			pub = append(pub, subArg{"books", sym})
		}
		if sub.Trades {
			biz = append(biz, subArg{"trades-all", sym})
		}
	}
	var err error
	if len(pub) > 0 {
		if s.public, err = s.open(dctx, PublicPath, pub); err != nil {
			s.Close()
			return nil, err
		}
	}
	if len(biz) > 0 {
		if s.biz, err = s.open(dctx, BusinessPath, biz); err != nil {
			s.Close()
			return nil, err
		}
	}
	for _, cn := range []*conn{s.public, s.biz} {
		if cn != nil {
			go s.reader(cn)
		}
	}
	go s.pinger()
	return s, nil
}

// open connects one endpoint, subscribes args and waits for their
// acknowledgements; frames that arrive meanwhile are kept for Next.
func (s *session) open(ctx context.Context, path string, args []subArg) (*conn, error) {
	if err := s.c.connects.wait(ctx); err != nil {
		return nil, fmt.Errorf("okx: waiting for the connection rate limit: %w", err)
	}
	ws, err := exchange.DialWS(ctx, "okx", s.c.cfg.WSURL, path, 32<<20)
	if err != nil {
		return nil, err
	}
	cn := &conn{ws: ws, path: path, recv: time.Now()}
	if err := s.send(ctx, cn, request{Op: "subscribe", Args: args}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	want := map[subArg]bool{}
	for _, a := range args {
		want[a] = true
	}
	for len(want) > 0 {
		_, raw, err := ws.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, fmt.Errorf("okx: waiting for the subscriptions on %s: %w", path, err)
		}
		_, fr, _ := s.p.parse(raw)
		if fr.errMsg != "" {
			ws.CloseNow()
			return nil, fmt.Errorf("okx: subscription refused on %s: %s (instruments are spelled BTC-USDT; see tickertape exchanges)", path, fr.errMsg)
		}
		for _, a := range fr.acks {
			delete(want, subArg{a.channel, a.instID})
		}
		if len(fr.acks) == 0 && !fr.pong {
			s.early = append(s.early, raw) // data before the last ack: parsed in Next, in order
		}
	}
	return cn, nil
}

func (s *session) send(ctx context.Context, cn *conn, r request) error {
	cn.ops++
	return exchange.SendJSON(ctx, cn.ws, "okx", r)
}

// reader hands one connection's frames to Next.
func (s *session) reader(cn *conn) {
	for {
		_, raw, err := cn.ws.Read(context.Background())
		if err != nil {
			s.fail.Do(func() {
				s.err = fmt.Errorf("okx: read %s: %w", cn.path, err)
				close(s.failed)
			})
			return
		}
		cn.mu.Lock()
		cn.recv = time.Now()
		cn.mu.Unlock()
		select {
		case s.frames <- wsFrame{raw}:
		case <-s.done:
			return
		}
	}
}

// pinger sends the text "ping" on each connection every PingInterval and
// ends the session when a connection has received nothing for three.
func (s *session) pinger() {
	every := s.c.cfg.PingInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		for _, cn := range []*conn{s.public, s.biz} {
			if cn == nil {
				continue
			}
			cn.mu.Lock()
			silent := time.Since(cn.recv)
			cn.mu.Unlock()
			if silent > 3*every {
				s.c.cfg.Logger.Warn("okx: connection silent, not even a pong; reconnecting", "endpoint", cn.path, "silent", silent.Round(time.Second))
				s.closeConns()
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := cn.ws.Write(ctx, websocket.MessageText, []byte("ping"))
			cancel()
			if err != nil {
				return // the reader sees the broken connection
			}
		}
	}
}

// Next implements exchange.Session.
func (s *session) Next(ctx context.Context) ([]exchange.Event, error) {
	var raw []byte
	if len(s.early) > 0 {
		raw, s.early = s.early[0], s.early[1:]
	} else {
		select {
		case <-s.failed:
			return nil, s.err
		default:
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.failed:
			return nil, s.err
		case f := <-s.frames:
			raw = f.raw
		}
	}
	evs, _, err := s.p.parse(raw)
	return evs, err
}

// Resync implements exchange.Session: unsubscribing and subscribing the
// book again makes OKX send a fresh snapshot (prevSeqId -1). Resyncs of
// one symbol are ResyncEvery apart, and a connection past its
// (un)subscribe budget ends the session instead.
func (s *session) Resync(ctx context.Context, sym string) error {
	if s.public == nil {
		return errors.New("okx: resync without a books subscription")
	}
	if s.public.ops+2 > maxOps {
		return fmt.Errorf("okx: %d (un)subscribe requests on this connection (OKX allows 480 an hour): reconnecting for fresh books", s.public.ops)
	}
	if wait := time.Until(s.resync[sym].Add(s.c.cfg.ResyncEvery)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	s.resync[sym] = time.Now()
	arg := []subArg{{"books", sym}}
	if err := s.send(ctx, s.public, request{Op: "unsubscribe", Args: arg}); err != nil {
		return err
	}
	return s.send(ctx, s.public, request{Op: "subscribe", Args: arg})
}

func (s *session) closeConns() {
	for _, cn := range []*conn{s.public, s.biz} {
		if cn != nil {
			cn.ws.CloseNow()
		}
	}
}

// Close implements exchange.Session.
func (s *session) Close() error {
	s.once.Do(func() { close(s.done) })
	s.closeConns()
	return nil
}

// Trades implements exchange.Connector. Without a cursor: the most recent
// limit trades (GET /api/v5/market/trades). With one: the recent 500, and
// when they do not reach back to the cursor, history-trades pages
// (type=1&after=<the oldest id so far>, newest first, 100 each) until a
// page does. All trades after the cursor come back in one page, oldest
// first. A history that ends (or BackfillPages that run out) before the
// cursor is reported as a gap.
func (c *Connector) Trades(ctx context.Context, sym string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	p := newParser(c.cfg.Exchange, func() int64 { return c.cfg.Now().UnixMicro() })
	n := MaxRecentTrades
	if after.IsZero() {
		n = min(max(limit, 1), MaxRecentTrades)
	}
	q := url.Values{"instId": {sym}, "limit": {strconv.Itoa(n)}}
	newest, err := c.tradePage(ctx, p, "/api/v5/market/trades?"+q.Encode())
	if err != nil {
		return exchange.TradePage{}, err
	}
	if after.IsZero() {
		slices.Reverse(newest)
		return exchange.TradePage{Trades: newest}, nil
	}
	from, numeric := after.NumericID()
	if !numeric {
		return exchange.TradePage{}, fmt.Errorf("okx: trade cursor %q is not an OKX trade id", after.ID)
	}
	all := newest // newest first
	reached := len(newest) > 0 && idOf(newest[len(newest)-1]) <= from
	ended := len(newest) < n
	for page := 0; !reached && !ended && page < c.cfg.BackfillPages; page++ {
		q := url.Values{"instId": {sym}, "type": {"1"}, "limit": {strconv.Itoa(MaxHistoryTrades)}}
		if len(all) > 0 {
			q.Set("after", all[len(all)-1].TradeID)
		}
		ts, err := c.tradePage(ctx, p, "/api/v5/market/history-trades?"+q.Encode())
		if err != nil {
			return exchange.TradePage{}, err
		}
		all = append(all, ts...)
		reached = len(ts) > 0 && idOf(ts[len(ts)-1]) <= from
		ended = len(ts) < MaxHistoryTrades
	}
	keep := make([]market.Trade, 0, len(all))
	seen := map[string]bool{}
	for i := len(all) - 1; i >= 0; i-- {
		t := all[i]
		if idOf(t) <= from || seen[t.TradeID] {
			continue
		}
		seen[t.TradeID] = true
		keep = append(keep, t)
	}
	slices.SortStableFunc(keep, func(a, b market.Trade) int { return cmp.Compare(idOf(a), idOf(b)) })
	page := exchange.TradePage{Trades: keep}
	if !reached {
		// OKX trade ids rise but are not promised consecutive: how many
		// trades are missing is unknown.
		page.Gap = &exchange.TradeGap{Symbol: sym, AfterID: after.ID, FromTimeUs: after.TimeUs, Missing: -1}
		if len(keep) > 0 {
			page.Gap.BeforeID, page.Gap.ToTimeUs = keep[0].TradeID, keep[0].ExchangeTimeUs
		}
	}
	return page, nil
}

func idOf(t market.Trade) int64 {
	n, _ := strconv.ParseInt(t.TradeID, 10, 64)
	return n
}

// tradePage GETs one REST page of trades (newest first, as OKX sends them).
func (c *Connector) tradePage(ctx context.Context, p *parser, path string) ([]market.Trade, error) {
	body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	items, err := p.restAnswer(body, path)
	if err != nil {
		return nil, err
	}
	recv := c.cfg.Now().UnixMicro()
	out := make([]market.Trade, 0, len(items))
	for i, it := range items {
		t, err := p.trade(it, recv)
		if err != nil {
			return nil, fmt.Errorf("okx: trade %d of GET %s: %w", i, path, err)
		}
		t.Backfilled = true
		out = append(out, *t)
	}
	return out, nil
}

// get does one REST GET; non-200 answers become *exchange.RESTError.
func (c *Connector) get(ctx context.Context, path string) ([]byte, error) {
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "okx", c.cfg.RESTURL, path, 32<<20, nil)
}

var _ = fastjson.Parser{}
