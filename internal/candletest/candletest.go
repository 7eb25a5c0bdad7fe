// Package candletest is the ground truth end-to-end tests compare candles
// against: every candle recomputed by brute force from the trades a fake
// exchange made.
package candletest

import (
	"math/big"

	"github.com/tickertape/tickertape/market"
	"github.com/tickertape/tickertape/stream"
)

// Key names one candle: symbol, interval and open time.
type Key struct {
	Symbol, Interval string
	OpenTimeUs       int64
}

// KeyOf is c's Key.
func KeyOf(c market.Candle) Key { return Key{c.Symbol, c.Interval, c.OpenTimeUs} }

// BruteForce recomputes every final candle of the trades from scratch, with
// exact rationals: the oracle the processor's output must equal.
func BruteForce(trades []market.Trade, intervals []stream.Interval) map[Key]market.Candle {
	type acc struct {
		c          market.Candle
		first, lst market.Trade
		vol, quote *big.Rat
	}
	accs := map[Key]*acc{}
	before := func(a, b market.Trade) bool {
		if a.ExchangeTimeUs != b.ExchangeTimeUs {
			return a.ExchangeTimeUs < b.ExchangeTimeUs
		}
		if len(a.TradeID) != len(b.TradeID) {
			return len(a.TradeID) < len(b.TradeID)
		}
		return a.TradeID < b.TradeID
	}
	for _, t := range trades {
		for _, iv := range intervals {
			us := iv.Duration().Microseconds()
			open := t.ExchangeTimeUs / us * us
			k := Key{t.Symbol, iv.Name, open}
			a := accs[k]
			if a == nil {
				a = &acc{c: market.Candle{Exchange: t.Exchange, Symbol: t.Symbol, Interval: iv.Name, OpenTimeUs: open, CloseTimeUs: open + us,
					High: t.Price, Low: t.Price}, first: t, lst: t, vol: new(big.Rat), quote: new(big.Rat)}
				accs[k] = a
			}
			if before(t, a.first) {
				a.first = t
			}
			if !before(t, a.lst) {
				a.lst = t
			}
			if t.Price.Cmp(a.c.High) > 0 {
				a.c.High = t.Price
			}
			if t.Price.Cmp(a.c.Low) < 0 {
				a.c.Low = t.Price
			}
			a.c.TradeCount++
			a.vol.Add(a.vol, t.Quantity.Rat())
			a.quote.Add(a.quote, new(big.Rat).Mul(t.Quantity.Rat(), t.Price.Rat()))
		}
	}
	out := map[Key]market.Candle{}
	for k, a := range accs {
		c := a.c
		c.Open, c.Close, c.Final = a.first.Price, a.lst.Price, true
		c.Volume, _ = market.DecimalFromRat(a.vol)
		c.QuoteVolume, _ = market.DecimalFromRat(a.quote)
		v := new(big.Rat).Quo(a.quote, a.vol)
		for sc := market.MaxScale; sc >= 0; sc-- {
			if d, err := market.RoundRat(v, uint8(sc)); err == nil {
				if _, fits64 := d.Int64(); !fits64 {
					continue // the processor keeps VWAP within a 64-bit coefficient
				}
				c.VWAP = d
				break
			}
		}
		out[k] = c
	}
	return out
}

// Same compares every field of two candles.
func Same(a, b market.Candle) bool {
	return a.Exchange == b.Exchange && a.Symbol == b.Symbol && a.Interval == b.Interval && a.OpenTimeUs == b.OpenTimeUs && a.CloseTimeUs == b.CloseTimeUs &&
		a.Open.Equal(b.Open) && a.High.Equal(b.High) && a.Low.Equal(b.Low) && a.Close.Equal(b.Close) && a.Volume.Equal(b.Volume) &&
		a.QuoteVolume.Equal(b.QuoteVolume) && a.TradeCount == b.TradeCount && a.VWAP.Equal(b.VWAP) && a.Final == b.Final
}
