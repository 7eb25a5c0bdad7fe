package kraken

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/exchange/exchangetest/conformance"
)

// TestConformance runs the exchange conformance suite against the fake,
// the checksum-mismatch knob included.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		NewFake: func(c exchangetest.SimConfig) (exchangetest.Fake, error) {
			return NewFake(FakeConfig{Seed: c.Seed, Symbols: c.Symbols, Tick: c.Tick, Heartbeat: 100 * time.Millisecond})
		},
		NewConnector: func(o exchange.Options) (exchange.Connector, error) {
			return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, ResyncEvery: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		},
		Symbols:          DefaultFakeSymbols,
		CompleteBackfill: true,
		Checksum:         true,
	})
}
