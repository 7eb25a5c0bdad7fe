package broker

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxInFlight bounds how many requests one connection may have decoded but not
// yet answered; past it the reader stops reading (backpressure).
const maxInFlight = 64

// conn is one client connection: a reader that decodes requests and applies
// them in order, and a writer that sends responses in the same order.
type conn struct {
	b        *Broker
	nc       net.Conn
	pending  chan *pendingReply
	clientID string
	stopping atomic.Bool // set by stopReading; the reader no longer extends its deadline

	lst       *listenerState
	principal string          // "User:ANONYMOUS" until TLS client certificates or SASL say otherwise
	sasl      *saslState      // the SASL exchange in progress or done (SASL listeners)
	sendfile  syscall.RawConn // non-nil: fetches send records from files with sendfile (fetch_sendfile.go)
}

// pendingReply is a response slot in request order.
type pendingReply struct {
	corrID   int32
	key      int16
	flexible bool
	began    time.Time  // when the request was read, for the latency metric
	done     chan reply // receives exactly one reply
}

// reply is what a handler returns. Exactly one of resp, wait or none/close is used.
type reply struct {
	resp kmsg.Response
	// wait, if set, is run in its own goroutine; its result is sent in order.
	wait func() reply
	// none means the request gets no response (produce with acks=0).
	none bool
	// close means: send nothing and close the connection (Kafka's answer to
	// requests it cannot or will not parse, and to failed acks=0 produces).
	close bool
	// closeAfter means: send this reply, then close the connection (failed
	// SASL authentication).
	closeAfter bool
	// raw, if set, is sent as a bare size-prefixed frame without a response
	// header (SASL tokens after a v0 SaslHandshake).
	raw []byte
	// regions are the file regions whose marks stand in for records in a
	// fetch response (fetch_sendfile.go); the writer sends and closes them.
	regions []*fileRegion
}

func respond(r kmsg.Response) reply { return reply{resp: r} }

func newConn(b *Broker, nc net.Conn, ls *listenerState) *conn {
	c := &conn{b: b, nc: nc, pending: make(chan *pendingReply, maxInFlight), lst: ls, principal: anonymous}
	if ls.internal {
		c.principal = internalPrincipal
	}
	if ls.Protocol.TLS() {
		// The handshake runs in serve; wrapping here keeps c.nc fixed, so
		// stopReading reaches the TLS connection too.
		c.nc = tls.Server(nc, ls.TLS)
	}
	c.sendfile = sendfileConn(c.nc, ls)
	return c
}

