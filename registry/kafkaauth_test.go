package registry_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/certs"
	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/registry"
)

// standaloneAuth is a registry run apart from the broker, as `tickertape
// registry --brokers` runs it: it reaches a SASL_SSL listener as the super
// user admin and checks HTTP users by authenticating to that listener.
type standaloneAuth struct {
	stack  *app.Stack
	addr   string
	mech   string
	ttl    time.Duration
	srvTLS *tls.Config
	cliTLS *tls.Config
	kp     *registry.KafkaPasswords
	url    string // the first instance
	hc     *http.Client
}

func startStandaloneAuth(t testing.TB, mech string, ttl time.Duration) *standaloneAuth {
	t.Helper()
	dir := t.TempDir()
	if err := certs.WriteDev(dir, "client", nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	rl, err := certs.NewReloader(filepath.Join(dir, certs.Dev.Cert), filepath.Join(dir, certs.Dev.Key))
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, _ := rl.ServerConfig("")
	s, err := app.Start(app.Config{
		Listeners:     []app.Listener{{Addr: "127.0.0.1:0", Protocol: broker.SASLSSL}},
		TLS:           srvTLS,
		BootstrapUser: "admin:admin-pw",
		Broker:        broker.Config{DataDir: t.TempDir(), Logger: quietLogger(), SuperUsers: []string{"admin"}},
		Logger:        quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	for _, u := range []string{"writer", "reader"} {
		if err := s.Broker.Users().SetPassword(u, u+"-pw", 4096); err != nil {
			t.Fatal(err)
		}
	}
	ct, err := certs.ClientConfig(filepath.Join(dir, certs.Dev.CA), "", "")
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.ListenerAddrs()[0], "SASL_SSL://")
	tlsOpt := kgo.DialTLSConfig(ct.Clone())
	sa := &standaloneAuth{stack: s, addr: addr, mech: mech, ttl: ttl, srvTLS: srvTLS, cliTLS: ct,
		kp: &registry.KafkaPasswords{Brokers: []string{addr}, Mechanism: mech, Opts: []kgo.Opt{tlsOpt}},
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: ct}, Timeout: 30 * time.Second}}
	sa.url = sa.addInstance(t, false)
	return sa
}

// addInstance starts one more registry instance on the same _schemas and
// returns its https URL.
func (sa *standaloneAuth) addInstance(t testing.TB, leaderIneligible bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	r, err := registry.New(registry.Config{
		Brokers:          []string{sa.addr},
		KafkaOpts:        []kgo.Opt{kgo.DialTLSConfig(sa.cliTLS.Clone()), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-pw"}.AsSha512Mechanism())},
		Logger:           quietLogger(),
		AdvertisedURL:    url,
		LeaderIneligible: leaderIneligible,
		ForwardTLS:       sa.cliTLS.Clone(),
		Auth: &registry.BasicAuth{
			Users:      sa.kp,
			Writers:    []string{"writer"},
			SuperUsers: []string{"admin"},
			CacheTTL:   sa.ttl,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := r.NewHTTPServer()
	srv.TLSConfig = sa.srvTLS.Clone() // http.Server edits NextProtos; the broker holds srvTLS too
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		r.Close(context.Background())
	})
	return url
}

func (sa *standaloneAuth) do(t testing.TB, method, path, user, pass, body string) (int, map[string]any) {
	t.Helper()
	base := sa.url
	if strings.HasPrefix(path, "https://") {
		base = ""
	}
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := sa.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s %s as %q: %d, body %q is not JSON", method, path, user, resp.StatusCode, raw)
	}
	if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("401 without a Basic WWW-Authenticate: %q", resp.Header.Get("WWW-Authenticate"))
	}
	out, _ := v.(map[string]any) // nil for a list
	return resp.StatusCode, out
}

func TestStandaloneRegistryBasicAuthAgainstBrokerSASL(t *testing.T) {
	for _, mech := range []string{"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"} {
		t.Run(mech, func(t *testing.T) {
			sa := startStandaloneAuth(t, mech, time.Minute)
			schema := `{"schema":"{\"type\":\"string\"}"}`
			for _, c := range []struct{ user, pass string }{{"", ""}, {"reader", "wrong"}, {"nobody", "x"}, {"reader", ""}} {
				code, body := sa.do(t, "GET", "/subjects", c.user, c.pass, "")
				if code != 401 || body["error_code"] != float64(401) || body["message"] != "Unauthorized" {
					t.Fatalf("%q/%q: %d %v, want Confluent's 401", c.user, c.pass, code, body)
				}
			}
			if code, body := sa.do(t, "GET", "/subjects", "reader", "reader-pw", ""); code != 200 {
				t.Fatalf("reader GET: %d %v", code, body)
			}
			code, body := sa.do(t, "POST", "/subjects/s1/versions", "reader", "reader-pw", schema)
			if code != 403 || body["error_code"] != float64(40301) || !strings.Contains(body["message"].(string), "Subject: s1") {
				t.Fatalf("reader POST: %d %v, want 403 / 40301", code, body)
			}
			if code, body := sa.do(t, "POST", "/subjects/s1/versions", "writer", "writer-pw", schema); code != 200 || body["id"] == nil {
				t.Fatalf("writer POST: %d %v", code, body)
			}
			if code, body := sa.do(t, "GET", "/subjects/s1/versions/latest", "reader", "reader-pw", ""); code != 200 || body["subject"] != "s1" {
				t.Fatalf("reader reads the writer's schema: %d %v", code, body)
			}
			if code, _ := sa.do(t, "DELETE", "/subjects/s1", "writer", "wrong", ""); code != 401 {
				t.Fatalf("writer DELETE with a wrong password: %d", code)
			}
			if code, _ := sa.do(t, "DELETE", "/subjects/s1", "admin", "admin-pw", ""); code != 200 {
				t.Fatalf("super user DELETE: %d", code)
			}
		})
	}
}

