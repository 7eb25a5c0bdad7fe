package poloniex

// Fake is a Poloniex that speaks the public v3 protocol (WebSocket and the
// REST endpoints this package uses) on loopback, driven by a deterministic
// synthetic market: a seeded random walk per symbol at the symbol's tick
// size, trades with increasing ids, and an L2 book around the price with
// id/lastId sequencing. It keeps its ground truth (every trade it made, the
// current book) for tests, and has fault knobs: drop connections, stall
// without pongs, skip a book sequence number, send malformed or unknown
// frames, slow REST, REST rate limiting. Its data is synthetic; anything
// that shows it must say so.

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tickertape/tickertape/market"
)

// FakeSymbol is one synthetic market.
type FakeSymbol struct {
	Symbol        string // BTC_USDT
	StartPrice    string // decimal
	PriceScale    int    // tick size 10^-PriceScale
	QuantityScale int
}

// FakeConfig configures a Fake; zero values take defaults.
type FakeConfig struct {
	Seed    uint64
	Symbols []FakeSymbol // default BTC_USDT and ETH_USDT
	// Tick is the market's step: each tick every symbol may trade and its
	// book changes. Default 50ms.
	Tick time.Duration
	// MaxTradesPerTick per symbol (0..n at random). Default 3.
	MaxTradesPerTick int
	// BookDepth is the levels per side. Default 10.
	BookDepth int
	// FirstTradeID is one less than the first trade's id. Default 60000000.
	// A fake restarted on the same topics must start above every id it
	// made before (tickertape demo derives it from the clock).
	FirstTradeID int64
}

// DefaultFakeSymbols are two markets with Poloniex-like scales.
var DefaultFakeSymbols = []FakeSymbol{
	{Symbol: "BTC_USDT", StartPrice: "97000.00", PriceScale: 2, QuantityScale: 6},
	{Symbol: "ETH_USDT", StartPrice: "3400.00", PriceScale: 2, QuantityScale: 4},
}

// Fake is a running fake Poloniex.
type Fake struct {
	cfg FakeConfig
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	rng      *rand.Rand
	syms     map[string]*simSymbol
	order    []string
	tradeID  int64
	conns    map[*fakeConn]struct{}
	paused   bool
	skipBook int // book updates to apply but not send
	// knobs
	stallUntil  time.Time
	restDelay   time.Duration
	restLimited int
	restCalls   int

	stop chan struct{}
	wg   sync.WaitGroup
}

type simSymbol struct {
	FakeSymbol
	price      int64 // coefficient at PriceScale
	trades     []market.Trade
	bids, asks map[int64]int64 // price coef → quantity coef
	seq        int64
	open       int64
	high, low  int64
	volume     *big.Rat
	quoteVol   *big.Rat
	count      int64
	startMs    int64
}

// NewFake starts a fake Poloniex on a free loopback port.
func NewFake(cfg FakeConfig) (*Fake, error) {
	if len(cfg.Symbols) == 0 {
		cfg.Symbols = DefaultFakeSymbols
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	if cfg.MaxTradesPerTick <= 0 {
		cfg.MaxTradesPerTick = 3
	}
	if cfg.BookDepth <= 0 {
		cfg.BookDepth = 10
	}
	if cfg.FirstTradeID <= 0 {
		cfg.FirstTradeID = 60000000
	}
	f := &Fake{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), syms: map[string]*simSymbol{},
		conns: map[*fakeConn]struct{}{}, stop: make(chan struct{}), tradeID: cfg.FirstTradeID}
	now := time.Now().UnixMilli()
	for _, s := range cfg.Symbols {
		p, err := market.ParseDecimal(s.StartPrice)
		if err != nil || int(p.Scale) > s.PriceScale {
			return nil, fmt.Errorf("poloniex fake: start price %q of %s does not fit price scale %d", s.StartPrice, s.Symbol, s.PriceScale)
		}
		coef := p.Coef
		for sc := int(p.Scale); sc < s.PriceScale; sc++ {
			coef *= 10
		}
		ss := &simSymbol{FakeSymbol: s, price: coef, bids: map[int64]int64{}, asks: map[int64]int64{}, seq: 1000,
			open: coef, high: coef, low: coef, volume: new(big.Rat), quoteVol: new(big.Rat), startMs: now}
		f.syms[s.Symbol] = ss
		f.order = append(f.order, s.Symbol)
		f.rebuildBook(ss)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/public", f.serveWS)
	mux.HandleFunc("GET /markets", f.serveMarkets)
	mux.HandleFunc("GET /markets/{symbol}/trades", f.serveTrades)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	f.wg.Add(2)
	go func() { defer f.wg.Done(); f.srv.Serve(ln) }()
	go f.run()
	return f, nil
}

// WSURL is the WebSocket endpoint (like wss://ws.poloniex.com/ws/public).
func (f *Fake) WSURL() string { return "ws://" + f.ln.Addr().String() + "/ws/public" }

// RESTURL is the REST base URL (like https://api.poloniex.com).
func (f *Fake) RESTURL() string { return "http://" + f.ln.Addr().String() }

// Config returns a Connector Config pointing at the fake.
// Its events carry the exchange name SyntheticName.
func (f *Fake) Config() Config {
	return Config{WSURL: f.WSURL(), RESTURL: f.RESTURL(), Exchange: SyntheticName}
}

// Close stops the market and the server and drops every connection.
func (f *Fake) Close() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	f.DropConnections()
	f.srv.Close()
	f.wg.Wait()
}

