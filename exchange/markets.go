package exchange

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Market is one tradable pair as a venue lists it.
type Market struct {
	VenueSymbol string // BTCUSDT, BTC_USDT, BTC-USD
	Symbol      string // normalized BASE-QUOTE
	Base, Quote string // normalized assets
	PriceScale  int    // decimals of the tick size (-1 unknown)
	SizeScale   int    // decimals of the size step (-1 unknown)
	Status      string // the venue's word (TRADING, NORMAL, online)
}

// assetAliases are spellings of one asset that venues differ on.
var assetAliases = map[string]string{"XBT": "BTC", "XDG": "DOGE"}

// NormalizeAsset returns the common spelling of an asset (XBT → BTC), in
// upper case. Venue-specific aliases (Poloniex's legacy STR for Stellar)
// are passed as extra.
func NormalizeAsset(a string, extra map[string]string) string {
	a = strings.ToUpper(strings.TrimSpace(a))
	if n, ok := extra[a]; ok {
		return n
	}
	if n, ok := assetAliases[a]; ok {
		return n
	}
	return a
}

// Symbol returns the normalized BASE-QUOTE spelling.
func Symbol(base, quote string, extra map[string]string) string {
	return NormalizeAsset(base, extra) + "-" + NormalizeAsset(quote, extra)
}

// Discovery caches a connector's market list and resolves user input to
// markets. Safe for concurrent use.
type Discovery struct {
	conn Connector
	ttl  time.Duration
	mu   sync.Mutex
	at   time.Time
	list []Market
}

// NewDiscovery caches conn's markets for ttl (default 1h).
func NewDiscovery(conn Connector, ttl time.Duration) *Discovery {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Discovery{conn: conn, ttl: ttl}
}

// Markets returns the cached list, fetching it when older than the TTL.
func (d *Discovery) Markets(ctx context.Context) ([]Market, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.list != nil && time.Since(d.at) < d.ttl {
		return d.list, nil
	}
	ms, err := d.conn.Markets(ctx)
	if err != nil {
		return nil, err
	}
	d.list, d.at = ms, time.Now()
	return ms, nil
}

// Resolve maps symbols, each in the venue's spelling (BTCUSDT) or the
// normalized one (BTC-USDT, any case), to markets. An unknown symbol is an
// error naming the closest matches.
func (d *Discovery) Resolve(ctx context.Context, symbols []string) ([]Market, error) {
	ms, err := d.Markets(ctx)
	if err != nil {
		return nil, err
	}
	return ResolveSymbols(d.conn.Name(), ms, symbols)
}

// ResolveSymbols is Resolve over a given list.
func ResolveSymbols(venue string, ms []Market, symbols []string) ([]Market, error) {
	byVenue, byNorm := map[string]Market{}, map[string]Market{}
	for _, m := range ms {
		byVenue[strings.ToUpper(m.VenueSymbol)] = m
		if _, dup := byNorm[m.Symbol]; !dup {
			byNorm[m.Symbol] = m
		}
	}
	var out []Market
	var errs []string
	var first *UnknownSymbolError
	for _, s := range symbols {
		u := strings.ToUpper(strings.TrimSpace(s))
		if m, ok := byVenue[u]; ok {
			out = append(out, m)
			continue
		}
		if base, quote, ok := cutPair(u); ok {
			if m, ok := byNorm[Symbol(base, quote, nil)]; ok {
				out = append(out, m)
				continue
			}
		}
		e := &UnknownSymbolError{Venue: venue, Symbol: s, Close: closeMatches(u, ms, 3)}
		if first == nil {
			first = e
		}
		errs = append(errs, e.Error())
	}
	if len(errs) > 0 {
		first.All = strings.Join(errs, "; ")
		return nil, first
	}
	return out, nil
}

// UnknownSymbolError is a symbol a venue does not list, with the closest
// ones it does.
type UnknownSymbolError struct {
	Venue, Symbol string
	Close         []string
	All           string // every unknown symbol of the request, when there were several
}

func (e *UnknownSymbolError) Error() string {
	if e.All != "" {
		return e.All
	}
	msg := fmt.Sprintf("%s has no symbol %q", e.Venue, e.Symbol)
	if len(e.Close) > 0 {
		msg += " (close matches: " + strings.Join(e.Close, ", ") + ")"
	}
	return msg
}

func cutPair(s string) (string, string, bool) {
	for _, sep := range []string{"-", "_", "/"} {
		if b, q, ok := strings.Cut(s, sep); ok && b != "" && q != "" {
			return b, q, true
		}
	}
	return "", "", false
}

// closeMatches returns up to n venue symbols nearest to s (edit distance
// over the letters, separators ignored).
func closeMatches(s string, ms []Market, n int) []string {
	strip := func(x string) string {
		return strings.Map(func(r rune) rune {
			if r == '-' || r == '_' || r == '/' {
				return -1
			}
			return r
		}, strings.ToUpper(x))
	}
	key := strip(s)
	type cand struct {
		sym  string
		dist int
	}
	var cs []cand
	for _, m := range ms {
		if d := editDistance(key, strip(m.VenueSymbol)); d <= max(2, len(key)/3) {
			cs = append(cs, cand{m.VenueSymbol, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].dist != cs[j].dist {
			return cs[i].dist < cs[j].dist
		}
		return cs[i].sym < cs[j].sym
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].sym)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ScaleOf returns the number of decimals of a step such as "0.01000000"
// (2), or -1 when it is not a plain decimal.
func ScaleOf(step string) int {
	_, frac, ok := strings.Cut(step, ".")
	if !ok {
		return 0
	}
	frac = strings.TrimRight(frac, "0")
	for _, c := range frac {
		if c < '0' || c > '9' {
			return -1
		}
	}
	return len(frac)
}

// MarketCache is a connector's markets by venue symbol, listed once when
// first needed. The zero value is empty and ready.
type MarketCache struct {
	mu     sync.Mutex
	byName map[string]Market
}

// Set replaces the cache with ms (what the connector's Markets listed).
func (c *MarketCache) Set(ms []Market) {
	byName := make(map[string]Market, len(ms))
	for _, m := range ms {
		byName[m.VenueSymbol] = m
	}
	c.mu.Lock()
	c.byName = byName
	c.mu.Unlock()
}

// Get returns the market of venue symbol sym. Before anything was listed
// it calls list once (which is expected to Set the cache); a symbol the
// venue does not list, or a listing that failed, gets guess(sym).
func (c *MarketCache) Get(ctx context.Context, sym string, list func(context.Context) ([]Market, error), guess func(string) Market) Market {
	c.mu.Lock()
	m, ok := c.byName[sym]
	loaded := c.byName != nil
	c.mu.Unlock()
	if ok {
		return m
	}
	if !loaded {
		if _, err := list(ctx); err == nil {
			c.mu.Lock()
			m, ok = c.byName[sym]
			c.mu.Unlock()
			if ok {
				return m
			}
		}
	}
	return guess(sym)
}
