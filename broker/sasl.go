package broker

// SaslHandshake, key 17, v0-v1; SaslAuthenticate, key 36, v0-v2.
//
// Behaviour: mechanisms PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802/7677;
// the SCRAM server and the credentials are package auth's; PLAIN is checked
// against the same SCRAM credential). On a SASL listener a connection may send only ApiVersions and
// SaslHandshake (then SaslAuthenticate) until it is authenticated; any other
// request closes it, as Kafka's SaslServerAuthenticator does. After a v0
// handshake the tokens come as raw size-prefixed frames without a request
// header (the pre-KIP-152 flow); after v1 they come in SaslAuthenticate.
// A failure is answered with SASL_AUTHENTICATION_FAILED after
// Config.AuthFailureDelay and the connection is closed; the log line names the
// principal and the address, never a password, nonce or proof.
// Left out: re-authentication (KIP-368: SessionLifetimeMs is 0, so clients
// never re-authenticate), SCRAM extensions and delegation tokens, GSSAPI and
// OAUTHBEARER (answered UNSUPPORTED_SASL_MECHANISM with the list we serve).

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/auth"
)

const (
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
	mechPlain           = "PLAIN"
)

func init() {
	regKey(saslHandshakeKey, 0, 1, handleSaslHandshake)
	regKey(saslAuthenticateKey, 0, 2, handleSaslAuthenticate)
}

// saslMechanisms are the mechanisms a SASL listener offers, in SaslHandshake's order.
var saslMechanisms = []string{mechPlain, string(auth.ScramSHA256), string(auth.ScramSHA512)}

// saslState is one connection's SASL exchange. Only the connection's reader touches it.
type saslState struct {
	mech string
	raw  bool // handshake v0: tokens arrive as bare frames
	conv *auth.ScramServer
	user string // once authenticated
	done bool
}

func (c *conn) authenticated() bool { return c.sasl != nil && c.sasl.done }

// gate is the dispatcher's one check before a request's handler runs: on a
// SASL listener, only the authentication APIs are served until the client
// has authenticated. Per-resource authorization is the handlers' (authz.go).
func (c *conn) gate(key int16) error {
	if !c.lst.Protocol.SASL() || c.authenticated() {
		return nil
	}
	switch {
	case key == apiVersionsKey, key == saslHandshakeKey:
		return nil
	case key == saslAuthenticateKey && c.sasl != nil && !c.sasl.raw:
		return nil
	}
	c.b.log.Info("closing a connection that sent a request before SASL authentication", "remote", c.nc.RemoteAddr().String(), "api", kmsg.NameForKey(key))
	return fmt.Errorf("%s before SASL authentication", kmsg.NameForKey(key))
}

func handleSaslHandshake(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if !c.lst.Protocol.SASL() {
		// Kafka answers a handshake on a listener without SASL like this too.
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return respond(resp)
	}
	resp.SupportedMechanisms = saslMechanisms
	if c.sasl != nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return reply{resp: resp, closeAfter: true}
	}
	known := false
	for _, m := range saslMechanisms {
		known = known || m == req.Mechanism
	}
	if !known {
		c.b.log.Info("SASL handshake with an unsupported mechanism", "remote", c.nc.RemoteAddr().String(), "mechanism", truncate(req.Mechanism, 40))
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return reply{resp: resp, closeAfter: true}
	}
	c.sasl = &saslState{mech: req.Mechanism, raw: req.Version == 0}
	return respond(resp)
}

func handleSaslAuthenticate(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.sasl == nil || c.sasl.raw || c.sasl.done {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = strp("SaslAuthenticate without a v1 SaslHandshake first, or after authentication")
		return reply{resp: resp, closeAfter: true}
	}
	out, err := c.saslStep(req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = strp(err.Error())
		return c.authFailed(reply{resp: resp})
	}
	resp.SASLAuthBytes = out
	return respond(resp)
}

// rawSASLToken serves one bare token frame after a v0 handshake. A failure
// closes the connection without an answer, as Kafka does in that flow.
func (c *conn) rawSASLToken(body []byte) reply {
	out, err := c.saslStep(body)
	if err != nil {
		return c.authFailed(reply{none: true})
	}
	if out == nil {
		out = []byte{}
	}
	return reply{raw: out}
}

// authFailed delays r by AuthFailureDelay and closes the connection after it.
func (c *conn) authFailed(r reply) reply {
	delay := c.b.cfg.AuthFailureDelay
	r.closeAfter = true
	if r.none {
		// Nothing to send: wait here, then close.
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-c.b.ctx.Done():
			}
			t.Stop()
		}
		return reply{close: true}
	}
	if delay <= 0 {
		return r
	}
	inner := r
	inner.closeAfter = false
	return reply{closeAfter: true, wait: func() reply {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.b.ctx.Done():
		}
		return inner
	}}
}

// errAuthFailed is what a client hears for any credential problem: it does
// not say whether the user or the password was wrong.
func errAuthFailed(mech string) error {
	return fmt.Errorf("Authentication failed during authentication due to invalid credentials with SASL mechanism %s", mech)
}

// saslStep advances the exchange with one client token and returns the
// server's token. On success of the last step it sets the principal.
func (c *conn) saslStep(in []byte) ([]byte, error) {
	s := c.sasl
	remote := c.nc.RemoteAddr().String()
	fail := func(user string, why string) ([]byte, error) {
		principal := "User:" + truncate(user, 64)
		if user == "" {
			principal = "unknown"
		}
		c.b.log.Warn("failed SASL authentication", "remote", remote, "mechanism", s.mech, "principal", principal, "reason", why)
		c.b.metrics.authFailures.Inc()
		return nil, errAuthFailed(s.mech)
	}
	if s.mech == mechPlain {
		authzid, user, pass, ok := parsePlain(in)
		if !ok {
			return fail("", "malformed PLAIN token")
		}
		if authzid != "" && authzid != user {
			return fail(user, "authorization id differs from the user name")
		}
		if !c.b.users.VerifyPassword(user, pass) {
			return fail(user, "wrong user name or password")
		}
		c.saslDone(user)
		return []byte{}, nil
	}
	if s.conv == nil {
		mech := auth.Mechanism(s.mech)
		s.conv = auth.NewScramServer(mech, func(user string) (auth.Credential, error) { return c.b.users.Lookup(user, mech) })
	}
	out, done, err := s.conv.Step(in)
	if err != nil {
		why := err.Error()
		if errors.Is(err, auth.ErrNoSuchUser) {
			why = "unknown user"
		}
		return fail(s.conv.User(), why)
	}
	if done {
		c.saslDone(s.conv.User())
	}
	return out, nil
}

func (c *conn) saslDone(user string) {
	c.sasl.done, c.sasl.user, c.sasl.conv = true, user, nil
	c.principal = "User:" + user
	c.b.log.Debug("SASL authenticated", "remote", c.nc.RemoteAddr().String(), "mechanism", c.sasl.mech, "principal", c.principal)
}

// parsePlain splits an RFC 4616 message: [authzid] NUL authcid NUL passwd.
func parsePlain(b []byte) (authzid, user, pass string, ok bool) {
	if len(b) > 1024 {
		return "", "", "", false
	}
	parts := bytes.Split(b, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", false
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
