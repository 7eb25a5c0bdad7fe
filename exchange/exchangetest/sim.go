package exchangetest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tickertape/tickertape/market"
)

// SimSymbol is one synthetic market.
type SimSymbol struct {
	Venue       string // the venue's spelling (BTCUSDT)
	Base, Quote string // normalized assets (BTC, USDT)
	StartPrice  string // decimal
	PriceScale  int    // tick size 10^-PriceScale
	SizeScale   int    // size step 10^-SizeScale
}

// Normalized is BASE-QUOTE.
func (s SimSymbol) Normalized() string { return s.Base + "-" + s.Quote }

// SimConfig configures a Sim; zero values take defaults.
type SimConfig struct {
	Seed    uint64
	Symbols []SimSymbol
	// Tick is the market's step: each tick every symbol may trade and its
	// book changes. Default 50ms.
	Tick time.Duration
	// MaxTradesPerTick per symbol (0..n at random). Default 3.
	MaxTradesPerTick int
	// BookDepth is the levels per side. Default 10.
	BookDepth int
	// FirstTradeID is the id before each symbol's first trade. Default the
	// wall clock in milliseconds, so that a restarted fake never repeats the
	// trade ids of an earlier run (a consumer de-duplicating by id would
	// drop the new trades).
	FirstTradeID int64
	// OnTrade, if set, is called (holding the market's lock, so it must not
	// block) for every trade made, with the exact time: the trade's TimeMs
	// is whole milliseconds, as exchanges' are, which is up to a millisecond
	// earlier than the trade was made. Latency measurements start from it.
	OnTrade func(venueSymbol string, id int64, made time.Time)
}

// SimTrade is one synthetic trade.
type SimTrade struct {
	Symbol   string // venue symbol
	ID       int64  // consecutive per symbol
	Price    market.Decimal
	Quantity market.Decimal // base
	QuoteQty market.Decimal // price × quantity, exact
	Side     market.Side    // taker
	TimeMs   int64
}

// SimLevel is one book level; a zero Quantity in a change removes it.
type SimLevel struct{ Price, Quantity market.Decimal }

// SimBook is a whole book: bids best (highest) first, asks best (lowest)
// first, at sequence Seq.
type SimBook struct {
	Seq        int64
	Bids, Asks []SimLevel
}

// SimTicker is a symbol's rolling figures since the sim started.
type SimTicker struct {
	Open, High, Low, Last   market.Decimal
	Volume, QuoteVolume     market.Decimal
	Change                  market.Decimal // (last-open)/open, 4 decimals
	Count                   int64
	StartMs                 int64
	BestBid, BestBidSize    market.Decimal
	BestAsk, BestAskSize    market.Decimal
	LastTradeID, LastSizeID int64
}

// SimStep is what one tick did to one symbol.
type SimStep struct {
	Symbol     string
	Trades     []SimTrade
	Seq        int64      // book sequence after the change; the change before it is Seq-1
	Bids, Asks []SimLevel // changed levels (0 removes), best first
	Ticker     bool       // a ticker is due (every 10th tick)
	TimeMs     int64
}

// Sim is a deterministic synthetic market with its ground truth. Its lock
// orders everything: steps are emitted holding it, and a fake reads
// snapshots and registers subscriptions under it (Locked), so no change
// falls between a snapshot and the updates after it.
type Sim struct {
	cfg SimConfig

	mu     sync.Mutex
	rng    *rand.Rand
	syms   map[string]*simSym
	order  []string
	paused bool
	n      int
}

type simSym struct {
	SimSymbol
	price      int64 // coefficient at PriceScale
	trades     []SimTrade
	bids, asks map[int64]int64 // price coef → size coef
	seq        int64
	hashes     map[int64]uint64 // seq → book hash, the last 20000
	tradeID    int64
	open       int64
	high, low  int64
	volume     *big.Rat
	quoteVol   *big.Rat
	count      int64
	startMs    int64
}

// NewSim makes a market; it does not run until Run.
func NewSim(cfg SimConfig) (*Sim, error) {
	if len(cfg.Symbols) == 0 {
		return nil, errors.New("exchangetest: a Sim needs symbols")
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
		cfg.FirstTradeID = time.Now().UnixMilli()
	}
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), syms: map[string]*simSym{}}
	now := time.Now().UnixMilli()
	for _, sy := range cfg.Symbols {
		p, err := market.ParseDecimal(sy.StartPrice)
		if err != nil || int(p.Scale) > sy.PriceScale {
			return nil, fmt.Errorf("exchangetest: start price %q of %s does not fit price scale %d", sy.StartPrice, sy.Venue, sy.PriceScale)
		}
		coef, _ := p.Int64()
		for sc := int(p.Scale); sc < sy.PriceScale; sc++ {
			coef *= 10
		}
		ss := &simSym{SimSymbol: sy, price: coef, bids: map[int64]int64{}, asks: map[int64]int64{}, seq: 1000, hashes: map[int64]uint64{},
			tradeID: cfg.FirstTradeID, open: coef, high: coef, low: coef, volume: new(big.Rat), quoteVol: new(big.Rat), startMs: now}
		s.syms[sy.Venue] = ss
		s.order = append(s.order, sy.Venue)
		s.rebuild(ss)
		ss.hashes[ss.seq] = ss.hash()
	}
	return s, nil
}

