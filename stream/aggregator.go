package stream

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/tickertape/tickertape/market"
)

// Interval is a candle width.
type Interval struct {
	Name string // "1m"
	us   int64
}

// Duration is the interval's width.
func (iv Interval) Duration() time.Duration { return time.Duration(iv.us) * time.Microsecond }

// ParseIntervals parses "1s,1m,5m,1h" (any Go duration that is a whole number
// of seconds dividing a day evenly, so windows align to UTC midnight).
func ParseIntervals(s string) ([]Interval, error) {
	var out []Interval
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < time.Second || d%time.Second != 0 || (24*time.Hour)%d != 0 {
			return nil, fmt.Errorf("interval %q: want a duration like 1s, 1m, 5m, 1h that divides a day", f)
		}
		out = append(out, Interval{Name: f, us: d.Microseconds()})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no intervals in %q", s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].us < out[j].us })
	return out, nil
}

// Output is what the aggregator emits: a candle (update or final) or a late
// trade (one that arrived after a window it belongs to had closed).
type Output struct {
	Candle    *market.Candle
	Late      *market.Trade
	LateFor   []string // the intervals it was late for
	Partition int32
	Raw       []byte // the late trade's record value, as read (set by the processor)
}

// Aggregator is the deterministic core of the candle processor: trades in,
// candles out, with time as an input (Add and Tick take the processing time;
// event time comes from the trades). It is not safe for concurrent use.
//
// Windows are tumbling and aligned to the epoch. Each key (exchange:SYMBOL)
// has a watermark: the largest exchange time seen minus the allowed
// lateness, advanced further by processing time once the key has been idle
// for idleAfter (long enough that a broker failover or a reconnect does not
// look like a quiet market and close windows whose trades are delayed). A
// window closes (its final candle is emitted) once the watermark passes its
// end. A trade for a closed window is late: it is reported and left out of
// that window (it still counts in longer windows that are open).
//
// Open and close prices are those of the earliest and latest trade by
// (exchange time, trade id), so arrival order (backfill) does not matter.
type Aggregator struct {
	intervals   []Interval
	lateness    int64
	updateEvery int64
	idleAfter   int64
	keys        map[string]*keyState
}

type keyState struct {
	exchange, symbol string
	partition        int32
	maxEvent         int64
	watermark        int64
	lastActivity     int64 // processing time of the last trade
	windows          map[windowKey]*window
	// replayEnd: trades below this offset were processed before a restart;
	// if they fall in a window already closed, they were already accounted.
	replayEnd int64
}

type windowKey struct {
	iv    int
	start int64
}

type window struct {
	start, end           int64
	open, high, low, cls market.Decimal
	first, last          tradeOrder
	// vol and quote are exact sums as integers: vol in units of 1e-18,
	// quote (price × quantity) in units of 1e-36. Integer sums need no
	// normalization per trade (big.Rat's Add reduces by the GCD each time,
	// most of the processor's aggregation cost); candle converts them.
	vol, quote  *big.Int
	count       int64
	firstOffset int64
	dirty       bool
	lastUpdate  int64
}

type tradeOrder struct {
	ts int64
	id string
}

func (a tradeOrder) less(b tradeOrder) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if len(a.id) != len(b.id) { // numeric ids: shorter is smaller
		return len(a.id) < len(b.id)
	}
	return a.id < b.id
}

// NewAggregator returns an aggregator for the intervals; lateness is the
// allowed lateness, updateEvery the minimum processing time between two
// update (final=false) records of one window (0: no update records),
// idleAfter how long a key must be silent before processing time moves its
// watermark.
func NewAggregator(intervals []Interval, lateness, updateEvery, idleAfter time.Duration) *Aggregator {
	return &Aggregator{intervals: intervals, lateness: lateness.Microseconds(), updateEvery: updateEvery.Microseconds(), idleAfter: idleAfter.Microseconds(), keys: map[string]*keyState{}}
}

// Watermarks calls fn with every key (exchange:SYMBOL) and its watermark
// (exchange time, microseconds; windows ending at or before it are closed).
func (a *Aggregator) Watermarks(fn func(key string, watermarkUs int64)) {
	for k, ks := range a.keys {
		if ks.watermark > -1<<62 {
			fn(k, ks.watermark)
		}
	}
}

