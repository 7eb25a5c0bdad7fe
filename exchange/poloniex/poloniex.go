// Package poloniex connects tickertape to Poloniex's public v3 market-data
// API: the WebSocket at wss://ws.poloniex.com/ws/public (channels trades,
// ticker, book_lv2) and the REST API at https://api.poloniex.com (/markets,
// /markets/{symbol}/trades). PROTOCOL.md records every message shape and
// limit this package relies on, with sources. Fake is a Poloniex that speaks
// the same protocol on loopback, for tests and tickertape demo.
package poloniex

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
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

func init() {
	exchange.Register(Name, func(o exchange.Options) (exchange.Connector, error) {
		return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HTTPClient: o.HTTPClient}), nil
	})
	exchange.RegisterFake(Name, func(o exchange.FakeOptions) (exchange.FakeServer, error) {
		return NewFake(exchangetest.ConfigFrom(o))
	})
}

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Poloniex spot (v3 public API)", WSURL: PublicWSURL, RESTURL: RESTURL,
		Channels:            []string{"trades", "tickers (no best bid/ask)", "books (book_lv2, 20 levels)"},
		BookSync:            "PrevSequence chain: each update's lastId is the previous id; a gap resubscribes the symbol's book_lv2",
		Backfill:            "the most recent 1000 trades per symbol; a longer outage is reported as a trade gap (ids are consecutive per symbol)",
		DefaultSymbols:      []string{"BTC_USDT", "ETH_USDT"},
		TradeIDsConsecutive: true,
		SymbolExample:       "BTC_USDT",
		SideMeaning:         "takerSide",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.ChainSync{} }

// New returns a Connector.
func New(cfg Config) *Connector {
	cfg.WSURL = cmp.Or(cfg.WSURL, PublicWSURL)
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	cfg.RESTURL = cmp.Or(cfg.RESTURL, RESTURL)
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 15 * time.Second
	}
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
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
	conn, err := exchange.DialWS(dctx, "poloniex", c.cfg.WSURL, "", 16<<20)
	if err != nil {
		return nil, err
	}
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
	return exchange.SendJSON(ctx, s.conn, "poloniex", v)
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
	raw, err := exchange.ReadWS(ctx, s.conn, "poloniex", &s.early)
	if err != nil {
		return nil, err
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

// Markets implements exchange.Connector with GET /markets.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	ms, err := c.ListMarkets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]exchange.Market, 0, len(ms))
	for _, m := range ms {
		base, quote := m.BaseCurrencyName, m.QuoteCurrencyName
		if base == "" || quote == "" {
			base, quote, _ = strings.Cut(m.Symbol, "_")
		}
		out = append(out, exchange.Market{VenueSymbol: m.Symbol, Symbol: exchange.Symbol(base, quote, aliases),
			Base: exchange.NormalizeAsset(base, aliases), Quote: exchange.NormalizeAsset(quote, aliases),
			PriceScale: m.SymbolTradeLimit.PriceScale, SizeScale: m.SymbolTradeLimit.QuantityScale, Status: m.State})
	}
	return out, nil
}

// ListMarkets returns GET /markets as Poloniex sends it.
func (c *Connector) ListMarkets(ctx context.Context) ([]Market, error) {
	var ms []Market
	if err := c.get(ctx, "/markets", &ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// MaxTradesLimit is the most trades GET /markets/{symbol}/trades returns.
const MaxTradesLimit = 1000

// Trades implements exchange.Connector with GET
// /markets/{symbol}/trades?limit=N, the only trade history Poloniex's public
// API has: the most recent trades, newest first on the wire. Trade ids are
// consecutive per symbol, so when the oldest trade returned is more than one
// after the cursor, the trades between are reported as a gap.
func (c *Connector) Trades(ctx context.Context, venueSymbol string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	if !after.IsZero() {
		limit = MaxTradesLimit
	}
	trades, err := c.RecentTrades(ctx, venueSymbol, limit)
	if err != nil {
		return exchange.TradePage{}, err
	}
	from, ok := after.NumericID()
	if !ok {
		return exchange.TradePage{Trades: trades}, nil
	}
	keep := trades[:0]
	for _, t := range trades {
		if id, err := strconv.ParseInt(t.TradeID, 10, 64); err == nil && id > from {
			keep = append(keep, t)
		}
	}
	page := exchange.TradePage{Trades: keep}
	if len(keep) > 0 {
		if first, _ := strconv.ParseInt(keep[0].TradeID, 10, 64); first > from+1 {
			page.Gap = &exchange.TradeGap{Symbol: venueSymbol, AfterID: after.ID, BeforeID: keep[0].TradeID,
				FromTimeUs: after.TimeUs, ToTimeUs: keep[0].ExchangeTimeUs, Missing: first - from - 1}
		}
	}
	return page, nil
}

// RecentTrades returns up to limit of the most recent trades of one symbol
// (GET /markets/{symbol}/trades), oldest first, with Backfilled set.
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
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "poloniex", c.cfg.RESTURL, path, 32<<20, nil)
}
