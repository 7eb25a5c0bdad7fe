// Package poloniex connects tickertape to Poloniex's public v3 market-data
// API: the WebSocket at wss://ws.poloniex.com/ws/public (channels trades,
// ticker, book_lv2) and the REST API at https://api.poloniex.com (/markets,
// /markets/{symbol}/trades). PROTOCOL.md records every message shape and
// limit this package relies on, with sources. Fake is a Poloniex that speaks
// the same protocol on loopback, for tests and tickertape demo.
package poloniex

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fastjson"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/market"
)

// Live endpoints.
const (
	PublicWSURL = "wss://ws.poloniex.com/ws/public"
	RESTURL     = "https://api.poloniex.com"
)

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	// Exchange is the name events carry; default "poloniex" (the fake's
	// Config says "poloniex-synthetic").
	Exchange string
	// PingInterval is how often the session sends {"event":"ping"}. Poloniex
	// drops a connection that sends nothing for 30 s. Default 15s.
	PingInterval time.Duration
	// HTTPClient for REST; default has a 15 s timeout.
	HTTPClient *http.Client
	// Now is the receive clock; default time.Now.
	Now func() time.Time
}

// Connector is the Poloniex exchange.Connector.
type Connector struct {
	cfg Config
}

var _ exchange.Connector = (*Connector)(nil)

// New returns a Connector.
func New(cfg Config) *Connector {
	if cfg.WSURL == "" {
		cfg.WSURL = PublicWSURL
	}
	if cfg.Exchange == "" {
		cfg.Exchange = Name
	}
	if cfg.RESTURL == "" {
		cfg.RESTURL = RESTURL
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 15 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Connector{cfg: cfg}
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

type subscribeMsg struct {
	Event   string   `json:"event"`
	Channel []string `json:"channel"`
	Symbols []string `json:"symbols"`
}

// Dial implements exchange.Connector: it connects, subscribes to each
// channel and waits for every acknowledgement.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, c.cfg.WSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("poloniex: connecting to %s: %w", c.cfg.WSURL, err)
	}
	conn.SetReadLimit(16 << 20)
	s := &session{c: c, conn: conn, p: parser{exchange: c.cfg.Exchange, symbols: map[string]bool{}, now: func() int64 { return c.cfg.Now().UnixMicro() }}, done: make(chan struct{})}
	for _, sym := range sub.Symbols {
		s.p.symbols[sym] = true
	}
	var channels []string
	if sub.Trades {
		channels = append(channels, "trades")
	}
	if sub.Tickers {
		channels = append(channels, "ticker")
	}
	if sub.Books {
		channels = append(channels, "book_lv2")
	}
	for _, ch := range channels {
		if err := s.send(dctx, subscribeMsg{Event: "subscribe", Channel: []string{ch}, Symbols: sub.Symbols}); err != nil {
			conn.CloseNow()
			return nil, err
		}
	}
	// Acknowledgements come back in order; data frames may be interleaved
	// and are kept for Next.
	acked := map[string]bool{}
	for len(acked) < len(channels) {
		_, raw, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("poloniex: waiting for subscription acknowledgements: %w", err)
		}
		var f struct {
			Event, Message string
			Channel        json.RawMessage
		}
		if json.Unmarshal(raw, &f) == nil {
			switch f.Event {
			case "subscribe":
				var ch string
				json.Unmarshal(f.Channel, &ch)
				acked[ch] = true
				continue
			case "error":
				conn.CloseNow()
				return nil, fmt.Errorf("poloniex: subscription refused: %s", f.Message)
			}
		}
		s.early = append(s.early, raw)
	}
	go s.pinger()
	return s, nil
}

type session struct {
	c     *Connector
	conn  *websocket.Conn
	p     parser
	early [][]byte // frames that arrived before the last acknowledgement
	done  chan struct{}
	once  sync.Once
}

func (s *session) send(ctx context.Context, v any) error {
	b, _ := json.Marshal(v)
	if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("poloniex: send: %w", err)
	}
	return nil
}

