package registry

// HTTP basic authentication and the read/write split, as Confluent's
// registry answers them: a request without valid credentials gets 401 with
// {"error_code":401,"message":"Unauthorized"} and a WWW-Authenticate header;
// a write (POST, PUT, DELETE) by a user who is neither a super user nor a
// writer gets 403 with error_code 40301. Reads need any valid user. The
// stack's own clients go through InternalTransport, in process, without a
// credential. Credentials are checked against the broker's SCRAM users (the
// embedded registry) or by authenticating to the brokers with them
// (KafkaPasswords, the standalone registry); a successful check is
// remembered, as an HMAC with a per-process key, for CacheTTL so that each
// request does not pay for the check again.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// PasswordChecker verifies a user's password (auth.Users does).
type PasswordChecker interface {
	VerifyPassword(user, password string) bool
}

// BasicAuth turns on HTTP basic authentication.
type BasicAuth struct {
	Users PasswordChecker
	// Writers may POST, PUT and DELETE besides reading; names without the
	// "User:" prefix. SuperUsers are writers too.
	Writers, SuperUsers []string
	// Realm is sent in WWW-Authenticate; empty is "tickertape".
	Realm string
	// CacheTTL is how long a verified credential is accepted without asking
	// Users again (default one minute; a changed or deleted password is
	// refused at the latest this long after the change).
	CacheTTL time.Duration
}

const authCacheTTL = time.Minute

// maxConcurrentChecks bounds the password checks in flight (each is a key
// derivation, or a connection to the brokers for KafkaPasswords).
const maxConcurrentChecks = 8

type authCache struct {
	ttl time.Duration
	key [32]byte // random per process: the cache holds HMACs, not plain hashes
	sem chan struct{}
	mu  sync.Mutex
	ok  map[[32]byte]time.Time // HMAC(key, user NUL password) -> expiry
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl <= 0 {
		ttl = authCacheTTL
	}
	c := &authCache{ttl: ttl, sem: make(chan struct{}, maxConcurrentChecks)}
	rand.Read(c.key[:])
	return c
}

func (c *authCache) check(ctx context.Context, users PasswordChecker, user, pass string, now time.Time) (bool, error) {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(pass))
	var key [32]byte
	m.Sum(key[:0])
	c.mu.Lock()
	exp, hit := c.ok[key]
	if hit && !now.Before(exp) {
		delete(c.ok, key)
	}
	c.mu.Unlock()
	if hit && now.Before(exp) {
		return true, nil
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	var ok bool
	var err error
	if v, isV := users.(PasswordVerifier); isV {
		ok, err = v.CheckPassword(ctx, user, pass)
	} else {
		ok = users.VerifyPassword(user, pass)
	}
	<-c.sem
	if !ok || err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok == nil || len(c.ok) > 10000 {
		c.ok = map[[32]byte]time.Time{}
	}
	c.ok[key] = now.Add(c.ttl)
	return true, nil
}

type internalKey struct{}

// withAuth wraps h with basic authentication when the config asks for it.
func (r *Registry) withAuth(h http.Handler) http.Handler {
	a := r.cfg.Auth
	if a == nil {
		return h
	}
	writers := map[string]bool{}
	for _, n := range append(append([]string(nil), a.Writers...), a.SuperUsers...) {
		writers[strings.TrimPrefix(n, "User:")] = true
	}
	realm := a.Realm
	if realm == "" {
		realm = "tickertape"
	}
	cache := newAuthCache(a.CacheTTL)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Context().Value(internalKey{}) != nil {
			h.ServeHTTP(w, req)
			return
		}
		user, pass, ok := req.BasicAuth()
		valid := false
		if ok {
			var err error
			valid, err = cache.check(req.Context(), a.Users, user, pass, time.Now())
			if err != nil {
				r.log.Warn("registry could not check a credential", "remote", req.RemoteAddr, "user", truncateName(user), "err", err)
				r.respond(w, req, nil, &Error{Code: CodeStoreError, Message: "Could not verify the credentials with the Kafka cluster; retry, and check the registry's log"})
				return
			}
		}
		if !valid {
			if ok {
				r.log.Info("registry request with invalid credentials", "remote", req.RemoteAddr, "user", truncateName(user))
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
			r.respond(w, req, nil, &Error{Code: http.StatusUnauthorized, Message: "Unauthorized"})
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead && !writers[user] {
			r.respond(w, req, nil, &Error{Code: 40301, Message: "User is denied operation " + opName(req.Method) + " on " + resourceName(req.URL.Path) + " (writes need a super user or a user named in --registry-writers)"})
			return
		}
		h.ServeHTTP(w, req)
	})
}

func opName(method string) string {
	if method == http.MethodDelete {
		return "Delete"
	}
	return "Write"
}

func resourceName(path string) string {
	if s, ok := strings.CutPrefix(path, "/subjects/"); ok {
		return "Subject: " + strings.SplitN(s, "/", 2)[0]
	}
	return "this server"
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// InternalTransport serves requests in process through the registry's
// handler as a trusted client (no credential, no TLS, no socket): the
// embedded stack's own pipeline and dashboard use it.
func (r *Registry) InternalTransport() http.RoundTripper {
	h := r.Handler()
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		in := req.Clone(context.WithValue(req.Context(), internalKey{}, true))
		if in.Body == nil {
			in.Body = http.NoBody
		}
		in.RemoteAddr, in.RequestURI = "in-process", req.URL.RequestURI()
		h.ServeHTTP(rec, in)
		resp := &http.Response{StatusCode: rec.status, Status: http.StatusText(rec.status), Header: rec.header, Body: io.NopCloser(&rec.body),
			ContentLength: int64(rec.body.Len()), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req}
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if !r.wrote {
		r.status, r.wrote = s, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