// A leader-ineligible instance forwards a write over https to the leader,
// credentials and all: the leader checks them again.
func TestStandaloneRegistryForwardsAuthenticatedWritesOverHTTPS(t *testing.T) {
	sa := startStandaloneAuth(t, "SCRAM-SHA-512", time.Minute)
	follower := sa.addInstance(t, true)
	schema := `{"schema":"{\"type\":\"string\"}"}`
	if code, body := sa.do(t, "POST", follower+"/subjects/fw/versions", "writer", "writer-pw", schema); code != 200 || body["id"] == nil {
		t.Fatalf("writer POST through the follower: %d %v", code, body)
	}
	if code, body := sa.do(t, "POST", follower+"/subjects/fw/versions", "reader", "reader-pw", schema); code != 403 {
		t.Fatalf("reader POST through the follower: %d %v", code, body)
	}
	poll.Until(t, 30*time.Second, "the leader serves the forwarded schema", func() bool {
		code, body := sa.do(t, "GET", "/subjects/fw/versions/latest", "reader", "reader-pw", "")
		return code == 200 && body["subject"] == "fw"
	})
}

// A verified credential is remembered for CacheTTL only: after a password
// change the old one works until the entry expires, then never again.
func TestStandaloneRegistryCacheExpiresChangedPassword(t *testing.T) {
	const ttl = 300 * time.Millisecond
	sa := startStandaloneAuth(t, "SCRAM-SHA-512", ttl)
	if code, _ := sa.do(t, "GET", "/subjects", "reader", "reader-pw", ""); code != 200 {
		t.Fatalf("reader GET: %d", code)
	}
	if err := sa.stack.Broker.Users().SetPassword("reader", "new-pw", 4096); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the old password refused after the cache entry expired", func() bool {
		code, _ := sa.do(t, "GET", "/subjects", "reader", "reader-pw", "")
		return code == 401
	})
	if code, _ := sa.do(t, "GET", "/subjects", "reader", "new-pw", ""); code != 200 {
		t.Fatalf("new password: %d", code)
	}
	// A deleted user is refused too, once the cache entry of the new password expires.
	if err := sa.stack.Broker.Users().Delete("reader"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "a deleted user refused", func() bool {
		code, _ := sa.do(t, "GET", "/subjects", "reader", "new-pw", "")
		return code == 401
	})
}

// Brokers that cannot be reached are not "wrong password": the client gets
// a 500 with Confluent's store error code and a message saying to retry.
func TestStandaloneRegistryUnreachableBrokersIsNot401(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	kp := &registry.KafkaPasswords{Brokers: []string{addr}, Timeout: 2 * time.Second, Opts: []kgo.Opt{kgo.DialTLSConfig(&tls.Config{})}}
	ok, err := kp.CheckPassword(context.Background(), "reader", "reader-pw")
	if ok || err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable brokers: ok=%v err=%v, want an error naming %s", ok, err, addr)
	}
	if _, err := (&registry.KafkaPasswords{Brokers: []string{addr}, Mechanism: "GSSAPI"}).CheckPassword(context.Background(), "u", "p"); err == nil {
		t.Fatal("GSSAPI accepted")
	}
}

// BenchmarkStandaloneAuth compares a cache miss (one SASL login to the
// broker over TLS) with a GET whose credential is cached.
func BenchmarkStandaloneAuth(b *testing.B) {
	b.Run("sasl-login-SCRAM-SHA-512", func(b *testing.B) {
		sa := startStandaloneAuth(b, "SCRAM-SHA-512", time.Minute)
		kp := sa.kp
		for b.Loop() {
			if ok, err := kp.CheckPassword(context.Background(), "reader", "reader-pw"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("cached-GET", func(b *testing.B) {
		sa := startStandaloneAuth(b, "SCRAM-SHA-512", time.Minute)
		for b.Loop() {
			if code, _ := sa.do(b, "GET", "/subjects", "reader", "reader-pw", ""); code != 200 {
				b.Fatal(code)
			}
		}
	})
}
