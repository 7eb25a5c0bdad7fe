package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tickertape/tickertape/exchange"
	// The venues built in: each registers itself with exchange.Register.
	_ "github.com/tickertape/tickertape/exchange/binance"
	_ "github.com/tickertape/tickertape/exchange/bitstamp"
	_ "github.com/tickertape/tickertape/exchange/bybit"
	_ "github.com/tickertape/tickertape/exchange/coinbase"
	_ "github.com/tickertape/tickertape/exchange/kraken"
	_ "github.com/tickertape/tickertape/exchange/okx"
	_ "github.com/tickertape/tickertape/exchange/poloniex"
)

// Venue is a built venue: its connector and what comes with it.
type Venue struct {
	Connector exchange.Connector
	// Synthetic is true for a fake exchange's made-up market.
	Synthetic bool
	// Description says what it connects to, for a banner ("fake binance on
	// http://127.0.0.1:41234").
	Description string
	// Resolve, if set, runs before streaming starts: it checks that the
	// venue answers and knows every symbol (given in the venue's spelling or
	// as BASE-QUOTE) and returns them in the venue's spelling.
	Resolve func(ctx context.Context, symbols []string) ([]string, error)
	// Close releases what the factory started (a fake exchange); may be nil.
	Close func()
}

// A Factory builds the venue a VenueConfig names.
type Factory func(VenueConfig) (Venue, error)

// Venues lists the names DefaultFactory knows (the exchange registry), sorted.
func Venues() []string { return exchange.Names() }

// DefaultFactory builds a venue registered with exchange.Register: the live
// connector (with the URL overrides of the VenueConfig), or the venue's
// fake and a connector aimed at it.
func DefaultFactory(vc VenueConfig) (Venue, error) {
	reg, err := exchange.Lookup(vc.Name)
	if err != nil {
		return Venue{}, &UnknownVenueError{Name: vc.Name, Known: Venues()}
	}
	if !vc.Fake {
		conn, err := reg.New(exchange.Options{WSURL: vc.WSURL, RESTURL: vc.RESTURL})
		if err != nil {
			return Venue{}, err
		}
		info := conn.Info()
		rest := info.RESTURL
		if vc.RESTURL != "" {
			rest = vc.RESTURL
		}
		return Venue{Connector: conn, Description: info.Title + " (" + rest + ")", Resolve: resolver(conn)}, nil
	}
	if reg.NewFake == nil {
		return Venue{}, fmt.Errorf("pipeline: %s has no fake exchange", vc.Name)
	}
	fake, err := reg.NewFake(fakeOptions(vc, time.Now()))
	if err != nil {
		return Venue{}, err
	}
	conn, err := reg.New(fake.Options())
	if err != nil {
		fake.Close()
		return Venue{}, err
	}
	return Venue{Connector: conn, Synthetic: true, Description: "fake " + conn.Info().Title + " on " + fake.Options().RESTURL, Resolve: resolver(conn), Close: fake.Close}, nil
}

// fakeOptions are the fake of a venue. Its trade ids start from the clock
// (microseconds since 1970, far ahead of the few hundred ids a second a fake
// makes), so a demo restarted on the same data directory never repeats an
// id it wrote before.
func fakeOptions(vc VenueConfig, now time.Time) exchange.FakeOptions {
	return exchange.FakeOptions{Seed: vc.Seed, Tick: vc.FakeTick, TradesPerTick: vc.FakeTradesPerTick, FirstTradeID: now.UnixMicro(), OnTrade: vc.FakeOnTrade}
}

// resolver checks symbols against the venue's market list (cached).
func resolver(conn exchange.Connector) func(context.Context, []string) ([]string, error) {
	d := exchange.NewDiscovery(conn, time.Hour)
	return func(ctx context.Context, symbols []string) ([]string, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := d.Markets(cctx); err != nil {
			return nil, &UnreachableError{Venue: conn.Info().Title, Err: err}
		}
		ms, err := d.Resolve(cctx, symbols)
		if err != nil {
			var us *exchange.UnknownSymbolError
			if errors.As(err, &us) {
				return nil, &UnknownSymbolError{Venue: conn.Name(), Symbol: us.Symbol, Example: conn.Info().SymbolExample, Err: err}
			}
			return nil, err
		}
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.VenueSymbol
		}
		return out, nil
	}
}

// UnknownVenueError is a venue name no factory knows.
type UnknownVenueError struct {
	Name  string
	Known []string
}

func (e *UnknownVenueError) Error() string {
	return fmt.Sprintf("pipeline: unknown venue %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
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
	Err                    error // names the close matches
}

func (e *UnknownSymbolError) Error() string {
	msg := fmt.Sprintf("%s has no symbol %q", e.Venue, e.Symbol)
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return msg + fmt.Sprintf(" (symbols look like %s, or BASE-QUOTE)", e.Example)
}

func (e *UnknownSymbolError) Unwrap() error { return e.Err }
