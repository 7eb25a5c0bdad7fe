// Package binance connects tickertape to Binance spot's public market data:
// the WebSocket combined stream (<symbol>@trade, @bookTicker, @ticker,
// @depth@100ms) and the REST API (/api/v3/exchangeInfo, /depth, /trades,
// /historicalTrades). PROTOCOL.md records every fact this package relies
// on, with the documentation page it comes from. Fake is a Binance that
// speaks the same protocol on loopback, for tests and tickertape demo.
package binance

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// Live endpoints (data-stream.binance.vision serves market data only;
// Binance.US is wss://stream.binance.us:9443 and https://api.binance.us).
const (
	WSURL   = "wss://stream.binance.com:9443"
	RESTURL = "https://api.binance.com"
)

// Limits from the docs (PROTOCOL.md).
const (
	MaxTradesLimit = 1000
	DepthLimit     = 1000
	// WeightLimit is the REST request weight allowed per minute per IP.
	WeightLimit = 6000
	// MaxConnAge: Binance ends a connection after 24 h; we roll over before.
	MaxConnAge = 23*time.Hour + 30*time.Minute
)

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "binance"
	// PingInterval is how often the session pings (Binance pings every 20 s
	// itself and the library answers; our pings prove liveness). Default 20s.
	PingInterval time.Duration
	HTTPClient   *http.Client
	Now          func() time.Time
}

// Connector is the Binance exchange.Connector.
type Connector struct {
	cfg        Config
	usedWeight atomic.Int64 // X-MBX-USED-WEIGHT-1M of the last answer
	weightAt   atomic.Int64 // its minute (unix)
	markets    exchange.MarketCache
}

var _ exchange.Connector = (*Connector)(nil)

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient}), nil
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(exchangetest.ConfigFrom(o))
	})
}

// New returns a Connector.
func New(cfg Config) *Connector {
	cfg.WSURL = cmp.Or(cfg.WSURL, WSURL)
	cfg.RESTURL = cmp.Or(cfg.RESTURL, RESTURL)
	cfg.WSURL, cfg.RESTURL = strings.TrimRight(cfg.WSURL, "/"), strings.TrimRight(cfg.RESTURL, "/")
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	return &Connector{cfg: cfg}
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Binance spot", WSURL: WSURL, RESTURL: RESTURL,
		Channels:            []string{"trades (@trade, raw, not aggTrade)", "tickers (@ticker 24 h + @bookTicker best bid/ask)", "books (@depth@100ms + REST snapshot)"},
		BookSync:            "REST snapshot plus buffered deltas: drop u ≤ lastUpdateId, the first kept straddles it, then U = previous u + 1",
		Backfill:            "complete, by trade id (historicalTrades?fromId=), 1000 a page",
		DefaultSymbols:      []string{"BTCUSDT", "ETHUSDT"},
		MaxConnAge:          MaxConnAge,
		TradeIDsConsecutive: true,
		SymbolExample:       "BTCUSDT",
		SideMeaning:         "m (buyer is maker): true means the taker sold",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.UpdateIDSync{} }

// Markets implements exchange.Connector with GET /api/v3/exchangeInfo.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	body, err := c.get(ctx, "/api/v3/exchangeInfo", 20)
	if err != nil {
		return nil, err
	}
	var info struct {
		Symbols []struct {
			Symbol, Status, BaseAsset, QuoteAsset string
			Filters                               []struct{ FilterType, TickSize, StepSize string }
		}
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("binance: GET /api/v3/exchangeInfo: unexpected answer: %w", err)
	}
	out := make([]exchange.Market, 0, len(info.Symbols))
	for _, s := range info.Symbols {
		m := exchange.Market{VenueSymbol: s.Symbol, Symbol: exchange.Symbol(s.BaseAsset, s.QuoteAsset, nil), Base: exchange.NormalizeAsset(s.BaseAsset, nil),
			Quote: exchange.NormalizeAsset(s.QuoteAsset, nil), PriceScale: -1, SizeScale: -1, Status: s.Status}
		for _, f := range s.Filters {
			switch f.FilterType {
			case "PRICE_FILTER":
				m.PriceScale = exchange.ScaleOf(f.TickSize)
			case "LOT_SIZE":
				m.SizeScale = exchange.ScaleOf(f.StepSize)
			}
		}
		out = append(out, m)
	}
	c.markets.Set(out)
	return out, nil
}

