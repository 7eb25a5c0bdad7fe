package web

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/serde"
)

// The feed is the dashboard's one Kafka consumer: it reads market.candles
// and market.events like any other consumer (no group, nothing committed),
// keeps a bounded view of the latest data per market, and hands every
// change to the hub once, already encoded, whatever the number of browsers.

const (
	candleHistory = 500  // candles kept per market and interval
	tradeHistory  = 50   // trades kept per market
	bookDepth     = 15   // levels per side sent to browsers
	bookMaxLevels = 2000 // levels per side kept (a venue's full L2 book is smaller)
	readBack      = 3000 // records per partition read back on start, for history
)

// marketKey names one market: a venue and a normalized symbol (BTC-USDT).
type marketKey struct{ exchange, symbol string }

// candleJSON is a candle as browsers get it: decimals as strings (the
// browser parses them only to draw), times in UTC seconds for the chart.
type candleJSON struct {
	Time        int64  `json:"time"` // open time, UTC seconds
	OpenTimeUs  int64  `json:"open_time_us"`
	Open        string `json:"open"`
	High        string `json:"high"`
	Low         string `json:"low"`
	Close       string `json:"close"`
	Volume      string `json:"volume"`
	QuoteVolume string `json:"quote_volume"`
	VWAP        string `json:"vwap"`
	Trades      int64  `json:"trades"`
	Final       bool   `json:"final"`
}

type tradeJSON struct {
	ID             string `json:"id"`
	Price          string `json:"price"`
	Quantity       string `json:"quantity"`
	Side           string `json:"side"`
	ExchangeTimeUs int64  `json:"exchange_time_us"`
}

type levelJSON [2]string // price, quantity

type bookJSON struct {
	Exchange string      `json:"exchange"`
	Symbol   string      `json:"symbol"`
	Bids     []levelJSON `json:"bids"`
	Asks     []levelJSON `json:"asks"`
	TimeUs   int64       `json:"time_us"`
}

type bboJSON struct {
	Exchange string `json:"exchange"`
	Bid      string `json:"bid"`
	BidSize  string `json:"bid_size"`
	Ask      string `json:"ask"`
	AskSize  string `json:"ask_size"`
	TimeUs   int64  `json:"time_us"`
}

// book is one venue's L2 book as rebuilt from snapshots and updates; it is
// usable once a snapshot has been seen.
type book struct {
	synced     bool
	bids, asks map[string]market.Level
	timeUs     int64
}

type marketState struct {
	candles map[string][]candleJSON // by interval, ascending open time
	trades  []tradeJSON             // newest last
	book    *book
	bbo     *bboJSON
}

// feed holds the state; every field under mu.
type feed struct {
	mu       sync.Mutex
	markets  map[marketKey]*marketState
	hub      *hub
	decoded  map[int]string // schema id -> record full name
	errCount int64          // records that could not be decoded (skipped)
}

func newFeed(h *hub) *feed {
	return &feed{markets: map[marketKey]*marketState{}, hub: h, decoded: map[int]string{}}
}

func (f *feed) market(k marketKey) *marketState {
	m := f.markets[k]
	if m == nil {
		m = &marketState{candles: map[string][]candleJSON{}}
		f.markets[k] = m
	}
	return m
}

// run consumes until ctx is done. Records it cannot decode are counted and
// skipped, as every consumer of ours does.
func (s *Server) runFeed(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumeTopics(s.cfg.Topics.Candles, s.cfg.Topics.Events),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd().Relative(-readBack)),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.MetadataMinAge(2 * time.Second), // find topics created after we started
		kgo.ClientID("tickertape-dashboard"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), // candles are written in transactions
	}, s.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachRecord(func(r *kgo.Record) { s.feed.apply(ctx, s.cfg.Serde, r, r.Topic == s.cfg.Topics.Candles) })
	}
}

func (f *feed) apply(ctx context.Context, sd *serde.Serde, r *kgo.Record, isCandle bool) {
	id, _, err := serde.ParseHeader(r.Value)
	if err != nil {
		f.skip()
		return
	}
	name, ok := f.name(id)
	if !ok {
		w, err := sd.WriterSchema(ctx, id)
		if err != nil {
			f.skip()
			return
		}
		if n, ok := w.(avro.NamedSchema); ok {
			name = n.FullName()
		}
		f.mu.Lock()
		f.decoded[id] = name
		f.mu.Unlock()
	}
	var reader avro.Schema
	switch name {
	case market.CandleName:
		reader = market.CandleSchema
	case market.TradeName:
		reader = market.TradeSchema
	case market.TickerName:
		reader = market.TickerSchema
	case market.BookUpdateName:
		reader = market.BookUpdateSchema
	default:
		return // a type the dashboard does not draw
	}
	var m map[string]any
	if err := sd.Decode(ctx, r.Value, reader, &m); err != nil {
		f.skip()
		return
	}
	switch name {
	case market.CandleName:
		if c, err := market.CandleFromMap(m); err == nil {
			f.candle(c)
		}
	case market.TradeName:
		if t, err := market.TradeFromMap(m); err == nil {
			f.trade(t)
		}
	case market.TickerName:
		if t, err := market.TickerFromMap(m); err == nil && t.HasBBO {
			f.ticker(t)
		}
	case market.BookUpdateName:
		if b, err := market.BookUpdateFromMap(m); err == nil {
			f.bookUpdate(b)
		}
	}
}