func (a *Aggregator) key(t *market.Trade, partition int32) *keyState {
	k := t.Key()
	ks := a.keys[k]
	if ks == nil {
		ks = &keyState{exchange: t.Exchange, symbol: t.Symbol, partition: partition, windows: map[windowKey]*window{}, maxEvent: -1 << 62, watermark: -1 << 62}
		a.keys[k] = ks
	}
	return ks
}

// Restore sets a key's watermark and replay end after a restart (from the
// committed state), before its trades are replayed.
func (a *Aggregator) Restore(key string, partition int32, watermark, replayEnd int64) {
	exch, sym, err := market.ParseEventKey(key)
	if err != nil {
		return // not a key we wrote: nothing to restore
	}
	ks := a.key(&market.Trade{Exchange: exch, Symbol: sym}, partition)
	ks.watermark, ks.maxEvent, ks.replayEnd = watermark, watermark+a.lateness, replayEnd
}

// Add adds a trade read at offset of partition, at processing time nowUs.
func (a *Aggregator) Add(t *market.Trade, partition int32, offset, nowUs int64) []Output {
	ks := a.key(t, partition)
	ks.lastActivity = nowUs
	var out []Output
	var lateFor []string
	for i, iv := range a.intervals {
		start := floorDiv(t.ExchangeTimeUs, iv.us) * iv.us
		end := start + iv.us
		if end <= ks.watermark {
			if offset >= ks.replayEnd {
				lateFor = append(lateFor, iv.Name)
			}
			continue
		}
		wk := windowKey{i, start}
		w := ks.windows[wk]
		if w == nil {
			w = &window{start: start, end: end, vol: new(big.Int), quote: new(big.Int), firstOffset: offset}
			ks.windows[wk] = w
		}
		w.add(t, offset)
	}
	if len(lateFor) > 0 {
		out = append(out, Output{Late: t, LateFor: lateFor, Partition: partition})
	}
	if t.ExchangeTimeUs > ks.maxEvent {
		ks.maxEvent = t.ExchangeTimeUs
	}
	return append(out, a.advance(ks, ks.maxEvent-a.lateness, nowUs)...)
}

func (w *window) add(t *market.Trade, offset int64) {
	o := tradeOrder{t.ExchangeTimeUs, t.TradeID}
	if w.count == 0 {
		w.open, w.high, w.low, w.cls, w.first, w.last = t.Price, t.Price, t.Price, t.Price, o, o
	} else {
		if o.less(w.first) {
			w.open, w.first = t.Price, o
		}
		if !o.less(w.last) {
			w.cls, w.last = t.Price, o
		}
		if t.Price.Cmp(w.high) > 0 {
			w.high = t.Price
		}
		if t.Price.Cmp(w.low) < 0 {
			w.low = t.Price
		}
	}
	w.count++
	q := unscaled18(t.Quantity)
	w.vol.Add(w.vol, q)
	w.quote.Add(w.quote, q.Mul(q, unscaled18(t.Price)))
	w.firstOffset = min(w.firstOffset, offset)
	w.dirty = true
}

// advance moves a key's watermark to wm (if later) and closes windows.
func (a *Aggregator) advance(ks *keyState, wm, nowUs int64) []Output {
	if wm <= ks.watermark {
		return nil
	}
	ks.watermark = wm
	var closed []windowKey
	for wk, w := range ks.windows {
		if w.end <= wm {
			closed = append(closed, wk)
		}
	}
	sort.Slice(closed, func(i, j int) bool {
		a, b := ks.windows[closed[i]], ks.windows[closed[j]]
		if a.end != b.end {
			return a.end < b.end
		}
		return closed[i].iv < closed[j].iv
	})
	out := make([]Output, 0, len(closed))
	for _, wk := range closed {
		c := a.candle(ks, wk, true, nowUs)
		delete(ks.windows, wk)
		out = append(out, Output{Candle: c, Partition: ks.partition})
	}
	return out
}

