package broker

// Listeners in Kafka's spelling: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.
//
// Each listener has its own advertised address; Metadata, FindCoordinator and
// DescribeCluster answer a client with the address of the listener it came in
// on. TLS listeners complete the handshake (bounded by tlsHandshakeTimeout)
// before the first request is read; with client certificates the subject
// becomes the principal, spelled as Kafka's default principal builder does
// ("User:CN=alice,O=acme"). SASL listeners authenticate first (see sasl.go).

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Protocol is a listener's security protocol (Kafka's security.protocol).
type Protocol int

// The security protocols, as Kafka names them.
const (
	Plaintext Protocol = iota
	SSL
	SASLPlaintext
	SASLSSL
)

func (p Protocol) String() string {
	switch p {
	case SSL:
		return "SSL"
	case SASLPlaintext:
		return "SASL_PLAINTEXT"
	case SASLSSL:
		return "SASL_SSL"
	}
	return "PLAINTEXT"
}

// TLS reports whether the protocol runs over TLS.
func (p Protocol) TLS() bool { return p == SSL || p == SASLSSL }

// SASL reports whether the protocol authenticates with SASL.
func (p Protocol) SASL() bool { return p == SASLPlaintext || p == SASLSSL }

// ParseListener splits "[PROTOCOL://]host:port" into its protocol (PLAINTEXT
// when absent) and address.
func ParseListener(s string) (Protocol, string, error) {
	proto, addr, ok := strings.Cut(s, "://")
	if !ok {
		proto, addr = "PLAINTEXT", s
	}
	var p Protocol
	switch strings.ToUpper(proto) {
	case "PLAINTEXT":
		p = Plaintext
	case "SSL":
		p = SSL
	case "SASL_PLAINTEXT":
		p = SASLPlaintext
	case "SASL_SSL":
		p = SASLSSL
	default:
		return 0, "", fmt.Errorf("listener %q: unknown protocol %q (use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", s, proto)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return 0, "", fmt.Errorf("listener %q: want [PROTOCOL://]host:port", s)
	}
	return p, addr, nil
}

// Listener describes how clients on one net.Listener are served.
type Listener struct {
	Protocol Protocol
	// AdvertisedHost and AdvertisedPort are what Metadata tells this
	// listener's clients; empty/0 means the listener's own address.
	AdvertisedHost string
	AdvertisedPort int32
	// TLS is required for SSL and SASL_SSL. Set ClientAuth to require client
	// certificates; their subject then becomes the principal.
	TLS *tls.Config
}

// listenerState is a Listener bound to its net.Listener.
type listenerState struct {
	Listener
	addr net.Addr
	// internal marks the in-process listener of DialInternal: its clients
	// are the stack's own and act as a super user.
	internal bool
}

// tlsHandshakeTimeout bounds a TLS handshake; a client that does not finish it
// in time is closed.
const tlsHandshakeTimeout = 10 * time.Second

// anonymous is Kafka's principal for unauthenticated clients.
const anonymous = "User:ANONYMOUS"

// internalPrincipal is the principal of the stack's own clients (DialInternal).
const internalPrincipal = "User:tickertape-internal"

func (l *listenerState) validate() error {
	if l.Protocol.TLS() && l.TLS == nil {
		return fmt.Errorf("%s listener needs a TLS certificate (--tls-cert and --tls-key)", l.Protocol)
	}
	return nil
}

// advertisedFor returns the host and port Metadata hands to this listener's clients.
func (l *listenerState) advertisedFor() (string, int32) {
	host, port := l.AdvertisedHost, l.AdvertisedPort
	if host != "" && port != 0 || l.addr == nil {
		return host, port
	}
	h, p, err := net.SplitHostPort(l.addr.String())
	if err != nil {
		return host, port
	}
	if host == "" {
		host = h
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
	}
	if port == 0 {
		n, _ := strconv.Atoi(p)
		port = int32(n)
	}
	return host, port
}

// advertised is the address this connection's clients are told to use.
func (c *conn) advertised() (string, int32) {
	if c.lst == nil || c.lst.internal {
		return c.b.advertised()
	}
	return c.lst.advertisedFor()
}

// startTLS completes the TLS handshake and takes the principal from the
// client certificate, if any. False means the connection is to be closed.
func (c *conn) startTLS(tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(c.b.ctx, tlsHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.b.log.Debug("TLS handshake failed", "remote", c.nc.RemoteAddr().String(), "listener", c.lst.Protocol.String(), "reason", err)
		return false
	}
	if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
		c.principal = "User:" + st.PeerCertificates[0].Subject.String()
	}
	return true
}

// DialInternal connects the stack's own clients (the embedded registry, the
// pipeline, the metrics collector) to the broker in process, authenticated
// as a super user without any credential on the wire. Use it as a kgo.Dialer.
func (b *Broker) DialInternal(ctx context.Context, _, _ string) (net.Conn, error) {
	select {
	case <-b.closed:
		return nil, fmt.Errorf("broker closed")
	default:
	}
	client, server := net.Pipe()
	l := &listenerState{internal: true, addr: b.Addr()}
	if !b.startConn(server, l) {
		client.Close()
		return nil, fmt.Errorf("broker closed")
	}
	return client, nil
}
