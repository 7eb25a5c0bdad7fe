// Package bybit connects tickertape to Bybit's v5 spot market data: the
// public WebSocket (topics publicTrade, orderbook.1 for the best bid and
// ask, orderbook.50 for the book) and the public REST (instruments-info,
// recent-trade). Bybit's depth books carry an update id that is not promised
// to be consecutive, so the book rule (exchange.DepthSync) keeps the book
// and resyncs when a message proves it wrong, and the session compares the
// depth book's best levels with orderbook.1 at the same cross sequence; its REST trade history is the
// last 60 trades, so a longer loss is reported as a trade gap, never
// hidden. PROTOCOL.md records every fact this package relies on with its
// documentation page. Fake is a Bybit that speaks the same protocol on
// loopback, for tests and tickertape demo.
package bybit

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
	"github.com/tickertape/tickertape/exchange/internal/jsonf"
	"github.com/tickertape/tickertape/market"
)

// Live endpoints.
const (
	WSURL   = "wss://stream.bybit.com/v5/public/spot"
	RESTURL = "https://api.bybit.com"
)

// MaxTradesLimit is the most trades GET /v5/market/recent-trade returns
// for spot; it has no since or fromId.
const MaxTradesLimit = 60

// MaxArgsPerRequest is the most topics one spot subscribe request may name.
const MaxArgsPerRequest = 10

// Depths are the spot book depths this package subscribes to.
var Depths = []int{50, 200, 1000}

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "bybit"
	HTTPClient     *http.Client
	Now            func() time.Time
	Logger         *slog.Logger
	// Depth is the subscribed book depth (50, 200, 1000); default 50.
	Depth int
	// PingInterval is how often the session sends {"op":"ping"}; Bybit
	// asks for one every 20 s. Default 20s.
	PingInterval time.Duration
}

// Connector is the Bybit exchange.Connector.
type Connector struct {
	cfg     Config
	mu      sync.Mutex
	markets map[string]exchange.Market // venue symbol → market, from instruments-info
}

var _ exchange.Connector = (*Connector)(nil)

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient, Logger: o.Logger})
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(exchangetest.ConfigFrom(o))
	})
}

// New returns a Connector.
func New(cfg Config) (*Connector, error) {
	cfg.WSURL = cmp.Or(cfg.WSURL, WSURL)
	cfg.RESTURL = strings.TrimRight(cmp.Or(cfg.RESTURL, RESTURL), "/")
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Depth = cmp.Or(cfg.Depth, 50)
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if !slices.Contains(Depths, cfg.Depth) {
		return nil, fmt.Errorf("bybit: book depth %d: use one of %v", cfg.Depth, Depths)
	}
	return &Connector{cfg: cfg, markets: map[string]exchange.Market{}}, nil
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Bybit spot (v5 public)", WSURL: WSURL, RESTURL: RESTURL,
		Channels: []string{"trades (publicTrade)", "tickers (orderbook.1: best bid/ask, with the last trade price)",
			fmt.Sprintf("books (orderbook.%d, snapshot and delta)", c.cfg.Depth)},
		BookSync:       "a snapshot (or u=1, a service restart) resets the book; update ids increase but are not promised consecutive, so the book is kept: a delta that goes back in id or time or crosses it, or a best bid/ask that differs from orderbook.1 at the same seq, resubscribes it (a lost size change deep in the book cannot be seen)",
		Backfill:       fmt.Sprintf("the most recent %d trades only (GET /v5/market/recent-trade, no since/fromId): a longer outage is reported as an incomplete backfill (a trade gap of unknown size)", MaxTradesLimit),
		DefaultSymbols: []string{"BTCUSDT", "ETHUSDT"}, SymbolExample: "BTCUSDT (base/quote from instruments-info)", SideMeaning: "S, the taker's side",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.DepthSync{Depth: c.cfg.Depth} }

// Markets implements exchange.Connector with GET
// /v5/market/instruments-info?category=spot (spot has no pagination):
// baseCoin/quoteCoin split the symbol, tickSize and basePrecision give the
// scales.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	path := "/v5/market/instruments-info?category=spot"
	body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	out, err := parseInstruments(body, path)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	for _, m := range out {
		c.markets[m.VenueSymbol] = m
	}
	c.mu.Unlock()
	return out, nil
}

