package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tickertape/tickertape/exchange"
	"github.com/tickertape/tickertape/exchange/poloniex"
)

// Venue is a built venue: its connector and what comes with it.
type Venue struct {
	Connector exchange.Connector
	// Synthetic is true for a fake exchange's made-up market.
	Synthetic bool
	// Description says what it connects to, for a banner ("fake Poloniex on
	// http://127.0.0.1:41234").
	Description string
	// Check, if set, runs before streaming starts: for a live venue, that it
	// answers and knows every symbol.
	Check func(ctx context.Context, symbols []string) error
	// Close releases what the factory started (a fake exchange); may be nil.
	Close func()
}

// A Factory builds the venue a VenueConfig names.
type Factory func(VenueConfig) (Venue, error)

// factories are the venues built in, by name.
var factories = map[string]Factory{"poloniex": newPoloniex}

// Venues lists the names DefaultFactory knows, sorted.
func Venues() []string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sortStrings(names)
	return names
}

// DefaultFactory builds the venues built into tickertape by name.
func DefaultFactory(vc VenueConfig) (Venue, error) {
	f, ok := factories[vc.Name]
	if !ok {
		return Venue{}, &UnknownVenueError{Name: vc.Name, Known: Venues()}
	}
	return f(vc)
}

// UnknownVenueError is a venue name no factory knows.
type UnknownVenueError struct {
	Name  string
	Known []string
}

func (e *UnknownVenueError) Error() string {
	return fmt.Sprintf("pipeline: unknown venue %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

func newPoloniex(vc VenueConfig) (Venue, error) {
	if !vc.Fake {
		conn := poloniex.New(poloniex.Config{})
		return Venue{Connector: conn, Description: "Poloniex (" + poloniex.RESTURL + ")", Check: func(ctx context.Context, symbols []string) error {
			return checkPoloniex(ctx, conn, symbols)
		}}, nil
	}
	fake, err := poloniex.NewFake(fakeConfig(vc, time.Now()))
	if err != nil {
		return Venue{}, err
	}
	return Venue{Connector: poloniex.New(fake.Config()), Synthetic: true, Description: "fake Poloniex on " + fake.RESTURL(), Close: fake.Close}, nil
}

// fakeConfig is the fake Poloniex of a venue. Its trade ids start from the
// clock (microseconds since 1970, far ahead of the few hundred ids a second
// the fake makes), so a demo restarted on the same data directory never
// repeats an id it wrote before.
func fakeConfig(vc VenueConfig, now time.Time) poloniex.FakeConfig {
	return poloniex.FakeConfig{Seed: vc.Seed, Tick: vc.FakeTick, MaxTradesPerTick: vc.FakeTradesPerTick, FirstTradeID: now.UnixMicro()}
}

// checkPoloniex makes sure live Poloniex answers and knows the symbols.
func checkPoloniex(ctx context.Context, conn *poloniex.Connector, symbols []string) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	markets, err := conn.Markets(cctx)
	if err != nil {
		return &UnreachableError{Venue: "Poloniex", Err: err}
	}
	known := map[string]bool{}
	for _, m := range markets {
		known[m.Symbol] = true
	}
	for _, s := range symbols {
		if !known[s] {
			return &UnknownSymbolError{Venue: "Poloniex", Symbol: s, Example: "BTC_USDT"}
		}
	}
	return nil
}

// UnreachableError is a live venue that did not answer.
type UnreachableError struct {
	Venue string
	Err   error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s (%v)", e.Venue, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// UnknownSymbolError is a symbol the venue does not list.
type UnknownSymbolError struct {
	Venue, Symbol, Example string
}

func (e *UnknownSymbolError) Error() string {
	return fmt.Sprintf("%s has no symbol %q (symbols look like %s)", e.Venue, e.Symbol, e.Example)
}