// stopReading makes the reader return at its next read; responses already in
// flight are still written.
func (c *conn) stopReading() {
	c.stopping.Store(true)
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// armDeadline gives the next read connections.max.idle.ms; false once the
// broker asked the reader to stop.
func (c *conn) armDeadline() bool {
	if idle := c.b.cfg.ConnectionsMaxIdle; idle > 0 {
		c.nc.SetReadDeadline(time.Now().Add(idle))
	}
	return !c.stopping.Load()
}

func (c *conn) serve() {
	if tc, ok := c.nc.(*tls.Conn); ok && !c.startTLS(tc) {
		c.nc.Close()
		return
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	close(c.pending)
	<-writerDone
	c.nc.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isTimeout(err) {
		c.b.log.Debug("closed client connection", "remote", c.nc.RemoteAddr().String(), "client_id", c.clientID, "reason", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if !c.armDeadline() {
			return net.ErrClosed
		}
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return err
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.b.cfg.MaxRequestBytes {
			return fmt.Errorf("request frame of %d bytes is outside [8, %d] (socket.request.max.bytes)", size, c.b.cfg.MaxRequestBytes)
		}
		body, err := c.readBody(br, int(size))
		if err != nil {
			c.b.queued.release(int64(len(body)))
			return err
		}
		c.b.metrics.bytesIn.Add(float64(4 + size))
		began := time.Now()
		var p *pendingReply
		var r reply
		if c.sasl != nil && c.sasl.raw && !c.sasl.done {
			p, r = &pendingReply{key: saslAuthenticateKey}, c.rawSASLToken(body)
		} else {
			p, r, err = c.handle(body)
		}
		c.b.queued.release(int64(size))
		if err != nil {
			return err
		}
		c.b.metrics.api(p.key).requests.Inc()
		p.began = began
		if r.close {
			return errors.New("closing connection as Kafka does for this request")
		}
		if r.none {
			continue
		}
		p.done = make(chan reply, 1)
		if r.wait != nil {
			go func(w func() reply) { p.done <- w() }(r.wait)
		} else {
			p.done <- r
		}
		select {
		case c.pending <- p:
		case <-c.b.ctx.Done():
			go func() { closeRegions((<-p.done).regions) }() // no writer will see this reply
			return net.ErrClosed
		}
		if r.closeAfter {
			return errors.New("closing the connection after its answer (failed SASL authentication or handshake)")
		}
	}
}

// readBody reads a frame body of size bytes in chunks of at most 256 KiB,
// each counted against queued.max.request.bytes just before it is read: a
// size prefix alone reserves nothing, and a stalled sender holds only what
// it sent (plus one chunk) until connections.max.idle.ms closes it. On error
// the returned body holds what was counted so far.
func (c *conn) readBody(br *bufio.Reader, size int) ([]byte, error) {
	const chunkMax = 256 << 10
	body := make([]byte, 0, min(size, chunkMax))
	for len(body) < size {
		chunk := min(size-len(body), chunkMax)
		if err := c.b.queued.acquire(c.b.closed, int64(chunk), queuedWait); err != nil {
			return body, err
		}
		if cap(body)-len(body) < chunk {
			// Double what has arrived (never past the frame): at most twice
			// the received bytes are held, and a large frame costs a few copies.
			nb := make([]byte, len(body), min(size, max(2*cap(body), len(body)+chunk)))
			copy(nb, body)
			body = nb
		}
		if !c.armDeadline() {
			return body[:len(body)+chunk], net.ErrClosed
		}
		n, err := io.ReadFull(br, body[len(body):len(body)+chunk])
		if err != nil {
			return body[:len(body)+chunk], err
		}
		body = body[:len(body)+n]
	}
	return body, nil
}

// queuedWait is how long a reader waits for queued.max.request.bytes to free
// up before it closes its connection; it breaks the deadlock of many
// half-read frames waiting on each other.
const queuedWait = 30 * time.Second

// byteSemaphore bounds the bytes of requests read but not yet handled
// (queued.max.request.bytes).
type byteSemaphore struct {
	unlimited bool
	mu        sync.Mutex
	avail     int64
	freed     chan struct{} // closed and replaced on every release
}

func newByteSemaphore(limit int64) *byteSemaphore {
	return &byteSemaphore{unlimited: limit < 0, avail: limit, freed: make(chan struct{})}
}

func (s *byteSemaphore) acquire(done <-chan struct{}, n int64, wait time.Duration) error {
	if s.unlimited {
		return nil
	}
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		if s.avail >= n {
			s.avail -= n
			s.mu.Unlock()
			return nil
		}
		freed := s.freed
		s.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-freed:
		case <-done:
			return net.ErrClosed
		case <-timeout:
			return fmt.Errorf("waited %s for queued.max.request.bytes to free up", wait)
		}
	}
}

func (s *byteSemaphore) release(n int64) {
	if s.unlimited {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.avail += n
	close(s.freed)
	s.freed = make(chan struct{})
}

// handle decodes one request and runs its handler.
func (c *conn) handle(body []byte) (*pendingReply, reply, error) {
	rd := kbin.Reader{Src: body}
	key := rd.Int16()
	version := rd.Int16()
	corrID := rd.Int32()
	clientID := rd.NullableString()
	if !rd.Ok() {
		return nil, reply{}, errors.New("truncated request header")
	}
	if clientID != nil {
		c.clientID = *clientID
	}
	h := lookupHandler(key)
	if h == nil {
		return nil, reply{}, fmt.Errorf("unknown or unsupported api key %d (%s)", key, kmsg.NameForKey(key))
	}
	p := &pendingReply{corrID: corrID, key: key}
	if version < h.min || version > h.max {
		if key == apiVersionsKey {
			// KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges so the
			// client can retry with a version we serve.
			return p, respond(unsupportedAPIVersions()), nil
		}
		return nil, reply{}, fmt.Errorf("%s v%d is not served (we serve v%d-v%d)", kmsg.NameForKey(key), version, h.min, h.max)
	}
	if err := c.gate(key); err != nil {
		return nil, reply{}, err
	}
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&rd)
	}
	p.flexible = req.IsFlexible()
	if err := req.ReadFrom(rd.Src); err != nil || !rd.Ok() {
		if key == apiVersionsKey {
			// A client that sends an ApiVersions body we cannot parse (for example
			// a version newer than kmsg knows) still learns our ranges.
			return p, respond(unsupportedAPIVersions()), nil
		}
		return nil, reply{}, fmt.Errorf("malformed %s v%d request: %v", kmsg.NameForKey(key), version, err)
	}
	return p, h.fn(c, req), nil
}

