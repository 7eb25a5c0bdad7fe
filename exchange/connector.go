package exchange

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tickertape/tickertape/market"
)

// Event is one normalized event, or a signal from the session to the
// supervisor; exactly one field is set.
type Event struct {
	Trade  *market.Trade
	Ticker *market.Ticker
	Book   *market.BookUpdate
	// Gap says the session lost messages it cannot attribute to one book
	// (Coinbase's per-connection sequence_num jumped): the supervisor
	// resyncs the books of Symbols and backfills their trades.
	Gap *StreamGap
	// RollOver says the venue will end this connection soon (Binance's
	// serverShutdown): the supervisor dials the next one and switches.
	RollOver *RollOver
}

// StreamGap is a loss the session detected at the connection level.
type StreamGap struct {
	Symbols []string // venue symbols affected; empty means every subscribed symbol
	Reason  string
}

// RollOver is a venue's notice that the connection will end.
type RollOver struct{ Reason string }

// Subscription says what a session streams.
type Subscription struct {
	Symbols []string // venue symbols (BTC_USDT, BTCUSDT, BTC-USD)
	Trades  bool
	Tickers bool
	Books   bool
}

// Connector is one exchange's protocol. Implementations are safe for
// concurrent use. Everything generic (reconnects, watchdog, book states,
// backfill loops, de-duplication, counters, logs) is the Supervisor's.
type Connector interface {
	// Name is the exchange's name as events carry it ("binance", or
	// "binance-synthetic" for a fake).
	Name() string
	// Info describes the venue and what it supports.
	Info() Info
	// Markets lists the venue's markets (symbols, base/quote, precision);
	// see Discovery for the cached, resolving form.
	Markets(ctx context.Context) ([]Market, error)
	// Dial opens a streaming session and subscribes; it returns once the
	// venue has acknowledged the subscriptions, so that every event after
	// that moment arrives on the session.
	Dial(ctx context.Context, sub Subscription) (Session, error)
	// Trades returns one page of a symbol's trades after the cursor, oldest
	// first (see TradePage). A zero cursor asks for the most recent limit
	// trades.
	Trades(ctx context.Context, venueSymbol string, after TradeCursor, limit int) (TradePage, error)
	// NewBookSync returns the venue's book-synchronization rule for one
	// symbol, in its initial (waiting for a snapshot) state.
	NewBookSync() BookSync
}

// Info describes a venue, for `tickertape exchanges` and the supervisor.
type Info struct {
	Name, Title                string
	WSURL, RESTURL             string   // the live endpoints (before overrides)
	Channels                   []string // "trades", "tickers", "books"
	BookSync                   string   // the rule, in words
	Backfill                   string   // how far trades can be recovered, in words
	DefaultSymbols             []string // venue symbols run/demo use without --symbols
	MaxConnAge                 time.Duration
	TradeIDsConsecutive        bool // ids of one symbol are consecutive integers: a missing id is a gap
	SymbolExample, SideMeaning string
}

// Session is one live streaming connection. Next and Resync are called
// from one goroutine; Close may be called from any.
type Session interface {
	// Next blocks for the next frame and returns its events (none for
	// control frames such as pongs and acknowledgements). An error wrapping
	// a *FrameError means that frame, or part of it, could not be used; the
	// session goes on and the events returned with it are good. Any other
	// error ends the session. Cancelling ctx ends the session too.
	Next(ctx context.Context) ([]Event, error)
	// Resync asks for a fresh book snapshot of one symbol, after a gap; the
	// snapshot arrives later through Next. An error ends the session.
	Resync(ctx context.Context, venueSymbol string) error
	Close() error
}

// TradeCursor is the last trade seen of a symbol: backfill asks for what
// came after it. ID is the venue's trade id; TimeUs its exchange time.
type TradeCursor struct {
	ID     string
	TimeUs int64
}

// IsZero reports whether no trade has been seen.
func (c TradeCursor) IsZero() bool { return c.ID == "" && c.TimeUs == 0 }

// NumericID returns the cursor's id as an integer, when it is one.
func (c TradeCursor) NumericID() (int64, bool) {
	n, err := strconv.ParseInt(c.ID, 10, 64)
	return n, err == nil
}

// TradePage is one answer of Connector.Trades.
type TradePage struct {
	Trades []market.Trade // oldest first, Backfilled set
	// More is true when the venue has further trades after the last one:
	// ask again with it as the cursor.
	More bool
	// Gap is set when the venue cannot reach back to the cursor: trades
	// between the cursor and the first trade returned are lost.
	Gap *TradeGap
}

// TradeGap is a range of trades that backfill could not recover.
type TradeGap struct {
	Symbol               string
	AfterID, BeforeID    string // exclusive bounds, as far as known
	FromTimeUs, ToTimeUs int64
	Missing              int64 // how many trades, -1 when unknown
}

func (g TradeGap) String() string {
	n := "an unknown number of"
	if g.Missing >= 0 {
		n = strconv.FormatInt(g.Missing, 10)
	}
	return fmt.Sprintf("%s trades of %s between id %s and id %s (%s .. %s)", n, g.Symbol, g.AfterID, g.BeforeID,
		time.UnixMicro(g.FromTimeUs).UTC().Format(time.RFC3339Nano), time.UnixMicro(g.ToTimeUs).UTC().Format(time.RFC3339Nano))
}

// FrameError describes a frame (or an item in it) that was not used:
// malformed JSON, a missing or non-numeric field, an unknown channel or
// event. Kind names the problem for counting ("malformed", "bad_trade",
// "unknown_channel", ...).
type FrameError struct {
	Kind  string
	Err   error
	Frame string // the start of the frame, for the log
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("%s: %v (frame %q)", e.Kind, e.Err, e.Frame)
}

func (e *FrameError) Unwrap() error { return e.Err }

// NewFrameError builds a FrameError, keeping at most 200 bytes of the frame.
func NewFrameError(kind string, err error, frame []byte) *FrameError {
	if len(frame) > 200 {
		frame = frame[:200]
	}
	return &FrameError{Kind: kind, Err: err, Frame: string(frame)}
}

// ErrRateLimited is returned (wrapped) by REST calls the venue refused for
// rate (HTTP 429, Binance's 418); the caller retries later.
var ErrRateLimited = errors.New("exchange: rate limited")

// RESTError is a REST answer other than 200, with the wire's facts.
type RESTError struct {
	Venue, Method, URL string
	Status             int
	RetryAfter         time.Duration // from Retry-After, 0 if none
	Body               string        // the start of the body
}

func (e *RESTError) Error() string {
	s := fmt.Sprintf("%s: %s %s: HTTP %d", e.Venue, e.Method, e.URL, e.Status)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// Is makes 429 and 418 match ErrRateLimited.
func (e *RESTError) Is(target error) bool {
	return target == ErrRateLimited && (e.Status == 429 || e.Status == 418)
}

// RetryAfter returns the wait a REST error asks for, if any.
func RetryAfter(err error) time.Duration {
	var re *RESTError
	if errors.As(err, &re) {
		return re.RetryAfter
	}
	return 0
}

// NewRESTError builds the error for a non-200 REST answer, reading
// Retry-After (seconds) when the venue sends it.
func NewRESTError(venue string, req *http.Request, resp *http.Response, body []byte) *RESTError {
	e := &RESTError{Venue: venue, Method: req.Method, URL: req.URL.Path, Status: resp.StatusCode}
	if q := req.URL.RawQuery; q != "" {
		e.URL += "?" + q
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if n, err := strconv.Atoi(ra); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	}
	if len(body) > 200 {
		body = body[:200]
	}
	e.Body = string(body)
	return e
}