// Config returns the configuration with defaults filled in.
func (s *Sim) Config() SimConfig { return s.cfg }

// Symbols returns the markets, in configuration order.
func (s *Sim) Symbols() []SimSymbol {
	out := make([]SimSymbol, len(s.order))
	for i, v := range s.order {
		out[i] = s.syms[v].SimSymbol
	}
	return out
}

// Symbol returns one market.
func (s *Sim) Symbol(venue string) (SimSymbol, bool) {
	ss := s.syms[venue]
	if ss == nil {
		return SimSymbol{}, false
	}
	return ss.SimSymbol, true
}

// Run is the market clock: every tick it steps each symbol and calls emit
// with the steps, holding the lock. It returns when stop is closed.
func (s *Sim) Run(stop <-chan struct{}, emit func([]SimStep)) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if !s.paused {
			s.n++
			steps := make([]SimStep, 0, len(s.order))
			for _, sym := range s.order {
				steps = append(steps, s.step(s.syms[sym], s.n%10 == 0))
			}
			emit(steps)
		}
		s.mu.Unlock()
	}
}

// Locked runs fn holding the market's lock (no step happens meanwhile).
func (s *Sim) Locked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// Pause stops the market until Resume; tests pause before comparing
// against the ground truth.
func (s *Sim) Pause() { s.mu.Lock(); s.paused = true; s.mu.Unlock() }

// Resume restarts the market.
func (s *Sim) Resume() { s.mu.Lock(); s.paused = false; s.mu.Unlock() }

func (s *Sim) step(ss *simSym, ticker bool) SimStep {
	made := time.Now()
	now := made.UnixMilli()
	ss.price = max(ss.price+int64(s.rng.IntN(7)-3), int64(s.cfg.BookDepth)+2)
	st := SimStep{Symbol: ss.Venue, TimeMs: now, Ticker: ticker}
	for range s.rng.IntN(s.cfg.MaxTradesPerTick + 1) {
		ss.tradeID++
		side, price := market.SideBuy, ss.price+1
		if s.rng.IntN(2) == 0 {
			side, price = market.SideSell, ss.price-1
		}
		qty := int64(1 + s.rng.IntN(5000))
		t := SimTrade{Symbol: ss.Venue, ID: ss.tradeID, Price: market.NewDecimal(price, uint8(ss.PriceScale)),
			Quantity: market.NewDecimal(qty, uint8(ss.SizeScale)), QuoteQty: market.NewDecimal(price*qty, uint8(ss.PriceScale+ss.SizeScale)),
			Side: side, TimeMs: now}
		st.Trades = append(st.Trades, t)
		if s.cfg.OnTrade != nil {
			s.cfg.OnTrade(ss.Venue, t.ID, made)
		}
		ss.trades = append(ss.trades, t)
		ss.high, ss.low = max(ss.high, price), min(ss.low, price)
		ss.volume.Add(ss.volume, t.Quantity.Rat())
		ss.quoteVol.Add(ss.quoteVol, t.QuoteQty.Rat())
		ss.count++
	}
	oldBids, oldAsks := ss.bids, ss.asks
	s.rebuild(ss)
	ss.seq++
	ss.hashes[ss.seq] = ss.hash()
	delete(ss.hashes, ss.seq-20000)
	st.Seq = ss.seq
	st.Bids = ss.levels(diff(oldBids, ss.bids), true)
	st.Asks = ss.levels(diff(oldAsks, ss.asks), false)
	return st
}

// rebuild sets depth levels each side around the price with random sizes
// (some unchanged, so that updates are real diffs).
func (s *Sim) rebuild(ss *simSym) {
	bids, asks := map[int64]int64{}, map[int64]int64{}
	for k := int64(1); k <= int64(s.cfg.BookDepth); k++ {
		for _, side := range []struct {
			m, old map[int64]int64
			p      int64
		}{{bids, ss.bids, ss.price - k}, {asks, ss.asks, ss.price + k}} {
			if q, ok := side.old[side.p]; ok && s.rng.IntN(3) > 0 {
				side.m[side.p] = q
			} else {
				side.m[side.p] = int64(1 + s.rng.IntN(100000))
			}
		}
	}
	ss.bids, ss.asks = bids, asks
}