// sizeHint estimates the encoded size of a response: the record batches of a
// fetch response plus room for the rest; small for everything else.
func sizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 256
	for i := range f.Topics {
		n += 64 + len(f.Topics[i].Topic)
		for j := range f.Topics[i].Partitions {
			n += 96 + len(f.Topics[i].Partitions[j].RecordBatches)
		}
	}
	return n
}

func (c *conn) writeLoop() {
	bw := bufio.NewWriterSize(c.nc, 64<<10)
	buf := make([]byte, 0, 4096)
	broken := false
	for p := range c.pending {
		r := <-p.done
		for r.wait != nil { // a deferred reply may itself defer (never expected, but safe)
			r = r.wait()
		}
		if !p.began.IsZero() {
			c.b.metrics.replied(p.key, p.began, r.resp)
		}
		if broken || (r.resp == nil && r.raw == nil) {
			closeRegions(r.regions)
			continue
		}
		if r.raw != nil {
			buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(r.raw)))
			buf = append(buf, r.raw...)
			if _, err := bw.Write(buf); err != nil || bw.Flush() != nil {
				broken = true
				c.nc.Close()
			}
			continue
		}
		c.b.logRequest(c, p.key, r.resp)
		buf = buf[:0]
		buf = append(buf, 0, 0, 0, 0)
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.corrID))
		// The response header is flexible (one empty tag byte) for flexible
		// versions, except for ApiVersions, whose response header is always v0.
		if p.flexible && p.key != apiVersionsKey {
			buf = append(buf, 0)
		}
		if need := len(buf) + sizeHint(r.resp); cap(buf) < need {
			// One allocation for a large response (fetches): growing from a
			// small buffer would copy the record batches several times.
			nb := make([]byte, len(buf), need)
			copy(nb, buf)
			buf = nb
		}
		hdr := len(buf)
		buf = r.resp.AppendTo(buf)
		if len(r.regions) > 0 {
			n, err := c.writeWithRegions(bw, buf, hdr, p.flexible, r)
			closeRegions(r.regions)
			if err != nil {
				c.b.log.Debug("fetch response not sent", "client", c.nc.RemoteAddr().String(), "err", err)
				broken = true
				c.nc.Close()
				continue
			}
			c.b.metrics.bytesOut.Add(float64(n))
			if len(c.pending) == 0 {
				if err := bw.Flush(); err != nil {
					broken = true
					c.nc.Close()
				}
			}
			buf = buf[:0]
			continue
		}
		binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
		if _, err := bw.Write(buf); err != nil {
			broken = true
			c.nc.Close()
			continue
		}
		c.b.metrics.bytesOut.Add(float64(len(buf)))
		// Flush when no further response is ready, so pipelined responses share a write.
		if len(c.pending) == 0 || len(buf) > 1<<20 {
			if err := bw.Flush(); err != nil {
				broken = true
				c.nc.Close()
			}
		}
		if cap(buf) > 8<<20 {
			buf = make([]byte, 0, 4096)
		}
	}
	if !broken {
		bw.Flush()
	}
}

// writeWithRegions writes a fetch response whose encoding enc (frame header
// of hdr bytes first, size not yet set) holds the marks of r.regions: the
// bytes between regions through bw, each region with sendfile after a flush,
// so the frame is whole and after every earlier response. It returns the
// frame's size. When the marks cannot be found (never expected) the regions'
// bytes are read and the response re-encoded with them inline.
func (c *conn) writeWithRegions(bw *bufio.Writer, enc []byte, hdr int, flexible bool, r reply) (int, error) {
	resp := r.resp.(*kmsg.FetchResponse)
	ordered, err := orderRegions(resp, r.regions)
	var out []byte
	var at []int
	if err == nil {
		out, at, err = spliceRegions(make([]byte, 0, len(enc)+16), enc, hdr, ordered, flexible)
	}
	if err != nil || c.sendfile == nil {
		if err := inlineRegions(resp, r.regions); err != nil {
			return 0, err
		}
		enc = resp.AppendTo(enc[:hdr])
		binary.BigEndian.PutUint32(enc, uint32(len(enc)-4))
		_, err := bw.Write(enc)
		return len(enc), err
	}
	size := len(out)
	for _, fr := range ordered {
		size += int(fr.r.Len)
	}
	binary.BigEndian.PutUint32(out, uint32(size-4))
	last := 0
	for i, fr := range ordered {
		if _, err := bw.Write(out[last:at[i]]); err != nil {
			return 0, err
		}
		if err := bw.Flush(); err != nil {
			return 0, err
		}
		if err := sendRegion(c.sendfile, &fr.r); err != nil {
			return 0, err
		}
		last = at[i]
	}
	if _, err := bw.Write(out[last:]); err != nil {
		return 0, err
	}
	return size, nil
}