// Pause stops the market (no trades, no book changes) until Resume; tests
// pause before comparing against the ground truth.
func (f *Fake) Pause() { f.mu.Lock(); f.paused = true; f.mu.Unlock() }

// Resume restarts the market.
func (f *Fake) Resume() { f.mu.Lock(); f.paused = false; f.mu.Unlock() }

// Trades returns every trade the fake has made in a symbol, in order (the
// ground truth). ReceivedTimeUs is zero.
func (f *Fake) Trades(symbol string) []market.Trade {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.syms[symbol]; s != nil {
		return slices.Clone(s.trades)
	}
	return nil
}

// Book returns the current book of a symbol: price → quantity, as decimal
// strings at the symbol's scales.
func (f *Fake) Book(symbol string) (bids, asks map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.syms[symbol]
	if s == nil {
		return nil, nil
	}
	conv := func(m map[int64]int64) map[string]string {
		out := map[string]string{}
		for p, q := range m {
			out[market.NewDecimal(p, uint8(s.PriceScale)).String()] = market.NewDecimal(q, uint8(s.QuantityScale)).String()
		}
		return out
	}
	return conv(s.bids), conv(s.asks)
}

// DropConnections closes every WebSocket connection at once.
func (f *Fake) DropConnections() {
	f.mu.Lock()
	conns := make([]*fakeConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		c.conn.CloseNow()
	}
}

// Stall makes every connection go silent (no data, no pongs) for d; the
// market goes on, and what it sends meanwhile is lost on those connections.
func (f *Fake) Stall(d time.Duration) {
	f.mu.Lock()
	f.stallUntil = time.Now().Add(d)
	f.mu.Unlock()
}

// SkipBookSequence applies the next book change of every symbol but does
// not send it, so clients see a sequence gap on the following update.
func (f *Fake) SkipBookSequence() { f.mu.Lock(); f.skipBook++; f.mu.Unlock() }

// SetRESTDelay slows every REST answer by d.
func (f *Fake) SetRESTDelay(d time.Duration) { f.mu.Lock(); f.restDelay = d; f.mu.Unlock() }

// RateLimitREST answers the next n REST calls with HTTP 429.
func (f *Fake) RateLimitREST(n int) { f.mu.Lock(); f.restLimited += n; f.mu.Unlock() }

