package bybit

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
// Bybit's REST history is the last 60 trades, so the suite requires a long
// outage to be reported as a trade gap (CompleteBackfill false).
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		NewFake: func(c exchangetest.SimConfig) (exchangetest.Fake, error) {
			return NewFake(FakeConfig{Seed: c.Seed, Symbols: c.Symbols, Tick: c.Tick})
		},
		NewConnector: func(o exchange.Options) (exchange.Connector, error) {
			return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, PingInterval: 100 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		},
		Symbols: DefaultFakeSymbols,
	})
}
