// Package coinbase connects tickertape to Coinbase Advanced Trade's public
// market data: the WebSocket (channels market_trades, ticker, level2,
// heartbeats) and the public REST market endpoints (products, a product's
// ticker with its recent trades). PROTOCOL.md records every fact this
// package relies on with its documentation page. Fake is a Coinbase that
// speaks the same protocol on loopback, for tests and tickertape demo.
package coinbase

import (
	"cmp"
	"context"
	"encoding/json"
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

// Live endpoints.
const (
	WSURL   = "wss://advanced-trade-ws.coinbase.com"
	RESTURL = "https://api.coinbase.com"
)

// MaxTradesLimit is the most trades one REST ticker call returns.
const MaxTradesLimit = 1000

// Config configures a Connector; zero values mean the live endpoints.
type Config struct {
	WSURL, RESTURL string
	Exchange       string // default "coinbase"
	HTTPClient     *http.Client
	Now            func() time.Time
	Logger         *slog.Logger
	// BackfillPages bounds the pages (newest first) one Trades call reads
	// walking back to the cursor. Default 20.
	BackfillPages int
}

// Connector is the Coinbase exchange.Connector.
type Connector struct {
	cfg Config
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
	cfg.WSURL = cmp.Or(cfg.WSURL, WSURL)
	cfg.RESTURL = cmp.Or(cfg.RESTURL, RESTURL)
	cfg.RESTURL = strings.TrimRight(cfg.RESTURL, "/")
	cfg.Exchange = cmp.Or(cfg.Exchange, Name)
	cfg.HTTPClient = exchange.RESTClient(cfg.HTTPClient)
	cfg.Now = exchange.Clock(cfg.Now)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BackfillPages <= 0 {
		cfg.BackfillPages = 20
	}
	return &Connector{cfg: cfg}
}

// Name implements exchange.Connector.
func (c *Connector) Name() string { return c.cfg.Exchange }

// Info implements exchange.Connector.
func (c *Connector) Info() exchange.Info {
	return exchange.Info{
		Name: Name, Title: "Coinbase Advanced Trade", WSURL: WSURL, RESTURL: RESTURL,
		Channels:       []string{"trades (market_trades)", "tickers (ticker: last, best bid/ask, 24 h high/low/volume)", "books (level2)", "heartbeats"},
		BookSync:       "snapshot then updates, no per-book sequence: a jump in the per-connection sequence_num resubscribes every level2 book and backfills trades",
		Backfill:       "by time (products/{id}/ticker?start=&end=), newest first, paged back to the last trade seen",
		DefaultSymbols: []string{"BTC-USD", "ETH-USD"}, TradeIDsConsecutive: true,
		SymbolExample: "BTC-USD", SideMeaning: "side, taken as the taker's (PROTOCOL.md: evidence is measured live)",
	}
}

// NewBookSync implements exchange.Connector.
func (c *Connector) NewBookSync() exchange.BookSync { return &exchange.UnsequencedSync{} }

// Markets implements exchange.Connector with GET /api/v3/brokerage/market/products.
func (c *Connector) Markets(ctx context.Context) ([]exchange.Market, error) {
	body, err := c.get(ctx, "/api/v3/brokerage/market/products")
	if err != nil {
		return nil, err
	}
	var ans struct {
		Products []struct {
			ProductID      string `json:"product_id"`
			BaseCurrencyID string `json:"base_currency_id"`
			QuoteCurrency  string `json:"quote_currency_id"`
			QuoteIncrement string `json:"quote_increment"`
			BaseIncrement  string `json:"base_increment"`
			Status         string `json:"status"`
		} `json:"products"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("coinbase: GET products: unexpected answer: %w", err)
	}
	out := make([]exchange.Market, 0, len(ans.Products))
	for _, p := range ans.Products {
		out = append(out, exchange.Market{VenueSymbol: p.ProductID, Symbol: exchange.Symbol(p.BaseCurrencyID, p.QuoteCurrency, nil),
			Base: exchange.NormalizeAsset(p.BaseCurrencyID, nil), Quote: exchange.NormalizeAsset(p.QuoteCurrency, nil),
			PriceScale: exchange.ScaleOf(p.QuoteIncrement), SizeScale: exchange.ScaleOf(p.BaseIncrement), Status: p.Status})
	}
	return out, nil
}

type subMsg struct {
	Type       string   `json:"type"`
	Channel    string   `json:"channel"`
	ProductIDs []string `json:"product_ids,omitempty"`
}

// Dial implements exchange.Connector: one subscribe per channel, then it
// waits until the subscriptions message lists every channel.
func (c *Connector) Dial(ctx context.Context, sub exchange.Subscription) (exchange.Session, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := exchange.DialWS(dctx, "coinbase", c.cfg.WSURL, "", 32<<20)
	if err != nil {
		return nil, err
	}
	s := &session{c: c, conn: conn, p: newParser(c.cfg.Exchange, sub.Symbols, func() int64 { return c.cfg.Now().UnixMicro() }), last: -1}
	channels := []string{"heartbeats"}
	if sub.Trades {
		channels = append(channels, "market_trades")
	}
	if sub.Tickers {
		channels = append(channels, "ticker")
	}
	if sub.Books {
		channels = append(channels, "level2")
	}
	for _, ch := range channels {
		m := subMsg{Type: "subscribe", Channel: ch, ProductIDs: sub.Symbols}
		if err := s.send(dctx, m); err != nil {
			conn.CloseNow()
			return nil, err
		}
	}
	acked := map[string]bool{}
	for {
		_, raw, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("coinbase: waiting for the subscriptions: %w", err)
		}
		s.early = append(s.early, raw)
		_, fr, perr := s.p.parse(raw)
		var fe *exchange.FrameError
		if errors.As(perr, &fe) && fe.Kind == "venue_error" {
			conn.CloseNow()
			return nil, fmt.Errorf("coinbase: subscription refused: %v", fe.Err)
		}
		for _, a := range fr.acks {
			acked[a] = true
		}
		done := true
		for _, ch := range channels {
			done = done && acked[ch]
		}
		if done {
			break
		}
	}
	// Parse them again in Next, in order, with the sequence check.
	s.p = newParser(c.cfg.Exchange, sub.Symbols, s.p.now)
	return s, nil
}

type session struct {
	c      *Connector
	conn   *websocket.Conn
	p      *parser
	early  [][]byte
	last   int64 // the last sequence_num seen (-1: none)
	once   sync.Once
	warned bool
}

func (s *session) send(ctx context.Context, v any) error {
	return exchange.SendJSON(ctx, s.conn, "coinbase", v)
}

// Next implements exchange.Session. The sequence_num of every frame, of
// every channel, must follow the previous one: a jump means frames were
// lost, reported as one Event.Gap (every book resyncs, trades backfill); a
// repeat or older number is a stale frame, dropped.
func (s *session) Next(ctx context.Context) ([]exchange.Event, error) {
	raw, err := exchange.ReadWS(ctx, s.conn, "coinbase", &s.early)
	if err != nil {
		return nil, err
	}
	evs, fr, err := s.p.parse(raw)
	s.checkSide()
	if !fr.hasSeq {
		// Unparseable: its sequence_num is unknown; the next frame shows
		// whether it was a real message (a jump) or not.
		return evs, err
	}
	switch {
	case s.last >= 0 && fr.seq <= s.last:
		return nil, exchange.NewFrameError("stale_sequence", fmt.Errorf("sequence_num %d after %d", fr.seq, s.last), raw)
	case s.last >= 0 && fr.seq != s.last+1:
		gap := exchange.Event{Gap: &exchange.StreamGap{Reason: fmt.Sprintf("sequence_num jumped from %d to %d", s.last, fr.seq)}}
		s.last = fr.seq
		return append([]exchange.Event{gap}, evs...), err
	}
	s.last = fr.seq
	return evs, err
}

// checkSide warns once if the live data contradicts reading side as the
// taker's (PROTOCOL.md).
func (s *session) checkSide() {
	t, m := s.p.SideTaker, s.p.SideMaker
	if !s.warned && t+m >= 200 && m > t {
		s.warned = true
		s.c.cfg.Logger.Warn("coinbase market_trades: trades at the best ask mostly say SELL — side looks like the maker's, not the taker's; please report this", "agree_taker", t, "agree_maker", m)
	}
}

// Resync implements exchange.Session: unsubscribing and subscribing the
// product's level2 makes Coinbase send a new snapshot.
func (s *session) Resync(ctx context.Context, venueSymbol string) error {
	if err := s.send(ctx, subMsg{Type: "unsubscribe", Channel: "level2", ProductIDs: []string{venueSymbol}}); err != nil {
		return err
	}
	return s.send(ctx, subMsg{Type: "subscribe", Channel: "level2", ProductIDs: []string{venueSymbol}})
}

// Close implements exchange.Session.
func (s *session) Close() error { return s.conn.CloseNow() }

// Trades implements exchange.Connector with GET
// /api/v3/brokerage/market/products/{id}/ticker?limit=&start=&end= (UNIX
// seconds, newest first): without a cursor the most recent trades; with
// one, pages walking back from now to the cursor's second. Trades at or
// before the cursor are left out; a walk that cannot reach the cursor
// within BackfillPages reports a gap.
func (c *Connector) Trades(ctx context.Context, product string, after exchange.TradeCursor, limit int) (exchange.TradePage, error) {
	limit = min(max(limit, 1), MaxTradesLimit)
	p := newParser(c.cfg.Exchange, []string{product}, func() int64 { return c.cfg.Now().UnixMicro() })
	from, numeric := after.NumericID()
	var all []market.Trade
	end := c.cfg.Now().Unix() + 1
	reached := after.IsZero()
	for page := 0; page < c.cfg.BackfillPages; page++ {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if !after.IsZero() {
			q.Set("start", strconv.FormatInt(after.TimeUs/1e6, 10))
			q.Set("end", strconv.FormatInt(end, 10))
		}
		path := "/api/v3/brokerage/market/products/" + url.PathEscape(product) + "/ticker?" + q.Encode()
		body, err := c.get(ctx, path)
		if err != nil {
			return exchange.TradePage{}, err
		}
		v, err := p.fj.ParseBytes(body)
		if err != nil {
			return exchange.TradePage{}, fmt.Errorf("coinbase: GET %s: unexpected answer: %w", path, err)
		}
		arr := v.GetArray("trades")
		recv := c.cfg.Now().UnixMicro()
		oldest := int64(-1)
		for i, e := range arr {
			t, err := p.restTrade(e, recv)
			if err != nil {
				return exchange.TradePage{}, fmt.Errorf("coinbase: trade %d of GET %s: %w", i, path, err)
			}
			oldest = t.ExchangeTimeUs
			if !after.IsZero() {
				if id, err := strconv.ParseInt(t.TradeID, 10, 64); numeric && err == nil {
					if id <= from {
						reached = true
						continue
					}
				} else if t.ExchangeTimeUs < after.TimeUs {
					reached = true
					continue
				}
			}
			all = append(all, t)
		}
		if after.IsZero() || len(arr) < limit || reached {
			reached = true
			break
		}
		end = oldest/1e6 + 1 // the same second again: duplicates are dropped below
	}
	slices.SortStableFunc(all, func(a, b market.Trade) int { return cmpTrade(a, b) })
	all = slices.CompactFunc(all, func(a, b market.Trade) bool { return a.TradeID == b.TradeID })
	page := exchange.TradePage{Trades: all}
	switch {
	case !reached:
		page.Gap = &exchange.TradeGap{Symbol: product, AfterID: after.ID, FromTimeUs: after.TimeUs, Missing: -1}
		if len(all) > 0 {
			page.Gap.BeforeID, page.Gap.ToTimeUs = all[0].TradeID, all[0].ExchangeTimeUs
		}
	case numeric && len(all) > 0:
		if first, err := strconv.ParseInt(all[0].TradeID, 10, 64); err == nil && first > from+1 {
			page.Gap = &exchange.TradeGap{Symbol: product, AfterID: after.ID, BeforeID: all[0].TradeID, FromTimeUs: after.TimeUs,
				ToTimeUs: all[0].ExchangeTimeUs, Missing: first - from - 1}
		}
	}
	return page, nil
}

// cmpTrade orders by numeric id when both are numbers, else by time.
func cmpTrade(a, b market.Trade) int {
	x, err1 := strconv.ParseInt(a.TradeID, 10, 64)
	y, err2 := strconv.ParseInt(b.TradeID, 10, 64)
	if err1 == nil && err2 == nil {
		return int(min(max(x-y, -1), 1))
	}
	return int(min(max(a.ExchangeTimeUs-b.ExchangeTimeUs, -1), 1))
}

// get does one REST GET; non-200 answers become *exchange.RESTError
// (429 carries Retry-After when Coinbase sends it).
func (c *Connector) get(ctx context.Context, path string) ([]byte, error) {
	return exchange.RESTGet(ctx, c.cfg.HTTPClient, "coinbase", c.cfg.RESTURL, path, 64<<20, nil)
}

var _ = fastjson.Parser{}
