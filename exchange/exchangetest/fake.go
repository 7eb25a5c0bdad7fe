package exchangetest

import "github.com/tickertape/tickertape/exchange"

// Fake is what the conformance suite needs of a venue's fake.
type Fake interface {
	exchange.FakeServer
	Sim() *Sim
	Faults() *Faults
	Hub() *Hub
	// SendBadFrames sends every connection the venue's malformed and
	// hostile frames (bad JSON, unknown channels, exponents, more than 38
	// digits, crossed or out-of-order book messages, a venue error for one
	// symbol, a duplicate trade) and returns how many of them must be
	// counted as unusable.
	SendBadFrames() int
	// AnnounceRollOver makes the venue announce the end of every
	// connection the way it does (Binance serverShutdown); false if the
	// venue never announces.
	AnnounceRollOver() bool
}