// market returns a known market, fetching exchangeInfo once if needed;
// a symbol it does not list is still served with a split guessed from its
// quote suffix.
func (c *Connector) market(ctx context.Context, sym string) exchange.Market {
	return c.markets.Get(ctx, sym, c.Markets, guessMarket)
}

var quotes = []string{"USDT", "USDC", "FDUSD", "TUSD", "BUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL", "JPY", "USD"}

// guessMarket splits BTCUSDT by its quote asset, for symbols exchangeInfo
// could not confirm (it failed, or it is a delisted symbol).
func guessMarket(sym string) exchange.Market {
	for _, q := range quotes {
		if b, ok := strings.CutSuffix(sym, q); ok && b != "" {
			return exchange.Market{VenueSymbol: sym, Symbol: exchange.Symbol(b, q, nil), Base: b, Quote: q, PriceScale: -1, SizeScale: -1}
		}
	}
	return exchange.Market{VenueSymbol: sym, Symbol: sym, PriceScale: -1, SizeScale: -1}
}

// Dial implements exchange.Connector: one combined-stream connection for
// every symbol and channel (streams named in the URL are live once the
// upgrade succeeds), then a REST depth snapshot per symbol, fetched in the
// background while depth events are buffered.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	var streams []string
	ms := make([]exchange.Market, 0, len(sub.Symbols))
	for _, sym := range sub.Symbols {
		sym = strings.ToUpper(sym)
		ms = append(ms, c.market(ctx, sym))
		l := strings.ToLower(sym)
		if sub.Trades {
			streams = append(streams, l+"@trade")
		}
		if sub.Tickers {
			streams = append(streams, l+"@ticker", l+"@bookTicker")
		}
		if sub.Books {
			streams = append(streams, l+"@depth@100ms")
		}
	}
	if len(streams) > 1024 {
		return nil, fmt.Errorf("binance: %d streams is more than the 1024 one connection carries; run fewer symbols per process", len(streams))
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := exchange.DialWS(dctx, "binance", c.cfg.WSURL, "/stream?streams="+strings.Join(streams, "/"), 16<<20)
	if err != nil {
		return nil, err
	}
	sctx, scancel := context.WithCancel(context.Background())
	s := &session{c: c, conn: conn, ctx: sctx, cancel: scancel, frames: make(chan []byte, 1024), done: make(chan struct{}), snaps: make(chan snapResult, 16),
		p: newParser(c.cfg.Exchange, ms, func() int64 { return c.cfg.Now().UnixMicro() }), pending: map[string]*pendingBook{}}
	s.wg.Add(2)
	go s.reader()
	go s.pinger()
	if sub.Books {
		for _, m := range ms {
			s.requestSnapshot(m.VenueSymbol)
		}
	}
	return s, nil
}

type snapResult struct {
	sym  string
	snap *market.BookUpdate
}

type pendingBook struct {
	buf      []exchange.Event
	firstU   int64 // PrevSequence+1 of the first buffered delta
	overflow bool
}

type session struct {
	c      *Connector
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	frames chan []byte   // nil entries are pongs
	done   chan struct{} // closed when the reader ends (readErr says why)
	snaps  chan snapResult
	p      *parser
	// pending books: a snapshot was requested; their deltas are buffered.
	pending  map[string]*pendingBook
	readErr  atomic.Pointer[error]
	shutdown bool
	once     sync.Once
}

const maxBuffered = 5000

