// Package market holds tickertape's normalized market events: Trade, Ticker,
// BookUpdate and Candle, their Avro schemas (schemas/*.avsc, embedded,
// namespace tickertape.market) and a fast encoder for them.
//
// Numbers are exact: prices and quantities are Decimal (a 64-bit
// coefficient and a decimal scale, parsed from the venue's strings without
// ever passing through float64) and travel in Avro as
// {"type":"bytes","logicalType":"decimal","precision":38,"scale":18}, which
// every Avro library maps to its decimal type. A venue number with more than
// 18 fractional digits, or too large for the coefficient, is rejected, never
// rounded. Times are UTC microseconds since the epoch (timestamp-micros),
// and every event keeps both the exchange's time and our receive time.
//
// Symbols are normalized to BASE-QUOTE (BTC-USDT); the venue's own spelling
// is kept in venue_symbol.
package market
