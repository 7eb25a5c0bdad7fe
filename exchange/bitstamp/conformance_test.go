package bitstamp

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/exchange/exchangetest/conformance"
)

// TestConformance runs the exchange conformance suite against the fake.
// Bitstamp's REST history is a time window (a day at most; the fake's
// LimitHistory shortens it), so a long outage must be reported as a gap;
// its REST trade times are whole seconds.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		NewFake: func(c exchangetest.SimConfig) (exchangetest.Fake, error) {
			return NewFake(FakeConfig{Seed: c.Seed, Symbols: c.Symbols, Tick: c.Tick})
		},
		NewConnector: func(o exchange.Options) (exchange.Connector, error) {
			return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, HeartbeatInterval: 100 * time.Millisecond,
				ResnapshotEvery: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), nil
		},
		Symbols:            DefaultFakeSymbols,
		BackfillTimeUnitUs: 1_000_000,
	})
}
