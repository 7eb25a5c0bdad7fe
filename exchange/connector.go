package exchange

import (
	"context"
	"errors"
	"fmt"

	"github.com/tickertape/tickertape/market"
)

// Event is one normalized event; exactly one field is set.
type Event struct {
	Trade  *market.Trade
	Ticker *market.Ticker
	Book   *market.BookUpdate
}

// Subscription says what a session streams.
type Subscription struct {
	Symbols []string // venue symbols (BTC_USDT)
	Trades  bool
	Tickers bool
	Books   bool
}

// Connector is one exchange's protocol. Implementations are safe for
// concurrent use.
type Connector interface {
	// Name is the exchange's name as events carry it ("poloniex").
	Name() string
	// Dial opens a streaming connection and subscribes; it returns once the
	// venue has acknowledged the subscriptions, so that every event after
	// that moment arrives on the session.
	Dial(ctx context.Context, sub Subscription) (Session, error)
	// RecentTrades returns up to limit of the venue's most recent trades of
	// one symbol over REST, oldest first, with Backfilled set.
	RecentTrades(ctx context.Context, venueSymbol string, limit int) ([]market.Trade, error)
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
	// Resync asks for a fresh book snapshot of one symbol, after a gap.
	Resync(ctx context.Context, venueSymbol string) error
	Close() error
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
// rate; the caller retries later.
var ErrRateLimited = errors.New("exchange: rate limited")