func (s *session) reader() {
	defer s.wg.Done()
	defer close(s.done)
	for {
		_, raw, err := s.conn.Read(s.ctx)
		if err != nil {
			e := fmt.Errorf("binance: read: %w", err)
			s.readErr.Store(&e)
			return
		}
		select {
		case s.frames <- raw:
		case <-s.ctx.Done():
			return
		}
	}
}

// pinger proves the connection alive: each pong is a frame for the
// supervisor's watchdog.
func (s *session) pinger() {
	defer s.wg.Done()
	t := time.NewTicker(s.c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err := s.conn.Ping(pctx)
		cancel()
		if err != nil {
			return
		}
		select {
		case s.frames <- nil:
		case <-s.ctx.Done():
			return
		}
	}
}

// requestSnapshot marks a book pending and fetches its REST snapshot in the
// background, retrying (honouring Retry-After) until it succeeds or the
// session ends.
func (s *session) requestSnapshot(sym string) {
	if _, ok := s.pending[sym]; ok {
		return
	}
	s.pending[sym] = &pendingBook{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		backoff := 100 * time.Millisecond
		for {
			snap, err := s.c.depth(s.ctx, sym, s.p.symbols[sym])
			if err == nil {
				select {
				case s.snaps <- snapResult{sym, snap}:
				case <-s.ctx.Done():
				}
				return
			}
			wait := max(backoff, exchange.RetryAfter(err))
			backoff = min(2*backoff, 10*time.Second)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

// Next implements exchange.Session.
func (s *session) Next(ctx context.Context) ([]exchange.Event, error) {
	select {
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	case r := <-s.snaps:
		return s.applySnapshot(r), nil
	case <-s.done:
		select {
		case raw := <-s.frames:
			return s.frame(raw)
		default:
		}
		if e := s.readErr.Load(); e != nil {
			return nil, *e
		}
		return nil, errors.New("binance: session closed")
	case raw := <-s.frames:
		return s.frame(raw)
	}
}

func (s *session) frame(raw []byte) ([]exchange.Event, error) {
	{
		if raw == nil {
			return nil, nil // a pong
		}
		evs, fr, err := s.p.parse(raw)
		if fr.shutdown && !s.shutdown {
			s.shutdown = true
			return []exchange.Event{{RollOver: &exchange.RollOver{Reason: "serverShutdown"}}}, nil
		}
		if fr.depth != "" && len(evs) == 1 {
			if pb := s.pending[fr.depth]; pb != nil {
				if len(pb.buf) == 0 {
					pb.firstU = evs[0].Book.PrevSequence + 1
				}
				if len(pb.buf) < maxBuffered {
					pb.buf = append(pb.buf, evs[0])
				} else {
					pb.overflow = true
				}
				return nil, err
			}
		}
		return evs, err
	}
}

// applySnapshot releases a pending book: the snapshot, then the buffered
// deltas (the supervisor's UpdateIDSync drops those already in it). A
// snapshot older than the first buffered delta is fetched again, as the
// docs say.
func (s *session) applySnapshot(r snapResult) []exchange.Event {
	pb := s.pending[r.sym]
	if pb == nil {
		return nil
	}
	delete(s.pending, r.sym)
	if (len(pb.buf) > 0 && r.snap.Sequence < pb.firstU-1) || pb.overflow {
		s.requestSnapshot(r.sym)
		return nil
	}
	out := make([]exchange.Event, 0, 1+len(pb.buf))
	out = append(out, exchange.Event{Book: r.snap})
	return append(out, pb.buf...)
}

// Resync implements exchange.Session: a new REST snapshot, with the
// symbol's deltas buffered until it arrives.
func (s *session) Resync(ctx context.Context, venueSymbol string) error {
	s.requestSnapshot(venueSymbol)
	return nil
}

// Close implements exchange.Session.
func (s *session) Close() error {
	s.once.Do(func() {
		s.cancel()
		s.conn.CloseNow()
		s.wg.Wait()
	})
	return nil
}

// depth fetches GET /api/v3/depth (weight 50 at limit 1000).
func (c *Connector) depth(ctx context.Context, sym string, si *symbolInfo) (*market.BookUpdate, error) {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	body, err := c.get(rctx, "/api/v3/depth?symbol="+url.QueryEscape(sym)+"&limit="+strconv.Itoa(DepthLimit), 50)
	if err != nil {
		return nil, err
	}
	u, err := restDepth(body, c.cfg.Exchange, si, c.cfg.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("binance: GET /api/v3/depth: unexpected answer: %w", err)
	}
	return u, nil
}

// Trades implements exchange.Connector: after a cursor,
// GET /api/v3/historicalTrades?fromId=id+1 (complete history, oldest
// first); without one, GET /api/v3/trades (the most recent). Raw trade ids
// (the @trade stream's t) are the ids of both endpoints; aggTrade ids are a
// different space and never used.
func (c *Connector) Trades(ctx context.Context, venueSymbol string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	limit = min(max(limit, 1), MaxTradesLimit)
	si := &symbolInfo{venue: venueSymbol, norm: c.market(ctx, venueSymbol).Symbol}
	q := "symbol=" + url.QueryEscape(venueSymbol) + "&limit=" + strconv.Itoa(limit)
	path, weight := "/api/v3/trades?"+q, int64(25)
	from, hasFrom := after.NumericID()
	if hasFrom {
		path = "/api/v3/historicalTrades?" + q + "&fromId=" + strconv.FormatInt(from+1, 10)
	}
	body, err := c.get(ctx, path, weight)
	if err != nil {
		return exchange.TradePage{}, err
	}
	var fj fastjson.Parser
	v, err := fj.ParseBytes(body)
	if err != nil {
		return exchange.TradePage{}, fmt.Errorf("binance: GET %s: unexpected answer: %w", path, err)
	}
	arr, err := v.Array()
	if err != nil {
		return exchange.TradePage{}, fmt.Errorf("binance: GET %s: unexpected answer: not an array", path)
	}
	recv := c.cfg.Now().UnixMicro()
	page := exchange.TradePage{Trades: make([]market.Trade, 0, len(arr)), More: hasFrom && len(arr) == limit}
	for i, e := range arr {
		t, err := restTrade(e, c.cfg.Exchange, si, recv)
		if err != nil {
			return exchange.TradePage{}, fmt.Errorf("binance: trade %d of GET %s: %w", i, path, err)
		}
		page.Trades = append(page.Trades, t)
	}
	if hasFrom && len(page.Trades) > 0 {
		if first, _ := strconv.ParseInt(page.Trades[0].TradeID, 10, 64); first > from+1 {
			page.Gap = &exchange.TradeGap{Symbol: venueSymbol, AfterID: after.ID, BeforeID: page.Trades[0].TradeID,
				FromTimeUs: after.TimeUs, ToTimeUs: page.Trades[0].ExchangeTimeUs, Missing: first - from - 1}
		}
	}
	return page, nil
}

// get does one REST GET. It refuses to send a request that would pass the
// minute's weight limit (as the last answer's X-MBX-USED-WEIGHT-1M tells),
// and turns 429/418 (with Retry-After) and other statuses into
// *exchange.RESTError.
func (c *Connector) get(ctx context.Context, path string, weight int64) ([]byte, error) {
	now := c.cfg.Now()
	if c.weightAt.Load() == now.Unix()/60 && c.usedWeight.Load()+weight > WeightLimit*9/10 {
		wait := time.Duration(60-now.Second()) * time.Second
		return nil, &exchange.RESTError{Venue: "binance", Method: "GET", URL: path, Status: http.StatusTooManyRequests, RetryAfter: wait,
			Body: fmt.Sprintf("not sent: %d of the minute's %d request weight used", c.usedWeight.Load(), WeightLimit)}
	}
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "binance", c.cfg.RESTURL, path, 64<<20, func(h http.Header) {
		if w, err := strconv.ParseInt(h.Get("X-Mbx-Used-Weight-1m"), 10, 64); err == nil {
			c.usedWeight.Store(w)
			c.weightAt.Store(now.Unix() / 60)
		}
	})
}
