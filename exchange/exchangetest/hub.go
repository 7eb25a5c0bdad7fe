package exchangetest

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Hub is a fake's WebSocket side: its connections, their queued writers
// (held back while Faults stall), and dropping them all.
type Hub struct {
	Faults *Faults
	mu     sync.Mutex
	conns  map[*Conn]struct{}
	wg     sync.WaitGroup
}

// NewHub returns a Hub honouring f.
func NewHub(f *Faults) *Hub { return &Hub{Faults: f, conns: map[*Conn]struct{}{}} }

// Conn is one client connection of a fake.
type Conn struct {
	hub    *Hub
	WS     *websocket.Conn
	out    chan []byte
	cancel context.CancelFunc
	ctx    context.Context
	Opened time.Time
	// Subs and State belong to the fake (guarded by its Sim's lock).
	Subs  map[string]bool
	State any
}

// Accept upgrades a request, or answers 503 while Faults refuse.
func (h *Hub) Accept(w http.ResponseWriter, r *http.Request) (*Conn, bool) {
	if h.Faults.Refusing() {
		http.Error(w, "service unavailable (fake outage)", http.StatusServiceUnavailable)
		return nil, false
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, false
	}
	ws.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{hub: h, WS: ws, out: make(chan []byte, 16384), cancel: cancel, ctx: ctx, Opened: time.Now(), Subs: map[string]bool{}}
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	h.wg.Add(1)
	go c.writer()
	return c, true
}

// Read reads the client's next message.
func (c *Conn) Read() ([]byte, error) {
	_, b, err := c.WS.Read(c.ctx)
	return b, err
}

// Release ends a connection (the fake's handler defers it).
func (h *Hub) Release(c *Conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	c.cancel()
	c.WS.CloseNow()
}

// Send queues a frame; a client too slow to keep up is dropped, as real
// exchanges do.
func (c *Conn) Send(b []byte) {
	select {
	case c.out <- b:
	default:
		c.WS.CloseNow()
	}
}

// Close closes the connection from the server side.
func (c *Conn) Close() { c.WS.CloseNow() }

// Each calls fn for every connection.
func (h *Hub) Each(fn func(*Conn)) {
	h.mu.Lock()
	cs := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		fn(c)
	}
}

// Count is the number of open connections.
func (h *Hub) Count() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.conns) }

// DropAll closes every connection at once.
func (h *Hub) DropAll() { h.Each(func(c *Conn) { c.WS.CloseNow() }) }

// Wait waits for every writer to end (after DropAll and the server's close).
func (h *Hub) Wait() { h.wg.Wait() }

func (c *Conn) writer() {
	defer c.hub.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case b := <-c.out:
			for {
				d := time.Until(c.hub.Faults.StallUntil())
				if d <= 0 {
					break
				}
				select {
				case <-c.ctx.Done():
					return
				case <-time.After(d):
				}
			}
			wctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
			err := c.WS.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				c.WS.CloseNow()
				return
			}
		}
	}
}

// Server is a fake's HTTP server on a free loopback port.
type Server struct {
	ln  net.Listener
	srv *http.Server
	wg  sync.WaitGroup
}

// Serve starts h on 127.0.0.1:0. While faults stall, nothing is written
// on any of its connections, not even the WebSocket library's pongs: a
// stall looks like a dead TCP connection.
func Serve(h http.Handler, faults *Faults) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ln = stallListener{ln, faults}
	s := &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.srv.Serve(ln) }()
	return s, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() { s.srv.Close(); s.wg.Wait() }

type stallListener struct {
	net.Listener
	f *Faults
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return stallConn{c, l.f}, nil
}

type stallConn struct {
	net.Conn
	f *Faults
}

func (c stallConn) Write(b []byte) (int, error) {
	for {
		d := time.Until(c.f.StallUntil())
		if d <= 0 {
			break
		}
		time.Sleep(min(d, 20*time.Millisecond))
	}
	return c.Conn.Write(b)
}
