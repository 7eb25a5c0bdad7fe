// Package bitstamp connects tickertape to Bitstamp's public market data:
// the WebSocket v2 (channels live_trades_{pair}, diff_order_book_{pair},
// order_book_{pair}) and the REST v2 API (trading-pairs-info, order_book,
// transactions). Bitstamp's book has neither sequence numbers nor a
// checksum: the diffs are synchronized against a REST snapshot by
// microtimestamp (exchange.TimeOrderedSync), the book is snapshotted again
// on every connection and on bts:request_reconnect, and the session checks
// the book its diffs build against the top-100 order_book snapshots of the
// same microtimestamp, the one loss detector the venue allows. PROTOCOL.md
// records every fact this package relies on with its documentation page.
// Fake is a Bitstamp that speaks the same protocol on loopback, for tests
// and tickertape demo.
package bitstamp

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
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/market"
)

// Live endpoints.
const (
	WSURL   = "wss://ws.bitstamp.net"
	RESTURL = "https://www.bitstamp.net"
)

// TopDepth is how many levels a side an order_book snapshot carries.
const TopDepth = 100

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "bitstamp"
	// HeartbeatInterval is how often the session sends bts:heartbeat; the
	// answers prove the connection alive on a quiet market. Default 10s.
	HeartbeatInterval time.Duration
	// ResnapshotEvery is the least time between two REST snapshots of one
	// book, so that a book that keeps failing its check cannot flood the
	// REST API. Default 1s.
	ResnapshotEvery time.Duration
	// NoTopCheck turns off the comparison of the book with the order_book
	// snapshots (then loss on a live connection goes unnoticed until the
	// next reconnect).
	NoTopCheck bool
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// Connector is the Bitstamp exchange.Connector.
type Connector struct {
	cfg     Config
	markets exchange.MarketCache // url symbol → market
}

var _ exchange.Connector = (*Connector)(nil)

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient, Logger: o.Logger}), nil
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(exchangetest.ConfigFrom(o))
	})
}

// New returns a Connector.
func New(cfg Config) *Connector {
	cfg.WSURL = strings.TrimRight(cmp.Or(cfg.WSURL, WSURL), "/")
	cfg.RESTURL = strings.TrimRight(cmp.Or(cfg.RESTURL, RESTURL), "/")
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 10 * time.Second
	}
	if cfg.ResnapshotEvery <= 0 {
		cfg.ResnapshotEvery = time.Second
	}
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Connector{cfg: cfg}
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Bitstamp (WebSocket v2)", WSURL: WSURL, RESTURL: RESTURL,
		Channels: []string{"trades (live_trades, the exact amount_str/price_str)", "tickers (best bid/ask of order_book, the top-100 snapshots)",
			"books (diff_order_book + REST order_book snapshot, checked against order_book)", "heartbeat (bts:heartbeat)"},
		BookSync:       "no sequence, no checksum: REST snapshot plus buffered diffs, those at or before its microtimestamp dropped; a new snapshot on every connection, on bts:request_reconnect and when the book differs from the order_book top 100 of the same microtimestamp",
		Backfill:       "by time window (transactions?time=minute|hour|day): complete back to 24 h, times in whole seconds; older or truncated history is reported as a gap",
		DefaultSymbols: []string{"btcusd", "ethusd"},
		SymbolExample:  "btcusd (BTC/USD accepted)", SideMeaning: "type 0 buy / 1 sell: the taker's side",
	}
}

// NewBookSync implements exchange.Connector: books are ordered by
// microtimestamp only.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.TimeOrderedSync{} }

// Markets implements exchange.Connector with GET /api/v2/trading-pairs-info/.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	const path = "/api/v2/trading-pairs-info/"
	body, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	ms, err := restPairs(body)
	if err != nil {
		return nil, fmt.Errorf("bitstamp: GET %s: unexpected answer: %w", path, err)
	}
	slices.SortFunc(ms, func(a, b exchange.Market) int { return strings.Compare(a.VenueSymbol, b.VenueSymbol) })
	c.markets.Set(ms)
	return ms, nil
}

// market returns a known pair, fetching trading-pairs-info once if needed;
// a pair it does not list is still served with a split guessed from its
// quote suffix.
func (c *Connector) market(ctx context.Context, sym string) exchange.Market {
	return c.markets.Get(ctx, sym, c.Markets, guessMarket)
}