// Tick advances the watermarks of keys idle for idleAfter by the processing
// time since their last trade, and emits due update records. Call it
// regularly.
func (a *Aggregator) Tick(nowUs int64) []Output {
	var out []Output
	keys := make([]string, 0, len(a.keys))
	for k := range a.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ks := a.keys[k]
		if len(ks.windows) == 0 {
			continue
		}
		if idle := nowUs - ks.lastActivity; idle > 0 && idle >= a.idleAfter {
			out = append(out, a.advance(ks, ks.maxEvent+idle-a.lateness, nowUs)...)
		}
		if a.updateEvery <= 0 {
			continue
		}
		var due []windowKey
		for wk, w := range ks.windows {
			if w.dirty && nowUs-w.lastUpdate >= a.updateEvery {
				due = append(due, wk)
			}
		}
		sort.Slice(due, func(i, j int) bool {
			if due[i].iv != due[j].iv {
				return due[i].iv < due[j].iv
			}
			return due[i].start < due[j].start
		})
		for _, wk := range due {
			w := ks.windows[wk]
			w.dirty, w.lastUpdate = false, nowUs
			out = append(out, Output{Candle: a.candle(ks, wk, false, nowUs), Partition: ks.partition})
		}
	}
	return out
}

func (a *Aggregator) candle(ks *keyState, wk windowKey, final bool, nowUs int64) *market.Candle {
	w := ks.windows[wk]
	c := &market.Candle{Exchange: ks.exchange, Symbol: ks.symbol, Interval: a.intervals[wk.iv].Name,
		OpenTimeUs: w.start, CloseTimeUs: w.end, Open: w.open, High: w.high, Low: w.low, Close: w.cls,
		TradeCount: w.count, Final: final, UpdatedTimeUs: nowUs}
	vol, quote := new(big.Rat).SetFrac(w.vol, e18), new(big.Rat).SetFrac(w.quote, e36)
	c.Volume = exactOrRounded(vol)
	c.QuoteVolume = exactOrRounded(quote)
	if vol.Sign() > 0 {
		c.VWAP = roundFit(new(big.Rat).Quo(quote, vol))
	}
	return c
}

var (
	e18 = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)
	e36 = new(big.Int).Exp(big.NewInt(10), big.NewInt(36), nil)
)

// unscaled18 is d in units of 1e-18 (exact: a Decimal has at most 18
// decimals).
func unscaled18(d market.Decimal) *big.Int {
	hi, lo := d.Unscaled18()
	neg := hi < 0
	if neg { // two's complement → magnitude
		lo, hi = ^lo+1, ^hi
		if lo == 0 {
			hi++
		}
	}
	z := new(big.Int).SetUint64(uint64(hi))
	z.Lsh(z, 64).Or(z, new(big.Int).SetUint64(lo))
	if neg {
		z.Neg(z)
	}
	return z
}

// exactOrRounded converts a sum exactly when it fits a Decimal, else rounds
// it to the most decimals that fit.
func exactOrRounded(r *big.Rat) market.Decimal {
	if d, err := market.DecimalFromRat(r); err == nil {
		return d
	}
	return roundFit(r)
}

// roundFit rounds r half away from zero to the most decimals (at most 18)
// whose coefficient fits in 64 bits.
func roundFit(r *big.Rat) market.Decimal {
	for scale := market.MaxScale; scale >= 0; scale-- {
		if d, err := market.RoundRat(r, uint8(scale)); err == nil {
			if _, ok := d.Int64(); ok || scale == 0 {
				return d
			}
		}
	}
	return market.Decimal{}
}

// CommitState is what must be committed for a partition so that a restart
// neither loses nor double-counts: resume at Offset (the first trade of the
// oldest open window, or processed if none is open); end, the offset below
// which its trades are processed: processed, or while a replay is still
// below the End restored with its keys, that End (committing the read
// position instead would tell the next owner that the rest of the replay
// was never processed, and it would report those trades' late outputs
// again); and per key the watermark (windows ending at or before it were
// already emitted).
func (a *Aggregator) CommitState(partition int32, processed int64) (offset, end int64, watermarks map[string]int64) {
	offset, end = processed, processed
	watermarks = map[string]int64{}
	for k, ks := range a.keys {
		if ks.partition != partition {
			continue
		}
		watermarks[k] = ks.watermark
		end = max(end, ks.replayEnd)
		for _, w := range ks.windows {
			offset = min(offset, w.firstOffset)
		}
	}
	return offset, end, watermarks
}

// Drop forgets every key of a partition (after it was revoked or lost).
func (a *Aggregator) Drop(partition int32) {
	for k, ks := range a.keys {
		if ks.partition == partition {
			delete(a.keys, k)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