// SendBadFrames sends every connection a burst of frames a client must
// survive: invalid JSON, an unknown channel, an unknown event, trades with a
// non-numeric price, a missing id or an unknown side, a book update with a
// bad level, an empty data array, and a repeat of the last real trade frame
// (a duplicate). None of them is a real trade.
func (f *Fake) SendBadFrames() {
	f.mu.Lock()
	defer f.mu.Unlock()
	sym := f.order[0]
	bad := []string{
		`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1"`,
		`not json at all`,
		`{"channel":"mystery","data":[{"symbol":"` + sym + `"}]}`,
		`{"event":"surprise"}`,
		`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"buy","createTime":1700000000000,"price":"12,5","id":"1","ts":1700000000001}]}`,
		`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"buy","createTime":1700000000000,"price":"10","ts":1700000000001}]}`,
		`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"0.1","takerSide":"sideways","createTime":1700000000000,"price":"10","id":"2","ts":1700000000001}]}`,
		`{"channel":"trades","data":[{"symbol":"` + sym + `","amount":"1","quantity":"NaN","takerSide":"buy","createTime":1700000000000,"price":"10","id":"3","ts":1700000000001}]}`,
		`{"channel":"trades","data":[]}`,
		`{"channel":"book_lv2","action":"update","data":[{"symbol":"` + sym + `","createTime":1700000000000,"asks":[["x","1"]],"bids":[],"lastId":1,"id":2,"ts":1700000000001}]}`,
		`{"channel":"ticker","data":[{"symbol":"` + sym + `","close":"-5","ts":1700000000001}]}`,
	}
	if s := f.syms[sym]; len(s.trades) > 0 {
		bad = append(bad, string(tradeFrame([]market.Trade{s.trades[len(s.trades)-1]})))
	}
	for c := range f.conns {
		for _, b := range bad {
			c.enqueue([]byte(b))
		}
	}
}

// run is the market clock.
func (f *Fake) run() {
	defer f.wg.Done()
	t := time.NewTicker(f.cfg.Tick)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		if !f.paused {
			n++
			for _, sym := range f.order {
				f.step(f.syms[sym], n%10 == 0)
			}
			if f.skipBook > 0 {
				f.skipBook--
			}
		}
		f.mu.Unlock()
	}
}

// step moves one symbol's market by one tick. f.mu is held.
func (f *Fake) step(s *simSymbol, ticker bool) {
	now := time.Now().UnixMilli()
	s.price = max(s.price+int64(f.rng.IntN(7)-3), int64(f.cfg.BookDepth)+2)
	var trades []market.Trade
	for range f.rng.IntN(f.cfg.MaxTradesPerTick + 1) {
		f.tradeID++
		side := market.SideBuy
		price := s.price + 1
		if f.rng.IntN(2) == 0 {
			side, price = market.SideSell, s.price-1
		}
		qty := int64(1 + f.rng.IntN(5000))
		p, q := market.NewDecimal(price, uint8(s.PriceScale)), market.NewDecimal(qty, uint8(s.QuantityScale))
		amount := market.NewDecimal(price*qty, uint8(s.PriceScale+s.QuantityScale))
		t := market.Trade{Exchange: SyntheticName, Symbol: NormalizeSymbol(s.Symbol), VenueSymbol: s.Symbol, TradeID: strconv.FormatInt(f.tradeID, 10),
			Price: p, Quantity: q, QuoteQuantity: amount, HasQuoteQty: true, Side: side, ExchangeTimeUs: now * 1000}
		trades = append(trades, t)
		s.trades = append(s.trades, t)
		s.high, s.low = max(s.high, price), min(s.low, price)
		s.volume.Add(s.volume, q.Rat())
		s.quoteVol.Add(s.quoteVol, amount.Rat())
		s.count++
	}
	if len(trades) > 0 {
		f.broadcast("trades", s.Symbol, tradeFrame(trades))
	}
	oldBids, oldAsks := s.bids, s.asks
	f.rebuildBook(s)
	s.seq++
	if f.skipBook == 0 {
		f.broadcast("book_lv2", s.Symbol, s.bookFrame("update", diff(oldBids, s.bids), diff(oldAsks, s.asks), s.seq-1, s.seq, now))
	}
	if ticker {
		f.broadcast("ticker", s.Symbol, s.tickerFrame(now))
	}
}

// rebuildBook sets depth levels each side around the price with random
// sizes (some unchanged, so updates are real diffs).
func (f *Fake) rebuildBook(s *simSymbol) {
	bids, asks := map[int64]int64{}, map[int64]int64{}
	for k := int64(1); k <= int64(f.cfg.BookDepth); k++ {
		for _, side := range []struct {
			m, old map[int64]int64
			p      int64
		}{{bids, s.bids, s.price - k}, {asks, s.asks, s.price + k}} {
			if q, ok := side.old[side.p]; ok && f.rng.IntN(3) > 0 {
				side.m[side.p] = q
			} else {
				side.m[side.p] = int64(1 + f.rng.IntN(100000))
			}
		}
	}
	s.bids, s.asks = bids, asks
}

