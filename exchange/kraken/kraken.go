// Package kraken connects tickertape to Kraken's spot market data: the
// WebSocket v2 (channels instrument, trade, ticker, book, heartbeat) and the
// public REST (AssetPairs, Trades). Kraken's book has no sequence numbers;
// its CRC32 checksum of the top 10 levels is the only loss detector, so
// every book message is verified (exchange.ChecksumSync with Checksum) and a
// mismatch resubscribes the book. PROTOCOL.md records every fact this
// package relies on with its documentation page. Fake is a Kraken that
// speaks the same protocol on loopback, for tests and tickertape demo.
package kraken

import (
	"context"
	"encoding/json"
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
)

// Live endpoints.
const (
	WSURL   = "wss://ws.kraken.com/v2"
	RESTURL = "https://api.kraken.com"
)

// MaxTradesLimit is the most trades one REST Trades call returns.
const MaxTradesLimit = 1000

// Depths are the book depths Kraken accepts.
var Depths = []int{10, 25, 100, 500, 1000}

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "kraken"
	HTTPClient     *http.Client
	Now            func() time.Time
	Logger         *slog.Logger
	// Depth is the subscribed book depth (10, 25, 100, 500, 1000); default 10.
	Depth int
	// ResyncEvery is the least time between two resubscriptions of one
	// symbol's book, so that a checksum that keeps failing cannot flood
	// Kraken with subscribe requests (its rate limits close the
	// connection). Default 1s.
	ResyncEvery time.Duration
}

// Connector is the Kraken exchange.Connector.
type Connector struct {
	cfg  Config
	mu   sync.Mutex
	rest map[string]string // WebSocket symbol (BTC/USD) → REST pair (XBTUSD)
}

var _ exchange.Connector = (*Connector)(nil)

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient, Logger: o.Logger})
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(FakeConfig{Seed: o.Seed, Tick: o.Tick, MaxTradesPerTick: o.TradesPerTick, FirstTradeID: o.FirstTradeID, OnTrade: o.OnTrade})
	})
}