// venueSymbol accepts btcusd, BTCUSD and BTC/USD (or BTC-USD), as
// Bitstamp's channels and REST paths spell pairs: btcusd.
func venueSymbol(s string) string {
	return strings.ToLower(strings.NewReplacer("/", "", "-", "", "_", "").Replace(strings.TrimSpace(s)))
}

type subscribe struct {
	Event string `json:"event"`
	Data  struct {
		Channel string `json:"channel"`
	} `json:"data"`
}

func subMsg(channel string) subscribe {
	var s subscribe
	s.Event = "bts:subscribe"
	s.Data.Channel = channel
	return s
}

// Dial implements exchange.Connector: one connection, one bts:subscribe per
// channel and pair; it returns once each is acknowledged (frames that come
// meanwhile are replayed by Next). A REST order_book snapshot of every book
// is then fetched in the background while its diffs are buffered.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	ms := make([]exchange.Market, 0, len(sub.Symbols))
	var channels []string
	for _, s := range sub.Symbols {
		sym := venueSymbol(s)
		ms = append(ms, c.market(ctx, sym))
		if sub.Trades {
			channels = append(channels, chanTrades+sym)
		}
		if sub.Books {
			channels = append(channels, chanDiff+sym)
		}
		if sub.Tickers || (sub.Books && !c.cfg.NoTopCheck) {
			channels = append(channels, chanTop+sym)
		}
	}
	for i := range ms {
		ms[i].VenueSymbol = sub.Symbols[i] // events carry the symbol as subscribed
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := exchange.DialWS(dctx, "bitstamp", c.cfg.WSURL, "", 16<<20)
	if err != nil {
		return nil, err
	}
	sctx, scancel := context.WithCancel(context.Background())
	s := &session{c: c, conn: conn, ctx: sctx, cancel: scancel, frames: make(chan []byte, 1024), done: make(chan struct{}),
		snaps: make(chan snapResult, 16), pending: map[string]*pendingBook{}, books: map[string]*checkedBook{}, lastSnap: map[string]time.Time{},
		books_: sub.Books, tickers: sub.Tickers}
	s.p = newParser(c.cfg.Exchange, nil, func() int64 { return c.cfg.Now().UnixMicro() })
	for _, m := range ms {
		s.p.symbols[venueSymbol(m.VenueSymbol)] = &symbolInfo{venue: m.VenueSymbol, norm: m.Symbol}
	}
	// Acknowledgements are read with a parser of their own, so that the
	// frames kept for Next leave no trace in the session's parser state
	// (last prices, best bid/ask) before Next parses them.
	ackp := newParser(c.cfg.Exchange, nil, s.p.now)
	ackp.symbols = map[string]*symbolInfo{}
	for k, v := range s.p.symbols {
		ackp.symbols[k] = &symbolInfo{venue: v.venue, norm: v.norm}
	}
	want := map[string]bool{}
	for _, ch := range channels {
		if err := exchange.SendJSON(dctx, conn, "bitstamp", subMsg(ch)); err != nil {
			conn.CloseNow()
			return nil, err
		}
		want[ch] = true
	}
	for len(want) > 0 {
		_, raw, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("bitstamp: waiting for the subscriptions (%d unanswered): %w", len(want), err)
		}
		_, fr, perr := ackp.parse(raw)
		var fe *exchange.FrameError
		if errors.As(perr, &fe) && fe.Kind == "venue_error" {
			conn.CloseNow()
			return nil, fmt.Errorf("bitstamp: subscription refused: %v (pairs are spelled btcusd; `tickertape exchanges` lists them)", fe.Err)
		}
		if fr.ack != "" {
			delete(want, fr.ack)
			continue
		}
		s.early = append(s.early, raw)
	}
	s.wg.Add(2)
	go s.reader()
	go s.heartbeats()
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

// pendingBook is a book waiting for its REST snapshot: its diffs are held.
type pendingBook struct {
	buf      []exchange.Event
	overflow bool
}

