package poloniex

import (
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/exchange/exchangetest/conformance"
)

// TestConformance runs the exchange conformance suite against the fake.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		NewFake: func(c exchangetest.SimConfig) (exchangetest.Fake, error) {
			return NewFake(FakeConfig{Seed: c.Seed, Symbols: c.Symbols, Tick: c.Tick})
		},
		NewConnector: func(o exchange.Options) (exchange.Connector, error) {
			return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, PingInterval: 100 * time.Millisecond}), nil
		},
		Symbols:      DefaultFakeSymbols,
		BookSeqIsSim: true,
	})
}
