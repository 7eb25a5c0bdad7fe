package auth

// The server side of a SCRAM exchange (RFC 5802, RFC 7677) as Kafka's
// ScramSaslServer runs it: no channel binding, extensions after the nonce
// ignored (except tokenauth, refused: there are no delegation tokens), an
// authorization id only if it equals the user.
//
// One deliberate leniency: librdkafka before 2.6.1 sends the client nonce
// twice in its client-final message (client nonce + the server's combined
// nonce; librdkafka PR #4895). Apache Kafka 3.x accepts that, and kcat and
// confluent-kafka as packaged today still do it, so it is accepted here in
// exactly that form; the server's fresh nonce must still be present.

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors of a failed exchange, for the log; the client hears only that
// authentication failed.
var (
	ErrMalformed = errors.New("malformed SCRAM message")
	ErrBadNonce  = errors.New("SCRAM nonce does not match")
	ErrBadProof  = errors.New("SCRAM proof is wrong")
)

// ScramServer runs one exchange; it is not safe for concurrent use.
type ScramServer struct {
	mech   Mechanism
	lookup func(user string) (Credential, error)
	step   int
	user   string
	gs2    string // the client's GS2 header, which c= must echo
	c1bare string
	s1     string
	nonce  string // client nonce + server nonce
	cnonce string
	cred   Credential
}

// NewScramServer starts an exchange for m; lookup finds a user's credential.
func NewScramServer(m Mechanism, lookup func(user string) (Credential, error)) *ScramServer {
	return &ScramServer{mech: m, lookup: lookup}
}

// User is the authenticated (or claimed) user name.
func (s *ScramServer) User() string { return s.user }

// Step takes the client's message and returns the server's. done is true
// after the final message was verified.
func (s *ScramServer) Step(in []byte) (out []byte, done bool, err error) {
	defer func() {
		if err != nil {
			s.step = 2
		}
	}()
	switch s.step {
	case 0:
		s.step = 1
		return s.first(string(in))
	case 1:
		s.step = 2
		return s.final(string(in))
	}
	return nil, false, errors.New("SCRAM exchange already finished")
}

func (s *ScramServer) first(c1 string) ([]byte, bool, error) {
	if len(c1) > 4096 {
		return nil, false, fmt.Errorf("%w: client-first message of %d bytes", ErrMalformed, len(c1))
	}
	flag, rest, ok := strings.Cut(c1, ",")
	if !ok || (flag != "n" && flag != "y") {
		return nil, false, fmt.Errorf("%w: GS2 flag must be n or y (channel binding is not offered)", ErrMalformed)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, false, fmt.Errorf("%w: no GS2 header", ErrMalformed)
	}
	fields := strings.Split(bare, ",")
	if len(fields) < 2 || strings.HasPrefix(fields[0], "m=") {
		return nil, false, fmt.Errorf("%w: want n=user,r=nonce", ErrMalformed)
	}
	name, ok := strings.CutPrefix(fields[0], "n=")
	if !ok {
		return nil, false, fmt.Errorf("%w: no user name", ErrMalformed)
	}
	user, err := decodeSaslName(name)
	if err != nil {
		return nil, false, err
	}
	s.user = user
	cnonce, ok := strings.CutPrefix(fields[1], "r=")
	if !ok || cnonce == "" || !printable(cnonce) {
		return nil, false, fmt.Errorf("%w: no client nonce", ErrMalformed)
	}
	for _, ext := range fields[2:] {
		if strings.HasPrefix(ext, "tokenauth=") && strings.TrimPrefix(ext, "tokenauth=") == "true" {
			return nil, false, fmt.Errorf("%w: delegation tokens are not supported", ErrMalformed)
		}
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return nil, false, fmt.Errorf("%w: bad authorization id", ErrMalformed)
		}
		if a, err = decodeSaslName(a); err != nil || a != user {
			return nil, false, fmt.Errorf("%w: authorization id differs from the user name", ErrMalformed)
		}
	}
	cred, err := s.lookup(user)
	if err != nil {
		return nil, false, err
	}
	var raw [24]byte
	rand.Read(raw[:])
	s.cred, s.cnonce, s.gs2, s.c1bare = cred, cnonce, flag+","+authz+",", bare
	s.nonce = cnonce + base64.RawURLEncoding.EncodeToString(raw[:])
	s.s1 = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(cred.Salt), cred.Iterations)
	return []byte(s.s1), false, nil
}

func (s *ScramServer) final(c2 string) ([]byte, bool, error) {
	i := strings.LastIndex(c2, ",p=")
	if i < 0 || len(c2) > 4096 {
		return nil, false, fmt.Errorf("%w: client-final message without a proof", ErrMalformed)
	}
	wop, proofB64 := c2[:i], c2[i+3:]
	fields := strings.Split(wop, ",")
	if len(fields) < 2 {
		return nil, false, fmt.Errorf("%w: client-final message too short", ErrMalformed)
	}
	cb, ok := strings.CutPrefix(fields[0], "c=")
	if !ok || cb != base64.StdEncoding.EncodeToString([]byte(s.gs2)) {
		return nil, false, fmt.Errorf("%w: channel binding does not echo the GS2 header", ErrMalformed)
	}
	nonce, ok := strings.CutPrefix(fields[1], "r=")
	if !ok || (nonce != s.nonce && nonce != s.cnonce+s.nonce) {
		return nil, false, ErrBadNonce
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	h := s.mech.hash()
	if err != nil || len(proof) != h().Size() {
		return nil, false, fmt.Errorf("%w: bad proof encoding", ErrMalformed)
	}
	authMsg := s.c1bare + "," + s.s1 + "," + wop
	sig := hmacSum(h, s.cred.StoredKey, authMsg)
	clientKey := make([]byte, len(proof))
	for j := range proof {
		clientKey[j] = proof[j] ^ sig[j]
	}
	stored := h()
	stored.Write(clientKey)
	if !hmac.Equal(stored.Sum(nil), s.cred.StoredKey) {
		return nil, false, ErrBadProof
	}
	serverSig := hmacSum(h, s.cred.ServerKey, authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), true, nil
}

// decodeSaslName undoes RFC 5802's =2C / =3D escaping; any other '=' is an error.
func decodeSaslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		if s == "" {
			return "", fmt.Errorf("%w: empty user name", ErrMalformed)
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", fmt.Errorf("%w: bad escape in user name", ErrMalformed)
		}
		i += 2
	}
	return b.String(), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}