// parseInstruments reads an instruments-info answer, sorted by symbol.
func parseInstruments(body []byte, path string) ([]exchange.Market, error) {
	var fj fastjson.Parser
	res, err := restEnvelope(&fj, body, path)
	if err != nil {
		return nil, err
	}
	arr, err := arrayOf(res.Get("list"))
	if err != nil {
		return nil, fmt.Errorf("bybit: GET %s: result.list: want an array", path)
	}
	out := make([]exchange.Market, 0, len(arr))
	for _, v := range arr {
		o, err := v.Object()
		if err != nil {
			continue
		}
		sym, err1 := jsonf.Str(o, "symbol")
		base, err2 := jsonf.Str(o, "baseCoin")
		quote, err3 := jsonf.Str(o, "quoteCoin")
		if err1 != nil || err2 != nil || err3 != nil || len(sym) == 0 || len(base) == 0 || len(quote) == 0 {
			continue // not a usable spot market
		}
		out = append(out, exchange.Market{VenueSymbol: string(sym), Symbol: exchange.Symbol(string(base), string(quote), nil),
			Base: exchange.NormalizeAsset(string(base), nil), Quote: exchange.NormalizeAsset(string(quote), nil),
			PriceScale: exchange.ScaleOf(string(v.GetStringBytes("priceFilter", "tickSize"))),
			SizeScale:  exchange.ScaleOf(string(v.GetStringBytes("lotSizeFilter", "basePrecision"))),
			Status:     string(o.Get("status").GetStringBytes())})
	}
	slices.SortFunc(out, func(a, b exchange.Market) int { return strings.Compare(a.VenueSymbol, b.VenueSymbol) })
	return out, nil
}

// market returns a symbol's market, listing the markets once if needed.
func (c *Connector) market(ctx context.Context, sym string) (exchange.Market, error) {
	c.mu.Lock()
	m, ok := c.markets[sym]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	if _, err := c.Markets(ctx); err != nil {
		return exchange.Market{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok = c.markets[sym]; !ok {
		return m, fmt.Errorf("bybit: instruments-info lists no spot symbol %s (symbols are spelled BTCUSDT)", sym)
	}
	return m, nil
}

type request struct {
	ReqID string   `json:"req_id"`
	Op    string   `json:"op"`
	Args  []string `json:"args,omitempty"`
}

func (c *Connector) bookTopic(sym string) string {
	return "orderbook." + strconv.Itoa(c.cfg.Depth) + "." + sym
}

// Dial implements exchange.Connector: the topics go out in requests of at
// most 10 args, and Dial returns once each request is acknowledged.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ms := make([]exchange.Market, 0, len(sub.Symbols))
	var topics []string
	for _, sym := range sub.Symbols {
		m, err := c.market(dctx, sym)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		if sub.Trades {
			topics = append(topics, "publicTrade."+sym)
		}
		if sub.Tickers || sub.Books {
			// Also for books alone: the level-1 book is the cross-check.
			topics = append(topics, "orderbook.1."+sym)
		}
		if sub.Books {
			topics = append(topics, c.bookTopic(sym))
		}
	}
	conn, err := exchange.DialWS(dctx, "bybit", c.cfg.WSURL, "", 32<<20)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, conn: conn, p: newParser(c.cfg.Exchange, ms, func() int64 { return c.cfg.Now().UnixMicro() }), done: make(chan struct{}),
		tickers: sub.Tickers, books: sub.Books, cross: map[string]*crossCheck{}}
	want := map[string][]string{}
	for chunk := range slices.Chunk(topics, MaxArgsPerRequest) {
		id, err := s.send(dctx, "subscribe", chunk)
		if err != nil {
			conn.CloseNow()
			return nil, err
		}
		want[id] = chunk
	}
	for len(want) > 0 {
		_, raw, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("bybit: waiting for the subscriptions: %w", err)
		}
		_, fr, _ := s.p.parse(raw)
		if r := fr.reply; r != nil && r.op == "subscribe" {
			if !r.success {
				conn.CloseNow()
				return nil, fmt.Errorf("bybit: subscription to %v refused: %s", want[r.reqID], r.msg)
			}
			delete(want, r.reqID)
			continue
		}
		// Data (or a bad frame) before the last acknowledgement: parsed
		// again in Next, so that it is published or counted in order.
		s.early = append(s.early, raw)
	}
	go s.pinger()
	return s, nil
}

