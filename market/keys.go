package market

import (
	"fmt"
	"strings"
)

// Record keys. Every event of one symbol on one venue is keyed
// "exchange:SYMBOL" (so they share a partition and stay in order), and every
// candle "exchange:SYMBOL:interval". These functions are the one place that
// builds and parses them; exchange names, symbols and interval names never
// contain ':'.

// EventKey is the record key of an event: exchange:SYMBOL.
func EventKey(exchange, symbol string) string { return exchange + ":" + symbol }

// AppendEventKey appends EventKey(exchange, symbol) to b, for producers that
// build keys without allocating a string.
func AppendEventKey(b []byte, exchange, symbol string) []byte {
	return append(append(append(b, exchange...), ':'), symbol...)
}

// CandleKey is the record key of a candle: exchange:SYMBOL:interval.
func CandleKey(exchange, symbol, interval string) string {
	return exchange + ":" + symbol + ":" + interval
}

// ParseEventKey splits an event key into its exchange and symbol.
func ParseEventKey(key string) (exchange, symbol string, err error) {
	exchange, symbol, ok := strings.Cut(key, ":")
	if !ok || exchange == "" || symbol == "" || strings.Contains(symbol, ":") {
		return "", "", fmt.Errorf("market: event key %q: want exchange:SYMBOL", key)
	}
	return exchange, symbol, nil
}

// ParseCandleKey splits a candle key into its exchange, symbol and interval.
func ParseCandleKey(key string) (exchange, symbol, interval string, err error) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("market: candle key %q: want exchange:SYMBOL:interval", key)
	}
	return parts[0], parts[1], parts[2], nil
}

// Key is the event key of the trade (exchange:SYMBOL).
func (t *Trade) Key() string { return EventKey(t.Exchange, t.Symbol) }

// Key is the candle's record key (exchange:SYMBOL:interval).
func (c *Candle) Key() string { return CandleKey(c.Exchange, c.Symbol, c.Interval) }