func diff(old, cur map[int64]int64) map[int64]int64 {
	out := map[int64]int64{}
	for p, q := range cur {
		if old[p] != q {
			out[p] = q
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			out[p] = 0
		}
	}
	return out
}

// levels converts a level map, bids highest first, asks lowest first.
func (ss *simSym) levels(m map[int64]int64, bids bool) []SimLevel {
	ps := make([]int64, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	if bids {
		slices.Reverse(ps)
	}
	out := make([]SimLevel, len(ps))
	for i, p := range ps {
		out[i] = SimLevel{market.NewDecimal(p, uint8(ss.PriceScale)), market.NewDecimal(m[p], uint8(ss.SizeScale))}
	}
	return out
}

func (ss *simSym) hash() uint64 {
	return BookHash(canonMap(ss.levels(ss.bids, true)), canonMap(ss.levels(ss.asks, false)))
}

func canonMap(ls []SimLevel) map[string]string {
	out := make(map[string]string, len(ls))
	for _, l := range ls {
		out[Canon(l.Price)] = Canon(l.Quantity)
	}
	return out
}

// BookLocked returns a symbol's whole book; the caller holds the lock
// (inside Locked or an emit callback).
func (s *Sim) BookLocked(sym string) SimBook {
	ss := s.syms[sym]
	if ss == nil {
		return SimBook{}
	}
	return SimBook{Seq: ss.seq, Bids: ss.levels(ss.bids, true), Asks: ss.levels(ss.asks, false)}
}

// Book returns a symbol's current book as canonical strings (Canon).
func (s *Sim) Book(sym string) (bids, asks map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.BookLocked(sym)
	return canonMap(b.Bids), canonMap(b.Asks)
}

// BookHashAt returns BookHash of a symbol's book as it was at seq.
func (s *Sim) BookHashAt(sym string, seq int64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.syms[sym]
	if ss == nil {
		return 0, false
	}
	h, ok := ss.hashes[seq]
	return h, ok
}

// Trades returns every trade of a symbol, in order (the ground truth).
func (s *Sim) Trades(sym string) []SimTrade {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.TradesLocked(sym)
}

// TradesLocked is Trades for a caller holding the lock; the slice must not
// be changed.
func (s *Sim) TradesLocked(sym string) []SimTrade {
	if ss := s.syms[sym]; ss != nil {
		return ss.trades[:len(ss.trades):len(ss.trades)]
	}
	return nil
}

// TickerLocked returns a symbol's rolling figures; the caller holds the lock.
func (s *Sim) TickerLocked(sym string) SimTicker {
	ss := s.syms[sym]
	sc := uint8(ss.PriceScale)
	change := new(big.Rat).Quo(new(big.Rat).SetInt64(ss.price-ss.open), new(big.Rat).SetInt64(ss.open))
	dc, _ := market.RoundRat(change, 4)
	vol, _ := market.DecimalFromRat(ss.volume)
	qv, _ := market.DecimalFromRat(ss.quoteVol)
	b := s.BookLocked(sym)
	t := SimTicker{Open: market.NewDecimal(ss.open, sc), High: market.NewDecimal(ss.high, sc), Low: market.NewDecimal(ss.low, sc),
		Last: market.NewDecimal(ss.price, sc), Volume: vol, QuoteVolume: qv, Change: dc, Count: ss.count, StartMs: ss.startMs, LastTradeID: ss.tradeID}
	if len(ss.trades) > 0 {
		t.Last = ss.trades[len(ss.trades)-1].Price
	}
	if len(b.Bids) > 0 && len(b.Asks) > 0 {
		t.BestBid, t.BestBidSize, t.BestAsk, t.BestAskSize = b.Bids[0].Price, b.Bids[0].Quantity, b.Asks[0].Price, b.Asks[0].Quantity
	}
	return t
}

// Canon is a decimal's canonical text, trailing fractional zeros removed
// ("97000.0100" → "97000.01"), so that books compare by value whatever
// number of decimals a venue writes.
func Canon(d market.Decimal) string {
	s := d.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// BookHash is an order-independent digest of a book given as canonical
// price → quantity maps.
func BookHash(bids, asks map[string]string) uint64 {
	var lines []string
	for p, q := range bids {
		lines = append(lines, "b"+p+"="+q)
	}
	for p, q := range asks {
		lines = append(lines, "a"+p+"="+q)
	}
	sort.Strings(lines)
	h := fnv.New64a()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return h.Sum64()
}