func (f *feed) name(id int) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.decoded[id]
	return n, ok
}

func (f *feed) skip() {
	f.mu.Lock()
	f.errCount++
	f.mu.Unlock()
}

func toCandleJSON(c market.Candle) candleJSON {
	return candleJSON{Time: c.OpenTimeUs / 1e6, OpenTimeUs: c.OpenTimeUs, Open: c.Open.String(), High: c.High.String(), Low: c.Low.String(),
		Close: c.Close.String(), Volume: c.Volume.String(), QuoteVolume: c.QuoteVolume.String(), VWAP: c.VWAP.String(), Trades: c.TradeCount, Final: c.Final}
}

func (f *feed) candle(c market.Candle) {
	cj := toCandleJSON(c)
	k := marketKey{c.Exchange, c.Symbol}
	f.mu.Lock()
	m := f.market(k)
	cs := m.candles[c.Interval]
	i := sort.Search(len(cs), func(i int) bool { return cs[i].OpenTimeUs >= c.OpenTimeUs })
	switch {
	case i < len(cs) && cs[i].OpenTimeUs == c.OpenTimeUs:
		if cs[i].Final && !cj.Final {
			f.mu.Unlock()
			return // an update record read after its window's final one
		}
		cs[i] = cj
	case i == len(cs):
		cs = append(cs, cj)
	default: // an older window, read back out of order across partitions
		cs = append(cs, candleJSON{})
		copy(cs[i+1:], cs[i:])
		cs[i] = cj
	}
	if len(cs) > candleHistory {
		cs = append(cs[:0:0], cs[len(cs)-candleHistory:]...)
	}
	m.candles[c.Interval] = cs
	f.mu.Unlock()
	f.hub.coalesce(topicOf(k, c.Interval), "candle", cj.OpenTimeUs, cj)
}

func (f *feed) trade(t market.Trade) {
	tj := tradeJSON{ID: t.TradeID, Price: t.Price.String(), Quantity: t.Quantity.String(), Side: t.Side.String(), ExchangeTimeUs: t.ExchangeTimeUs}
	k := marketKey{t.Exchange, t.Symbol}
	f.mu.Lock()
	m := f.market(k)
	m.trades = append(m.trades, tj)
	if len(m.trades) > tradeHistory {
		m.trades = append(m.trades[:0:0], m.trades[len(m.trades)-tradeHistory:]...)
	}
	f.mu.Unlock()
	f.hub.coalesce(topicOf(k, ""), "trades", 0, tj)
}

func (f *feed) ticker(t market.Ticker) {
	b := &bboJSON{Exchange: t.Exchange, Bid: t.BestBid.String(), BidSize: t.BestBidSize.String(), Ask: t.BestAsk.String(), AskSize: t.BestAskSize.String(), TimeUs: t.ExchangeTimeUs}
	k := marketKey{t.Exchange, t.Symbol}
	f.mu.Lock()
	f.market(k).bbo = b
	cons := f.consolidatedLocked(t.Symbol)
	f.mu.Unlock()
	f.hub.coalesce(topicOf(k, ""), "bbo", 0, b)
	f.hub.coalesce(symbolTopic(t.Symbol), "consolidated", 0, cons)
}

// consolidatedJSON is the best bid and ask across venues for one symbol.
type consolidatedJSON struct {
	Symbol      string `json:"symbol"`
	Bid         string `json:"bid"`
	BidExchange string `json:"bid_exchange"`
	Ask         string `json:"ask"`
	AskExchange string `json:"ask_exchange"`
	Venues      int    `json:"venues"`
}

func (f *feed) consolidatedLocked(symbol string) consolidatedJSON {
	out := consolidatedJSON{Symbol: symbol}
	var bid, ask market.Decimal
	have := false
	for k, m := range f.markets {
		if k.symbol != symbol || m.bbo == nil {
			continue
		}
		b, errB := market.ParseDecimal(m.bbo.Bid)
		a, errA := market.ParseDecimal(m.bbo.Ask)
		if errB != nil || errA != nil {
			continue
		}
		out.Venues++
		if !have || b.Cmp(bid) > 0 {
			bid, out.Bid, out.BidExchange = b, m.bbo.Bid, k.exchange
		}
		if !have || a.Cmp(ask) < 0 {
			ask, out.Ask, out.AskExchange = a, m.bbo.Ask, k.exchange
		}
		have = true
	}
	return out
}

