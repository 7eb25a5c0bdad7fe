package exchange

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Options configure a connector made through the registry. Zero values
// mean the venue's live endpoints and defaults.
type Options struct {
	WSURL, RESTURL string // base URL overrides (testnets, regional endpoints, proxies)
	// Exchange is the name events carry; empty means the venue's name. A
	// fake's Options say "<venue>-synthetic".
	Exchange   string
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Factory makes a venue's connector.
type Factory func(Options) (Connector, error)

// FakeServer is a running fake of a venue, for tests and tickertape demo.
type FakeServer interface {
	// Options aim a connector at the fake (its events carry a synthetic
	// exchange name).
	Options() Options
	Close()
}

// FakeOptions configure a venue's fake; zero values take its defaults.
type FakeOptions struct {
	Seed          uint64
	Tick          time.Duration // the market's step
	TradesPerTick int           // at most, per symbol
	// FirstTradeID is one less than each symbol's first trade id; 0 is the
	// fake's default (the clock).
	FirstTradeID int64
	// OnTrade, if set, is called for every trade the fake makes, with the
	// exact time it was made (the trades' own times are whole milliseconds,
	// as an exchange's are): latency measurements start from it. It runs on
	// the market's clock and must not block.
	OnTrade func(venueSymbol string, id int64, made time.Time)
}

// FakeFactory starts a venue's fake, for tickertape demo and tests.
type FakeFactory func(FakeOptions) (FakeServer, error)

// Venue is one registered exchange.
type Venue struct {
	Name    string
	New     Factory
	NewFake FakeFactory // nil if the venue has no fake
}

var (
	regMu  sync.RWMutex
	venues = map[string]Venue{}
)

// Register makes a venue available by name, as benthos components and
// cryptofeed's exchange map do (exchange/<name>/ calls it from init). It
// panics on a duplicate name, a programming error.
func Register(name string, factory Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if name == "" || factory == nil {
		panic("exchange: Register needs a name and a factory")
	}
	if _, dup := venues[name]; dup {
		panic("exchange: venue " + name + " registered twice")
	}
	venues[name] = Venue{Name: name, New: factory}
}

// RegisterFake adds the fake of a registered venue.
func RegisterFake(name string, f FakeFactory) {
	regMu.Lock()
	defer regMu.Unlock()
	v, ok := venues[name]
	if !ok {
		panic("exchange: RegisterFake before Register of " + name)
	}
	v.NewFake = f
	venues[name] = v
}

// Lookup returns a registered venue.
func Lookup(name string) (Venue, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	v, ok := venues[name]
	if !ok {
		return Venue{}, fmt.Errorf("unknown exchange %q (known: %v)", name, namesLocked())
	}
	return v, nil
}

// Names lists the registered venues, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(venues))
	for n := range venues {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