// pinger keeps the connection alive; Poloniex answers each ping with a pong.
func (s *session) pinger() {
	t := time.NewTicker(s.c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.conn.Write(ctx, websocket.MessageText, []byte(`{"event":"ping"}`))
			cancel()
			if err != nil {
				return // Next sees the broken connection
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
		var err error
		if _, raw, err = s.conn.Read(ctx); err != nil {
			return nil, fmt.Errorf("poloniex: read: %w", err)
		}
	}
	return s.p.parse(raw)
}

// Resync implements exchange.Session: unsubscribing and subscribing the
// symbol's book again makes Poloniex send a fresh snapshot.
func (s *session) Resync(ctx context.Context, venueSymbol string) error {
	if err := s.send(ctx, subscribeMsg{Event: "unsubscribe", Channel: []string{"book_lv2"}, Symbols: []string{venueSymbol}}); err != nil {
		return err
	}
	return s.send(ctx, subscribeMsg{Event: "subscribe", Channel: []string{"book_lv2"}, Symbols: []string{venueSymbol}})
}

// Close implements exchange.Session.
func (s *session) Close() error {
	s.once.Do(func() { close(s.done) })
	return s.conn.CloseNow()
}

// Market is one entry of GET /markets.
type Market struct {
	Symbol            string `json:"symbol"`
	BaseCurrencyName  string `json:"baseCurrencyName"`
	QuoteCurrencyName string `json:"quoteCurrencyName"`
	DisplayName       string `json:"displayName"`
	State             string `json:"state"`
	VisibleStartTime  int64  `json:"visibleStartTime"`
	TradableStartTime int64  `json:"tradableStartTime"`
	SymbolTradeLimit  struct {
		Symbol        string `json:"symbol"`
		PriceScale    int    `json:"priceScale"`
		QuantityScale int    `json:"quantityScale"`
		AmountScale   int    `json:"amountScale"`
		MinQuantity   string `json:"minQuantity"`
		MinAmount     string `json:"minAmount"`
		HighestBid    string `json:"highestBid"`
		LowestAsk     string `json:"lowestAsk"`
	} `json:"symbolTradeLimit"`
}

// Markets returns GET /markets: every symbol with its state and scales.
func (c *Connector) Markets(ctx context.Context) ([]Market, error) {
	var ms []Market
	if err := c.get(ctx, "/markets", &ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// MaxTradesLimit is the most trades GET /markets/{symbol}/trades returns.
const MaxTradesLimit = 1000

// RecentTrades implements exchange.Connector with GET
// /markets/{symbol}/trades?limit=N (newest first on the wire; returned
// oldest first).
func (c *Connector) RecentTrades(ctx context.Context, venueSymbol string, limit int) ([]market.Trade, error) {
	limit = min(max(limit, 1), MaxTradesLimit)
	path := "/markets/" + url.PathEscape(venueSymbol) + "/trades?limit=" + strconv.Itoa(limit)
	body, err := c.getRaw(ctx, path)
	if err != nil {
		return nil, err
	}
	var fj fastjson.Parser
	v, err := fj.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("poloniex: GET %s: unexpected answer: %w", path, err)
	}
	arr, err := v.Array()
	if err != nil {
		return nil, fmt.Errorf("poloniex: GET %s: unexpected answer: not an array", path)
	}
	recv := c.cfg.Now().UnixMicro()
	norm := NormalizeSymbol(venueSymbol)
	out := make([]market.Trade, 0, len(arr))
	for i, e := range arr {
		it, err := readItem(e)
		var t *market.Trade
		if err == nil {
			t, err = tradeFrom(&it, c.cfg.Exchange, venueSymbol, norm, recv)
		}
		if err != nil {
			return nil, fmt.Errorf("poloniex: trade %d of GET %s: %w", i, path, err)
		}
		t.Backfilled = true
		out = append(out, *t)
	}
	slices.Reverse(out)
	return out, nil
}

// get does one REST GET and decodes the JSON answer.
func (c *Connector) get(ctx context.Context, path string, into any) error {
	body, err := c.getRaw(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("poloniex: GET %s: unexpected answer: %w", path, err)
	}
	return nil
}

// getRaw does one REST GET and returns the body of a 200 answer.
func (c *Connector) getRaw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.cfg.RESTURL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("poloniex: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("poloniex: GET %s: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("poloniex: GET %s: %w (HTTP 429)", path, exchange.ErrRateLimited)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("poloniex: GET %s: HTTP %d: %.200s", path, resp.StatusCode, body)
	}
	return body, nil
}