func (f *feed) bookUpdate(u market.BookUpdate) {
	k := marketKey{u.Exchange, u.Symbol}
	f.mu.Lock()
	m := f.market(k)
	if m.book == nil || u.Snapshot {
		m.book = &book{bids: map[string]market.Level{}, asks: map[string]market.Level{}}
	}
	b := m.book
	if u.Snapshot {
		b.synced = true
	}
	if u.Resync { // ingest lost messages: the book is unknown until the next snapshot
		b.synced = false
		clear(b.bids)
		clear(b.asks)
	}
	if !b.synced {
		f.mu.Unlock()
		return // updates before the first snapshot cannot be placed
	}
	for _, side := range []struct {
		levels []market.Level
		into   map[string]market.Level
	}{{u.Bids, b.bids}, {u.Asks, b.asks}} {
		for _, l := range side.levels {
			p := l.Price.String()
			if l.Quantity.IsZero() {
				delete(side.into, p)
			} else if len(side.into) < bookMaxLevels {
				side.into[p] = l
			}
		}
	}
	b.timeUs = u.ExchangeTimeUs
	bj := b.top(k)
	var bbo *bboJSON
	var cons consolidatedJSON
	if len(bj.Bids) > 0 && len(bj.Asks) > 0 {
		// The book's best levels are the venue's best bid/ask too (venues
		// whose tickers carry none still get one).
		bbo = &bboJSON{Exchange: k.exchange, Bid: bj.Bids[0][0], BidSize: bj.Bids[0][1], Ask: bj.Asks[0][0], AskSize: bj.Asks[0][1], TimeUs: u.ExchangeTimeUs}
		m.bbo = bbo
		cons = f.consolidatedLocked(k.symbol)
	}
	f.mu.Unlock()
	f.hub.coalesce(topicOf(k, ""), "book", 0, bj)
	if bbo != nil {
		f.hub.coalesce(topicOf(k, ""), "bbo", 0, bbo)
		f.hub.coalesce(symbolTopic(k.symbol), "consolidated", 0, cons)
	}
}

// top returns the best bookDepth levels of each side.
func (b *book) top(k marketKey) bookJSON {
	pick := func(levels map[string]market.Level, desc bool) []levelJSON {
		ls := make([]market.Level, 0, len(levels))
		for _, l := range levels {
			ls = append(ls, l)
		}
		sort.Slice(ls, func(i, j int) bool {
			c := ls[i].Price.Cmp(ls[j].Price)
			if desc {
				return c > 0
			}
			return c < 0
		})
		out := make([]levelJSON, 0, bookDepth)
		for i := 0; i < len(ls) && i < bookDepth; i++ {
			out = append(out, levelJSON{ls[i].Price.String(), ls[i].Quantity.String()})
		}
		return out
	}
	return bookJSON{Exchange: k.exchange, Symbol: k.symbol, Bids: pick(b.bids, true), Asks: pick(b.asks, false), TimeUs: b.timeUs}
}

// snapshot is what a browser gets when it connects: the history of one
// market and interval, then live events follow.
type snapshotJSON struct {
	Exchange     string            `json:"exchange"`
	Symbol       string            `json:"symbol"`
	Interval     string            `json:"interval"`
	Candles      []candleJSON      `json:"candles"`
	Trades       []tradeJSON       `json:"trades"`
	Book         *bookJSON         `json:"book"`
	BBO          *bboJSON          `json:"bbo"`
	Consolidated *consolidatedJSON `json:"consolidated"`
}

func (f *feed) snapshot(k marketKey, interval string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.markets[k]
	if !ok {
		return nil, false
	}
	s := snapshotJSON{Exchange: k.exchange, Symbol: k.symbol, Interval: interval,
		Candles: append([]candleJSON{}, m.candles[interval]...), Trades: append([]tradeJSON{}, m.trades...), BBO: m.bbo}
	if m.book != nil && m.book.synced {
		b := m.book.top(k)
		s.Book = &b
	}
	if m.bbo != nil {
		c := f.consolidatedLocked(k.symbol)
		s.Consolidated = &c
	}
	raw, _ := json.Marshal(s)
	return raw, true
}

// marketsJSON lists the markets seen, with the intervals that have candles.
type marketJSON struct {
	Exchange  string   `json:"exchange"`
	Symbol    string   `json:"symbol"`
	Intervals []string `json:"intervals"`
	HasBook   bool     `json:"has_book"`
}

func (f *feed) list() []marketJSON {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]marketJSON, 0, len(f.markets))
	for k, m := range f.markets {
		mj := marketJSON{Exchange: k.exchange, Symbol: k.symbol, Intervals: []string{}, HasBook: m.book != nil && m.book.synced}
		for iv := range m.candles {
			mj.Intervals = append(mj.Intervals, iv)
		}
		sort.Strings(mj.Intervals)
		out = append(out, mj)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Exchange != out[j].Exchange {
			return out[i].Exchange < out[j].Exchange
		}
		return out[i].Symbol < out[j].Symbol
	})
	return out
}

func (f *feed) known(k marketKey) (exchange, market bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for mk := range f.markets {
		if mk.exchange == k.exchange {
			exchange = true
			if mk.symbol == k.symbol {
				return true, true
			}
		}
	}
	return exchange, false
}
