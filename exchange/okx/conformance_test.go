package okx

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/exchangetest"
	"github.com/tickertape/tickertape/exchange/exchangetest/conformance"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func harness(checksums bool) conformance.Harness {
	return conformance.Harness{
		NewFake: func(c exchangetest.SimConfig) (exchangetest.Fake, error) {
			return NewFake(FakeConfig{FakeConfig: exchangetest.FakeConfig{Seed: c.Seed, Symbols: c.Symbols, Tick: c.Tick}, Checksums: checksums, KeepAliveEvery: 7})
		},
		NewConnector: func(o exchange.Options) (exchange.Connector, error) {
			return New(Config{WSURL: o.WSURL, RESTURL: o.RESTURL, Exchange: o.Exchange, PingInterval: 2 * time.Second,
				ResyncEvery: 50 * time.Millisecond, ConnectsPerSecond: 50, Logger: quiet()}), nil
		},
		Symbols:      DefaultFakeSymbols,
		BookSeqIsSim: true,
		// history-trades reaches back about three months; the fake's
		// LimitHistory models an outage longer than that, which must be
		// reported as a gap.
		CompleteBackfill: false,
		Checksum:         checksums,
	}
}

// TestConformance runs the exchange conformance suite against the fake as
// OKX is today: checksum 0, the prevSeqId chain the only loss detector,
// keep-alive updates with equal ids in the stream.
func TestConformance(t *testing.T) { conformance.Run(t, harness(false)) }

// TestConformanceChecksums runs it against the fake sending real
// checksums (OKX before 2026-06-23), the corrupted-book knob included: a
// nonzero checksum is verified.
func TestConformanceChecksums(t *testing.T) {
	if testing.Short() {
		t.Skip("the checksum variant of the suite in -short")
	}
	conformance.Run(t, harness(true))
}