type session struct {
	c     *Connector
	conn  *websocket.Conn
	p     *parser
	early [][]byte
	mu    sync.Mutex
	req   int64
	done  chan struct{}
	once  sync.Once
	// tickers and books are what was subscribed; cross holds each symbol's
	// cross-check of the depth book against orderbook.1.
	tickers, books bool
	cross          map[string]*crossCheck
}

// crossCheck compares the depth book with the level-1 book of the same
// cross sequence: Bybit documents seq as comparable across depths, so at
// equal seq both show one state of the matching engine and their best
// levels must agree. A disagreement is a depth delta lost (or a wrong
// book): the only loss signal the depth topics allow beyond what
// exchange.DepthSync sees itself. The session keeps its own copy of the
// book for it (a DepthSync of the same depth).
type crossCheck struct {
	book              exchange.DepthSync
	bookSeq, bboSeq   int64
	bid, ask          market.Level // zero: an empty side
	hasBBO, hasBookAt bool
}

// check records a parsed orderbook frame and returns a gap when the two
// books disagree at the same seq.
func (s *session) check(fr frame, evs []exchange.Event) *exchange.StreamGap {
	cc := s.cross[fr.bookSym]
	if cc == nil {
		cc = &crossCheck{book: exchange.DepthSync{Depth: s.c.cfg.Depth}}
		s.cross[fr.bookSym] = cc
	}
	if fr.level1 {
		cc.bboSeq, cc.bid, cc.ask, cc.hasBBO = fr.seq, fr.bid, fr.ask, true
	} else {
		for _, ev := range evs {
			if ev.Book == nil {
				continue
			}
			cp := *ev.Book // Check appends to its own copies only
			if cc.book.Check(&cp) == exchange.Apply {
				cc.bookSeq, cc.hasBookAt = fr.seq, true
			}
		}
	}
	if !cc.hasBBO || !cc.hasBookAt || !cc.book.Synced() || cc.bboSeq != cc.bookSeq {
		return nil
	}
	bids, asks := cc.book.Book()
	if sameTop(bids, cc.bid) && sameTop(asks, cc.ask) {
		return nil
	}
	cc.book.Reset() // one gap per loss: quiet until the next snapshot
	return &exchange.StreamGap{Symbols: []string{fr.bookSym},
		Reason: fmt.Sprintf("orderbook.1 and orderbook.%d of %s disagree at seq %d: a depth delta was lost", s.c.cfg.Depth, fr.bookSym, fr.seq)}
}

func sameTop(side []market.Level, best market.Level) bool {
	if len(side) == 0 {
		return best.Price.IsZero()
	}
	return side[0].Price.Equal(best.Price) && side[0].Quantity.Equal(best.Quantity)
}

// send writes one request with a fresh req_id and returns the id.
func (s *session) send(ctx context.Context, op string, args []string) (string, error) {
	s.mu.Lock()
	s.req++
	id := strconv.FormatInt(s.req, 10)
	s.mu.Unlock()
	return id, exchange.SendJSON(ctx, s.conn, "bybit", request{ReqID: id, Op: op, Args: args})
}

// pinger sends {"op":"ping"} every PingInterval; Bybit drops a
// connection that is silent for 10 minutes, and asks for a ping every 20 s.
func (s *session) pinger() {
	t := time.NewTicker(s.c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := s.send(ctx, "ping", nil)
			cancel()
			if err != nil {
				return // Next sees the broken connection
			}
		}
	}
}

// Next implements exchange.Session. A refused request after Dial (a
// resubscription) ends the session: the book would never resync.
func (s *session) Next(ctx context.Context) ([]exchange.Event, error) {
	raw, err := exchange.ReadWS(ctx, s.conn, "bybit", &s.early)
	if err != nil {
		return nil, err
	}
	evs, fr, err := s.p.parse(raw)
	if r := fr.reply; r != nil && !r.success && r.op != "ping" {
		return nil, fmt.Errorf("bybit: %s refused: %s", r.op, r.msg)
	}
	if s.books && err == nil && fr.bookSym != "" && fr.seq > 0 {
		if g := s.check(fr, evs); g != nil {
			evs = append(evs, exchange.Event{Gap: g})
		}
	}
	if !s.tickers && fr.level1 { // subscribed for the cross-check only
		evs = slices.DeleteFunc(evs, func(ev exchange.Event) bool { return ev.Ticker != nil })
	}
	return evs, err
}