// checkedBook is the session's own copy of a synced book, compared with
// the order_book snapshots.
type checkedBook struct {
	book exchange.L2Book
	atUs int64           // microtimestamp of the last diff applied (or the snapshot)
	top  *topBook        // an order_book snapshot ahead of the book, not compared yet
	held *exchange.Event // a diff waiting for its order_book snapshot
}

type session struct {
	c       *Connector
	conn    *websocket.Conn
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	frames  chan []byte   // nil entries are heartbeat answers already parsed
	done    chan struct{} // closed when the reader ends (readErr says why)
	snaps   chan snapResult
	p       *parser
	early   [][]byte
	readErr atomic.Pointer[error]
	once    sync.Once

	books_, tickers bool
	pending         map[string]*pendingBook
	books           map[string]*checkedBook
	lastSnap        map[string]time.Time // guarded by snapMu
	snapMu          sync.Mutex
	reconnecting    bool
}

// maxBuffered diffs are held per book while its snapshot is fetched; more
// means the snapshot is fetched again.
const maxBuffered = 20000

func (s *session) reader() {
	defer s.wg.Done()
	defer close(s.done)
	for {
		var raw []byte
		var err error
		if len(s.early) > 0 {
			raw, s.early = s.early[0], s.early[1:]
		} else if _, raw, err = s.conn.Read(s.ctx); err != nil {
			e := fmt.Errorf("bitstamp: read: %w", err)
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

// heartbeats sends bts:heartbeat; Bitstamp answers each, which keeps a
// quiet connection's frames coming for the supervisor's watchdog.
func (s *session) heartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		wctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err := exchange.SendJSON(wctx, s.conn, "bitstamp", map[string]string{"event": "bts:heartbeat"})
		cancel()
		if err != nil {
			return
		}
	}
}

// requestSnapshot marks a book pending and fetches its REST snapshot in the
// background (no sooner than ResnapshotEvery after the last one), retrying
// (honouring Retry-After) until it succeeds or the session ends.
func (s *session) requestSnapshot(sym string) {
	if _, ok := s.pending[sym]; ok {
		return
	}
	s.pending[sym] = &pendingBook{}
	delete(s.books, sym)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.snapMu.Lock()
		wait := time.Until(s.lastSnap[sym].Add(s.c.cfg.ResnapshotEvery))
		s.snapMu.Unlock()
		backoff := 100 * time.Millisecond
		for {
			if wait > 0 {
				select {
				case <-s.ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			s.snapMu.Lock()
			s.lastSnap[sym] = time.Now()
			s.snapMu.Unlock()
			snap, err := s.c.orderBook(s.ctx, sym, s.p.symbols[venueSymbol(sym)])
			if err == nil {
				select {
				case s.snaps <- snapResult{sym, snap}:
				case <-s.ctx.Done():
				}
				return
			}
			if s.ctx.Err() != nil {
				return
			}
			s.c.cfg.Logger.Debug("bitstamp: order_book snapshot failed; retrying", "symbol", sym, "err", err)
			wait = max(backoff, exchange.RetryAfter(err))
			backoff = min(2*backoff, 10*time.Second)
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
	case raw := <-s.frames:
		return s.frame(raw)
	case <-s.done:
		select {
		case raw := <-s.frames:
			return s.frame(raw)
		default:
		}
		if e := s.readErr.Load(); e != nil {
			return nil, *e
		}
		return nil, errors.New("bitstamp: session closed")
	}
}

func (s *session) frame(raw []byte) ([]exchange.Event, error) {
	evs, fr, err := s.p.parse(raw)
	out := s.release(fr)
	if fr.reconnect {
		if s.reconnecting {
			return out, nil
		}
		s.reconnecting = true
		// "Reconnect now": the supervisor dials the next connection (which
		// snapshots every book again) and switches to it.
		return append(out, exchange.Event{RollOver: &exchange.RollOver{Reason: "bts:request_reconnect"}}), nil
	}
	if fr.diff != "" && len(evs) == 1 {
		sym := fr.diff
		if pb := s.pending[sym]; pb != nil {
			if len(pb.buf) < maxBuffered {
				pb.buf = append(pb.buf, evs[0])
			} else {
				pb.overflow = true
			}
			return out, err
		}
		if cb := s.books[sym]; cb != nil {
			return append(out, s.diff(sym, cb, evs[0])...), err
		}
	}
	if fr.top != nil {
		if cb := s.books[fr.top.sym]; cb != nil && !s.c.cfg.NoTopCheck {
			out = append(out, s.top(fr.top.sym, cb, fr.top)...)
		}
		if !s.tickers {
			evs = slices.DeleteFunc(evs, func(e exchange.Event) bool { return e.Ticker != nil })
		}
	}
	return append(out, evs...), err
}

// release publishes the diffs held for their order_book snapshot, except
// the one this frame is the snapshot of: the check happens later, when the
// snapshot of their microtimestamp comes (or never, if none does).
func (s *session) release(fr frame) []exchange.Event {
	var out []exchange.Event
	for sym, cb := range s.books {
		if cb.held == nil || (fr.top != nil && fr.top.sym == sym && fr.top.timeUs == cb.atUs) {
			continue
		}
		out = append(out, *cb.held)
		cb.held = nil
	}
	return out
}

// diff applies a diff to the session's copy of a synced book (the
// supervisor's TimeOrderedSync applies exactly the same ones: those later
// than the book's time) and checks it: a crossed book, or one that differs
// from the order_book snapshot of the same microtimestamp, is a loss; the
// diff is not published and the book is snapshotted again. A diff whose
// snapshot has not come yet is held until the next frame.
func (s *session) diff(sym string, cb *checkedBook, ev exchange.Event) []exchange.Event {
	u := ev.Book
	if u.ExchangeTimeUs <= cb.atUs {
		return []exchange.Event{ev} // in the book already: the supervisor drops it
	}
	cb.book.Apply(u)
	cb.atUs = u.ExchangeTimeUs
	bids, asks := cb.book.Book()
	if len(bids) > 0 && len(asks) > 0 && bids[0].Price.Cmp(asks[0].Price) >= 0 {
		return s.fail(sym, fmt.Sprintf("the book built from diff_order_book is crossed (best bid %s ≥ best ask %s) at microtimestamp %d", bids[0].Price, asks[0].Price, cb.atUs))
	}
	switch {
	case s.c.cfg.NoTopCheck:
		return []exchange.Event{ev}
	case cb.top != nil && cb.top.timeUs == cb.atUs:
		return s.compare(sym, cb, cb.top, ev)
	}
	cb.held = &ev
	return nil
}

// top takes an order_book snapshot: compared at once when the book is at
// its microtimestamp, else kept for the diff of that microtimestamp.
func (s *session) top(sym string, cb *checkedBook, top *topBook) []exchange.Event {
	if top.timeUs != cb.atUs {
		if top.timeUs > cb.atUs {
			cb.top = top
		}
		return nil
	}
	var held exchange.Event
	if cb.held != nil {
		held, cb.held = *cb.held, nil
	}
	return s.compare(sym, cb, top, held)
}

// compare checks the book against a snapshot of its microtimestamp and
// returns ev (the diff that made it, if not published yet) or the loss.
func (s *session) compare(sym string, cb *checkedBook, top *topBook, ev exchange.Event) []exchange.Event {
	cb.top = nil
	if !cb.book.MatchesTop(top.bids, top.asks, TopDepth) {
		return s.fail(sym, "the book built from diff_order_book differs from the order_book top 100 at microtimestamp "+strconv.FormatInt(top.timeUs, 10))
	}
	if ev.Book == nil {
		return nil
	}
	return []exchange.Event{ev}
}

// fail reports a loss on one book: a new snapshot is requested and the
// supervisor told (a gap of the symbol: it resyncs the book and backfills
// trades).
func (s *session) fail(sym, reason string) []exchange.Event {
	s.requestSnapshot(sym)
	return []exchange.Event{{Gap: &exchange.StreamGap{Symbols: []string{sym}, Reason: reason}}}
}

// applySnapshot releases a pending book: the snapshot, then the buffered
// diffs (the supervisor's TimeOrderedSync drops those at or before the
// snapshot's microtimestamp; the session's own copy does the same).
func (s *session) applySnapshot(r snapResult) []exchange.Event {
	pb := s.pending[r.sym]
	if pb == nil {
		return nil
	}
	delete(s.pending, r.sym)
	if pb.overflow {
		s.requestSnapshot(r.sym)
		return nil
	}
	cb := &checkedBook{atUs: r.snap.ExchangeTimeUs}
	cb.book.Apply(r.snap)
	out := make([]exchange.Event, 0, 1+len(pb.buf))
	out = append(out, exchange.Event{Book: r.snap})
	for _, ev := range pb.buf {
		if u := ev.Book; u.ExchangeTimeUs > cb.atUs {
			cb.book.Apply(u)
			cb.atUs = u.ExchangeTimeUs
		}
		out = append(out, ev)
	}
	s.books[r.sym] = cb
	return out
}

// Resync implements exchange.Session: a new REST snapshot, the symbol's
// diffs buffered until it arrives.
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

// orderBook fetches GET /api/v2/order_book/{pair}/.
func (c *Connector) orderBook(ctx context.Context, sym string, si *symbolInfo) (*market.BookUpdate, error) {
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	path := "/api/v2/order_book/" + url.PathEscape(venueSymbol(sym)) + "/"
	body, err := c.get(rctx, path)
	if err != nil {
		return nil, err
	}
	u, err := restBook(body, c.cfg.Exchange, si, c.cfg.Now().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("bitstamp: GET %s: unexpected answer: %w", path, err)
	}
	return u, nil
}

// Windows of GET /api/v2/transactions/{pair}/?time=, with the age of the
// cursor each is trusted to reach (a margin for clocks and latency).
var windows = []struct {
	name  string
	reach time.Duration
}{{"minute", 45 * time.Second}, {"hour", 55 * time.Minute}, {"day", 23*time.Hour + 30*time.Minute}}

// Trades implements exchange.Connector with GET
// /api/v2/transactions/{pair}/?time=minute|hour|day: the smallest window
// that reaches back to the cursor, trades after the cursor's id, oldest
// first. Ids are one counter across all pairs (not consecutive per pair):
// the answer is complete when it reaches back to the cursor's trade (one
// at or before its id); otherwise the trades between the cursor and the
// first one returned are reported as a gap of unknown size. Times are
// whole seconds (the REST answer has no microtimestamp).
func (c *Connector) Trades(ctx context.Context, sym string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	limit = max(limit, 1)
	si := &symbolInfo{venue: sym, norm: c.market(ctx, venueSymbol(sym)).Symbol}
	from, numeric := after.NumericID()
	window := "hour"
	if numeric {
		window = "day"
		age := c.cfg.Now().Sub(time.UnixMicro(after.TimeUs))
		for _, w := range windows {
			if age < w.reach {
				window = w.name
				break
			}
		}
	}
	path := "/api/v2/transactions/" + url.PathEscape(venueSymbol(sym)) + "/?time=" + window
	body, err := c.get(ctx, path)
	if err != nil {
		return exchange.TradePage{}, err
	}
	ts, err := restTrades(body, c.cfg.Exchange, si, c.cfg.Now().UnixMicro())
	if err != nil {
		return exchange.TradePage{}, fmt.Errorf("bitstamp: GET %s: unexpected answer: %w", path, err)
	}
	id := func(t market.Trade) int64 { n, _ := strconv.ParseInt(t.TradeID, 10, 64); return n }
	slices.SortFunc(ts, func(a, b market.Trade) int { return cmp.Compare(id(a), id(b)) })
	if !numeric {
		return exchange.TradePage{Trades: ts[max(0, len(ts)-limit):]}, nil
	}
	reached := len(ts) > 0 && id(ts[0]) <= from
	i, _ := slices.BinarySearchFunc(ts, from+1, func(t market.Trade, n int64) int { return cmp.Compare(id(t), n) })
	ts = ts[i:]
	page := exchange.TradePage{Trades: ts[:min(limit, len(ts))], More: len(ts) > limit}
	if !reached && len(ts) > 0 {
		page.Gap = &exchange.TradeGap{Symbol: sym, AfterID: after.ID, BeforeID: ts[0].TradeID, FromTimeUs: after.TimeUs,
			ToTimeUs: ts[0].ExchangeTimeUs, Missing: -1}
	}
	return page, nil
}

// get does one REST GET; non-200 answers become *exchange.RESTError (429
// is Bitstamp's rate limit).
func (c *Connector) get(ctx context.Context, path string) ([]byte, error) {
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "bitstamp", c.cfg.RESTURL, path, 64<<20, nil)
}