// New returns a Connector.
func New(cfg Config) (*Connector, error) {
	if cfg.WSURL == "" {
		cfg.WSURL = WSURL
	}
	if cfg.RESTURL == "" {
		cfg.RESTURL = RESTURL
	}
	cfg.RESTURL = strings.TrimRight(cfg.RESTURL, "/")
	if cfg.Exchange == "" {
		cfg.Exchange = Name
	}
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Depth == 0 {
		cfg.Depth = 10
	}
	if cfg.ResyncEvery <= 0 {
		cfg.ResyncEvery = time.Second
	}
	if !slices.Contains(Depths, cfg.Depth) {
		return nil, fmt.Errorf("kraken: book depth %d: Kraken accepts %v", cfg.Depth, Depths)
	}
	return &Connector{cfg: cfg, rest: map[string]string{}}, nil
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Kraken (WebSocket v2)", WSURL: WSURL, RESTURL: RESTURL,
		Channels: []string{"trades (trade)", "tickers (ticker, on every best bid/ask change: bbo, last, 24 h high/low/volume/vwap/change)",
			fmt.Sprintf("books (book, depth %d, CRC32-verified)", c.cfg.Depth), "instrument (precisions)", "heartbeat"},
		BookSync:       "no sequence numbers: the CRC32 checksum of the top 10 levels is verified after every message, the book truncated to the subscribed depth; a mismatch resubscribes the book",
		Backfill:       "by time (GET /0/public/Trades?since=), oldest first, up to 1000 a page, complete back to any trade; trade ids show what is missing",
		DefaultSymbols: []string{"BTC/USD", "ETH/USD"}, TradeIDsConsecutive: true,
		SymbolExample: "BTC/USD (REST: XBTUSD)", SideMeaning: "side of the taker",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync {
	return &exchange.ChecksumSync{Depth: c.cfg.Depth, Sum: Checksum}
}

// Markets implements exchange.Connector with GET /0/public/AssetPairs:
// wsname (XBT/USD) gives the WebSocket v2 symbol (BTC/USD), altname the
// REST pair (XBTUSD).
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	body, err := c.get(ctx, "/0/public/AssetPairs")
	if err != nil {
		return nil, err
	}
	var ans struct {
		Error  []string `json:"error"`
		Result map[string]struct {
			Altname      string `json:"altname"`
			WSName       string `json:"wsname"`
			PairDecimals int    `json:"pair_decimals"`
			LotDecimals  int    `json:"lot_decimals"`
			Status       string `json:"status"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("kraken: GET AssetPairs: unexpected answer: %w", err)
	}
	if len(ans.Error) > 0 {
		return nil, venueError("/0/public/AssetPairs", strings.Join(ans.Error, "; "))
	}
	out := make([]exchange.Market, 0, len(ans.Result))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ans.Result {
		base, quote, ok := strings.Cut(p.WSName, "/")
		if !ok {
			continue // no WebSocket market (dark pools)
		}
		b, q := exchange.NormalizeAsset(base, nil), exchange.NormalizeAsset(quote, nil)
		ws := b + "/" + q
		c.rest[ws] = p.Altname
		out = append(out, exchange.Market{VenueSymbol: ws, Symbol: b + "-" + q, Base: b, Quote: q,
			PriceScale: p.PairDecimals, SizeScale: p.LotDecimals, Status: p.Status})
	}
	slices.SortFunc(out, func(a, b exchange.Market) int { return strings.Compare(a.VenueSymbol, b.VenueSymbol) })
	return out, nil
}

// restPair maps a WebSocket symbol to its REST pair, from AssetPairs.
func (c *Connector) restPair(ctx context.Context, ws string) (string, error) {
	c.mu.Lock()
	p, ok := c.rest[ws]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	if _, err := c.Markets(ctx); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok = c.rest[ws]; !ok {
		return "", fmt.Errorf("kraken: AssetPairs lists no pair with wsname %s", ws)
	}
	return p, nil
}

type subParams struct {
	Channel  string   `json:"channel"`
	Symbol   []string `json:"symbol,omitempty"`
	Depth    int      `json:"depth,omitempty"`
	Snapshot *bool    `json:"snapshot,omitempty"`
	Trigger  string   `json:"event_trigger,omitempty"`
}

type request struct {
	Method string    `json:"method"`
	Params subParams `json:"params"`
	ReqID  int64     `json:"req_id,omitempty"`
}

// Dial implements exchange.Connector: the instrument snapshot first (the
// pairs' precisions the checksum needs), then trade, ticker and book; it
// returns once every (channel, symbol) is acknowledged.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := exchange.DialWS(dctx, "kraken", c.cfg.WSURL, "", 64<<20)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, conn: conn, p: newParser(c.cfg.Exchange, func() int64 { return c.cfg.Now().UnixMicro() }), resync: map[string]time.Time{}}
	yes, no := true, false
	if err := s.send(dctx, request{Method: "subscribe", Params: subParams{Channel: "instrument", Snapshot: &yes}}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	want := map[string]bool{}
	var reqs []request
	if sub.Trades {
		reqs = append(reqs, request{Method: "subscribe", Params: subParams{Channel: "trade", Symbol: sub.Symbols, Snapshot: &no}})
	}
	if sub.Tickers {
		reqs = append(reqs, request{Method: "subscribe", Params: subParams{Channel: "ticker", Symbol: sub.Symbols, Trigger: "bbo"}})
	}
	if sub.Books {
		reqs = append(reqs, request{Method: "subscribe", Params: subParams{Channel: "book", Symbol: sub.Symbols, Depth: c.cfg.Depth, Snapshot: &yes}})
	}
	for _, r := range reqs {
		for _, sym := range sub.Symbols {
			want[r.Params.Channel+"/"+sym] = true
		}
	}
	sent := false
	for len(want) > 0 || !sent {
		_, raw, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("kraken: waiting for the subscriptions: %w", err)
		}
		_, fr, _ := s.p.parse(raw)
		if !sent && fr.instruments {
			// Precisions known: now the data channels.
			for _, sym := range sub.Symbols {
				if _, ok := s.p.pairs[sym]; !ok {
					conn.CloseNow()
					return nil, fmt.Errorf("kraken: the instrument channel lists no pair %s (symbols are spelled BTC/USD)", sym)
				}
			}
			for _, r := range reqs {
				if err := s.send(dctx, r); err != nil {
					conn.CloseNow()
					return nil, err
				}
			}
			sent = true
			continue
		}
		for _, a := range fr.acks {
			if !a.ok {
				conn.CloseNow()
				return nil, fmt.Errorf("kraken: subscription refused: %s", a.err)
			}
			delete(want, a.channel+"/"+a.symbol)
		}
		if sent && len(fr.acks) == 0 {
			// Data (or a bad frame) before the last ack: parsed again in
			// Next, so that it is published or counted in order.
			s.early = append(s.early, raw)
		}
	}
	return s, nil
}

type session struct {
	c      *Connector
	conn   *websocket.Conn
	p      *parser
	early  [][]byte
	req    int64
	resync map[string]time.Time // symbol → last resubscription
}

func (s *session) send(ctx context.Context, r request) error {
	s.req++
	r.ReqID = s.req
	return exchange.SendJSON(ctx, s.conn, "kraken", r)
}

// Next implements exchange.Session.
func (s *session) Next(ctx context.Context) ([]exchange.Event, error) {
	raw, err := exchange.ReadWS(ctx, s.conn, "kraken", &s.early)
	if err != nil {
		return nil, err
	}
	evs, _, err := s.p.parse(raw)
	return evs, err
}

// Resync implements exchange.Session: unsubscribing and subscribing the
// symbol's book makes Kraken send a new snapshot (with its checksum).
func (s *session) Resync(ctx context.Context, sym string) error {
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
	if err := s.send(ctx, request{Method: "unsubscribe", Params: subParams{Channel: "book", Symbol: []string{sym}, Depth: s.c.cfg.Depth}}); err != nil {
		return err
	}
	yes := true
	return s.send(ctx, request{Method: "subscribe", Params: subParams{Channel: "book", Symbol: []string{sym}, Depth: s.c.cfg.Depth, Snapshot: &yes}})
}

// Close implements exchange.Session.
func (s *session) Close() error { return s.conn.CloseNow() }

// Trades implements exchange.Connector with GET
// /0/public/Trades?pair=&since=&count= (oldest first): since is a
// nanosecond time just before the cursor's, so trades sharing its
// microsecond come back and are dropped by id. Trade ids are consecutive
// per pair: a first id beyond the cursor's next is reported as a gap.
func (c *Connector) Trades(ctx context.Context, sym string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	limit = min(max(limit, 1), MaxTradesLimit)
	rp, err := c.restPair(ctx, sym)
	if err != nil {
		return exchange.TradePage{}, err
	}
	q := url.Values{"pair": {rp}, "count": {strconv.Itoa(limit)}}
	if !after.IsZero() {
		q.Set("since", strconv.FormatInt(max(after.TimeUs*1000-1, 0), 10))
	}
	path := "/0/public/Trades?" + q.Encode()
	body, err := c.get(ctx, path)
	if err != nil {
		return exchange.TradePage{}, err
	}
	p := newParser(c.cfg.Exchange, func() int64 { return c.cfg.Now().UnixMicro() })
	v, err := p.fj.ParseBytes(body)
	if err != nil {
		return exchange.TradePage{}, fmt.Errorf("kraken: GET %s: unexpected answer: %w", path, err)
	}
	if errs := v.GetArray("error"); len(errs) > 0 {
		return exchange.TradePage{}, venueError(path, string(errs[0].GetStringBytes()))
	}
	res := v.GetObject("result")
	if res == nil {
		return exchange.TradePage{}, fmt.Errorf("kraken: GET %s: no result", path)
	}
	var rows []*fastjson.Value
	res.Visit(func(k []byte, rv *fastjson.Value) {
		if string(k) != "last" {
			rows, _ = rv.Array()
		}
	})
	from, numeric := after.NumericID()
	recv := c.cfg.Now().UnixMicro()
	page := exchange.TradePage{More: len(rows) >= limit}
	for i, r := range rows {
		t, err := p.restTrade(r, sym, recv)
		if err != nil {
			return exchange.TradePage{}, fmt.Errorf("kraken: trade %d of GET %s: %w", i, path, err)
		}
		if id, _ := strconv.ParseInt(t.TradeID, 10, 64); !after.IsZero() && numeric && id <= from {
			continue
		}
		page.Trades = append(page.Trades, t)
	}
	if page.More && len(page.Trades) == 0 {
		return page, fmt.Errorf("kraken: GET %s: a full page of trades at or before the cursor; cannot advance", path)
	}
	if numeric && !after.IsZero() && len(page.Trades) > 0 {
		if first, err := strconv.ParseInt(page.Trades[0].TradeID, 10, 64); err == nil && first > from+1 {
			page.Gap = &exchange.TradeGap{Symbol: sym, AfterID: after.ID, BeforeID: page.Trades[0].TradeID, FromTimeUs: after.TimeUs,
				ToTimeUs: page.Trades[0].ExchangeTimeUs, Missing: first - from - 1}
		}
	}
	return page, nil
}

// get does one REST GET; non-200 answers become *exchange.RESTError.
func (c *Connector) get(ctx context.Context, path string) ([]byte, error) {
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "kraken", c.cfg.RESTURL, path, 64<<20, nil)
}

// venueError is an error Kraken reports with HTTP 200 in the body's error
// list; its rate limits ("EAPI:Rate limit exceeded", "EGeneral:Too many
// requests") match exchange.ErrRateLimited, so the caller backs off.
func venueError(path, msg string) error {
	if strings.Contains(msg, "Rate limit") || strings.Contains(msg, "Too many requests") {
		return fmt.Errorf("kraken: GET %s: %s: %w", path, msg, exchange.ErrRateLimited)
	}
	return fmt.Errorf("kraken: GET %s: %s", path, msg)
}