// diff lists the levels that changed from old to cur; removed ones with 0.
func diff(old, cur map[int64]int64) [][2]int64 {
	var out [][2]int64
	for p, q := range cur {
		if old[p] != q {
			out = append(out, [2]int64{p, q})
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			out = append(out, [2]int64{p, 0})
		}
	}
	slices.SortFunc(out, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	return out
}

func levelsJSON(s *simSymbol, ls [][2]int64, desc bool) [][2]string {
	if desc {
		slices.SortFunc(ls, func(a, b [2]int64) int { return int(b[0] - a[0]) })
	}
	out := make([][2]string, len(ls))
	for i, l := range ls {
		out[i] = [2]string{market.NewDecimal(l[0], uint8(s.PriceScale)).String(), market.NewDecimal(l[1], uint8(s.QuantityScale)).String()}
	}
	return out
}

func (s *simSymbol) bookFrame(action string, bids, asks [][2]int64, lastID, id, nowMs int64) []byte {
	b, _ := json.Marshal(map[string]any{"channel": "book_lv2", "action": action, "data": []map[string]any{{
		"symbol": s.Symbol, "createTime": nowMs, "asks": levelsJSON(s, asks, false), "bids": levelsJSON(s, bids, true),
		"lastId": lastID, "id": id, "ts": nowMs + 3}}})
	return b
}

func (s *simSymbol) snapshotFrame(nowMs int64) []byte {
	all := func(m map[int64]int64) [][2]int64 {
		var out [][2]int64
		for p, q := range m {
			out = append(out, [2]int64{p, q})
		}
		slices.SortFunc(out, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		return out
	}
	return s.bookFrame("snapshot", all(s.bids), all(s.asks), s.seq-1, s.seq, nowMs)
}

func (s *simSymbol) tickerFrame(nowMs int64) []byte {
	sc := uint8(s.PriceScale)
	change := new(big.Rat).Quo(new(big.Rat).SetInt64(s.price-s.open), new(big.Rat).SetInt64(s.open))
	dc, _ := market.RoundRat(change, 4)
	b, _ := json.Marshal(map[string]any{"channel": "ticker", "data": []map[string]any{{
		"symbol": s.Symbol, "startTime": s.startMs, "open": market.NewDecimal(s.open, sc).String(),
		"high": market.NewDecimal(s.high, sc).String(), "low": market.NewDecimal(s.low, sc).String(),
		"close": market.NewDecimal(s.price, sc).String(), "quantity": s.volume.FloatString(s.QuantityScale),
		"amount": s.quoteVol.FloatString(s.PriceScale + s.QuantityScale), "tradeCount": s.count,
		"dailyChange": dc.String(), "markPrice": market.NewDecimal(s.price, sc).String(), "closeTime": nowMs, "ts": nowMs + 5}}})
	return b
}

func tradeFrame(ts []market.Trade) []byte {
	data := make([]map[string]any, len(ts))
	for i, t := range ts {
		data[i] = map[string]any{"symbol": t.VenueSymbol, "amount": t.QuoteQuantity.String(), "quantity": t.Quantity.String(),
			"takerSide": strings.ToLower(t.Side.String()), "createTime": t.ExchangeTimeUs / 1000, "price": t.Price.String(),
			"id": t.TradeID, "ts": t.ExchangeTimeUs/1000 + 5}
	}
	b, _ := json.Marshal(map[string]any{"channel": "trades", "data": data})
	return b
}

// broadcast sends a frame to every connection subscribed to channel and
// symbol. f.mu is held, so frames keep the market's order.
func (f *Fake) broadcast(channel, symbol string, frame []byte) {
	for c := range f.conns {
		if c.subs[channel+"/"+symbol] {
			c.enqueue(frame)
		}
	}
}

// fakeConn is one client connection.
type fakeConn struct {
	f    *Fake
	conn *websocket.Conn
	subs map[string]bool // "channel/symbol"; guarded by f.mu
	out  chan []byte
}

// enqueue queues a frame; a client too slow to keep up is dropped, as real
// exchanges do.
func (c *fakeConn) enqueue(b []byte) {
	select {
	case c.out <- b:
	default:
		c.conn.CloseNow()
	}
}

func (f *Fake) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c := &fakeConn{f: f, conn: conn, subs: map[string]bool{}, out: make(chan []byte, 8192)}
	f.mu.Lock()
	f.conns[c] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		conn.CloseNow()
	}()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go c.writer(ctx)
	for {
		_, raw, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			Event   string   `json:"event"`
			Channel []string `json:"channel"`
			Symbols []string `json:"symbols"`
		}
		if json.Unmarshal(raw, &req) != nil {
			c.enqueue([]byte(`{"event":"error","message":"Invalid request"}`))
			continue
		}
		switch req.Event {
		case "ping":
			c.enqueue([]byte(`{"event":"pong"}`))
		case "subscribe", "unsubscribe":
			f.subscribe(c, req.Event, req.Channel, req.Symbols)
		default:
			c.enqueue([]byte(`{"event":"error","message":"Unsupported event"}`))
		}
	}
}

