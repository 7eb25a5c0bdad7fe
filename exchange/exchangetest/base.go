package exchangetest

import (
	"net/http"
	"time"

	"github.com/tickertape/tickertape/exchange"
)

// FakeConfig configures a venue's fake; zero values take defaults.
type FakeConfig struct {
	Seed             uint64
	Symbols          []SimSymbol   // default the venue's DefaultFakeSymbols
	Tick             time.Duration // default 50ms
	MaxTradesPerTick int           // per symbol, 0..n at random; default 3
	BookDepth        int           // default 10
	// FirstTradeID is one less than each symbol's first trade id. Default
	// the clock in milliseconds: a fake restarted on the same topics must
	// start above every id it made before (tickertape demo passes the clock
	// in microseconds).
	FirstTradeID int64
	// OnTrade, if set, is called for every trade made, with the exact time
	// (see SimConfig.OnTrade).
	OnTrade func(venueSymbol string, id int64, made time.Time)
}

// ConfigFrom is the fake of a venue as exchange.FakeOptions ask for it.
func ConfigFrom(o exchange.FakeOptions) FakeConfig {
	return FakeConfig{Seed: o.Seed, Tick: o.Tick, MaxTradesPerTick: o.TradesPerTick, FirstTradeID: o.FirstTradeID, OnTrade: o.OnTrade}
}

// Base is the scaffolding a venue's fake embeds: the synthetic market, the
// fault knobs, the WebSocket hub, the loopback server and the loop that
// runs the market. The venue keeps its wire format: its handlers and its
// emit.
type Base struct {
	sim    *Sim
	faults *Faults
	hub    *Hub
	srv    *Server
	stop   chan struct{}
	done   chan struct{}
}

// NewBase makes the market of cfg (over symbols when cfg names none), the
// fault knobs and the hub; Start serves and runs it.
func NewBase(cfg FakeConfig, symbols []SimSymbol) (*Base, error) {
	if len(cfg.Symbols) == 0 {
		cfg.Symbols = symbols
	}
	sim, err := NewSim(SimConfig{Seed: cfg.Seed, Symbols: cfg.Symbols, Tick: cfg.Tick, MaxTradesPerTick: cfg.MaxTradesPerTick, BookDepth: cfg.BookDepth,
		FirstTradeID: cfg.FirstTradeID, OnTrade: cfg.OnTrade})
	if err != nil {
		return nil, err
	}
	b := &Base{sim: sim, faults: &Faults{}, stop: make(chan struct{}), done: make(chan struct{})}
	b.hub = NewHub(b.faults)
	return b, nil
}

// Start serves mux on a free loopback port and runs the market, handing
// each tick's steps to emit.
func (b *Base) Start(mux *http.ServeMux, emit func([]SimStep)) error {
	srv, err := Serve(mux, b.faults)
	if err != nil {
		return err
	}
	b.srv = srv
	go func() { defer close(b.done); b.sim.Run(b.stop, emit) }()
	return nil
}

// Sim is the synthetic market and its ground truth.
func (b *Base) Sim() *Sim { return b.sim }

// Faults are the fault knobs.
func (b *Base) Faults() *Faults { return b.faults }

// Hub holds the WebSocket connections.
func (b *Base) Hub() *Hub { return b.hub }

// Addr is the server's host:port.
func (b *Base) Addr() string { return b.srv.Addr() }

// Close stops the market and the server and drops every connection.
func (b *Base) Close() {
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	<-b.done
	b.hub.DropAll()
	b.srv.Close()
	b.hub.Wait()
}