// Resync implements exchange.Session: unsubscribing and subscribing the
// symbol's book topic makes Bybit send a fresh snapshot.
func (s *session) Resync(ctx context.Context, sym string) error {
	if _, err := s.send(ctx, "unsubscribe", []string{s.c.bookTopic(sym)}); err != nil {
		return err
	}
	_, err := s.send(ctx, "subscribe", []string{s.c.bookTopic(sym)})
	return err
}

// Close implements exchange.Session.
func (s *session) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.conn.CloseNow()
}

// Trades implements exchange.Connector with GET
// /v5/market/recent-trade?category=spot&symbol=&limit=, the only trade
// history Bybit's spot API has: the last 60 trades, no since, no fromId.
// Trades after the cursor are returned, oldest first. When the page does
// not reach back to the cursor (neither the cursor's trade nor an older one
// is in it), the trades between are lost and reported as a gap of unknown
// size (Bybit's ids are not promised consecutive).
func (c *Connector) Trades(ctx context.Context, sym string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	limit = min(max(limit, 1), MaxTradesLimit)
	if !after.IsZero() {
		limit = MaxTradesLimit
	}
	m, err := c.market(ctx, sym)
	if err != nil {
		return exchange.TradePage{}, err
	}
	q := url.Values{"category": {"spot"}, "symbol": {sym}, "limit": {strconv.Itoa(limit)}}
	path := "/v5/market/recent-trade?" + q.Encode()
	body, err := c.get(ctx, path)
	if err != nil {
		return exchange.TradePage{}, err
	}
	trades, err := restTrades(body, path, c.cfg.Exchange, &symbolInfo{venue: sym, norm: m.Symbol}, c.cfg.Now().UnixMicro())
	if err != nil {
		return exchange.TradePage{}, err
	}
	if after.IsZero() {
		return exchange.TradePage{Trades: trades}, nil
	}
	return afterCursor(sym, trades, after), nil
}

// afterCursor keeps the trades (oldest first) after the cursor and says
// whether they reach back to it.
func afterCursor(sym string, trades []market.Trade, after exchange.TradeCursor) exchange.TradePage {
	from, numeric := after.NumericID()
	reached, start := false, 0
	for i, t := range trades {
		id, err := strconv.ParseInt(t.TradeID, 10, 64)
		switch {
		case t.TradeID == after.ID:
			reached, start = true, i+1
		case t.ExchangeTimeUs < after.TimeUs:
			reached, start = true, i+1
		case numeric && err == nil && id < from:
			reached, start = true, i+1
		}
	}
	page := exchange.TradePage{Trades: trades[start:]}
	if !reached && len(trades) > 0 {
		first := trades[0]
		page.Gap = &exchange.TradeGap{Symbol: sym, AfterID: after.ID, BeforeID: first.TradeID, FromTimeUs: after.TimeUs,
			ToTimeUs: first.ExchangeTimeUs, Missing: -1}
	}
	return page
}

// IPBanWait is how long Bybit asks a client to stay away after HTTP 403
// "access too frequent" (its IP limit, 600 requests in 5 s).
const IPBanWait = 10 * time.Minute

// get does one REST GET; non-200 answers become *exchange.RESTError. A 403
// is Bybit's IP rate limit: it matches exchange.ErrRateLimited and asks for
// the documented 10-minute wait unless the answer names another.
func (c *Connector) get(ctx context.Context, path string) ([]byte, error) {
	body, err := exchange.RESTGet(ctx, c.cfg.HTTPClient, "bybit", c.cfg.RESTURL, path, 32<<20, nil)
	var re *exchange.RESTError
	if errors.As(err, &re) && re.Status == http.StatusForbidden {
		if re.RetryAfter == 0 {
			re.RetryAfter = IPBanWait
		}
		return nil, fmt.Errorf("%w (Bybit's IP limit: wait, then retry): %w", err, exchange.ErrRateLimited)
	}
	return body, err
}