func (f *Fake) subscribe(c *fakeConn, event string, channels, symbols []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range channels {
		if ch != "trades" && ch != "ticker" && ch != "book_lv2" {
			c.enqueue([]byte(`{"event":"error","message":"Subscription failed (channel ` + ch + ` not supported)"}`))
			continue
		}
		for _, sym := range symbols {
			if f.syms[sym] == nil {
				c.enqueue([]byte(`{"event":"error","message":"Subscription failed (unknown symbol ` + sym + `)"}`))
				return
			}
		}
		ack, _ := json.Marshal(map[string]any{"event": event, "channel": ch, "symbols": symbols})
		c.enqueue(ack)
		for _, sym := range symbols {
			c.subs[ch+"/"+sym] = event == "subscribe"
			if ch == "book_lv2" && event == "subscribe" {
				c.enqueue(f.syms[sym].snapshotFrame(time.Now().UnixMilli()))
			}
		}
	}
}

// writer sends queued frames, holding them while the fake is stalled.
func (c *fakeConn) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-c.out:
			for {
				c.f.mu.Lock()
				until := c.f.stallUntil
				c.f.mu.Unlock()
				if d := time.Until(until); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
					continue
				}
				break
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

// rest applies the REST knobs; false means it answered (429).
func (f *Fake) rest(w http.ResponseWriter) bool {
	f.mu.Lock()
	delay := f.restDelay
	f.restCalls++
	limited := f.restLimited > 0
	if limited {
		f.restLimited--
	}
	f.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if limited {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"code":429,"message":"Too many requests"}`))
		return false
	}
	return true
}

// RESTCalls is how many REST requests the fake has answered.
func (f *Fake) RESTCalls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.restCalls }

func (f *Fake) serveMarkets(w http.ResponseWriter, r *http.Request) {
	if !f.rest(w) {
		return
	}
	f.mu.Lock()
	var out []map[string]any
	for _, sym := range f.order {
		s := f.syms[sym]
		base, quote, _ := strings.Cut(sym, "_")
		out = append(out, map[string]any{"symbol": sym, "baseCurrencyName": base, "quoteCurrencyName": quote, "displayName": base + "/" + quote,
			"state": "NORMAL", "visibleStartTime": s.startMs, "tradableStartTime": s.startMs,
			"symbolTradeLimit": map[string]any{"symbol": sym, "priceScale": s.PriceScale, "quantityScale": s.QuantityScale,
				"amountScale": s.PriceScale, "minQuantity": market.NewDecimal(1, uint8(s.QuantityScale)).String(), "minAmount": "1",
				"highestBid": "0", "lowestAsk": "0"}})
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (f *Fake) serveTrades(w http.ResponseWriter, r *http.Request) {
	if !f.rest(w) {
		return
	}
	limit := 500
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, MaxTradesLimit)
	}
	f.mu.Lock()
	s := f.syms[r.PathValue("symbol")]
	if s == nil {
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"code":21100,"message":"Invalid symbol!"}`))
		return
	}
	var out []map[string]any
	for i := len(s.trades) - 1; i >= 0 && len(out) < limit; i-- {
		t := s.trades[i]
		out = append(out, map[string]any{"id": t.TradeID, "price": t.Price.String(), "quantity": t.Quantity.String(),
			"amount": t.QuoteQuantity.String(), "takerSide": t.Side.String(), "ts": t.ExchangeTimeUs/1000 + 5, "createTime": t.ExchangeTimeUs / 1000})
	}
	f.mu.Unlock()
	if out == nil {
		out = []map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
