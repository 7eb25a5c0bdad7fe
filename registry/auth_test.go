package registry_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/certs"
	"github.com/tickertape/tickertape/registry"
)

// A secured stack: a SASL_SSL listener, the registry over HTTPS with basic
// auth, admin a super user, writer a registry writer, reader neither.
func startSecuredStack(t *testing.T) (*app.Stack, *http.Client) {
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
		RegistryTLS:   srvTLS,
		RegistryAuth:  &registry.BasicAuth{Writers: []string{"writer"}},
		BootstrapUser: "admin:admin-pw",
		RegistryAddr:  "127.0.0.1:0",
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
	return s, &http.Client{Transport: &http.Transport{TLSClientConfig: ct}, Timeout: 30 * time.Second}
}

func TestRegistryBasicAuth401And403(t *testing.T) {
	s, hc := startSecuredStack(t)
	if !strings.HasPrefix(s.RegistryURL(), "https://") {
		t.Fatalf("registry URL %s is not https", s.RegistryURL())
	}
	do := func(method, path, user, pass, body string) (int, map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, s.RegistryURL()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		json.Unmarshal(raw, &out)
		return resp.StatusCode, out, resp.Header
	}
	schema := `{"schema":"{\"type\":\"string\"}"}`
	for _, c := range []struct{ user, pass string }{{"", ""}, {"reader", "wrong"}, {"nobody", "x"}} {
		code, body, h := do("GET", "/subjects", c.user, c.pass, "")
		if code != 401 || body["error_code"] != float64(401) || body["message"] != "Unauthorized" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("%q: %d %v %q, want Confluent's 401", c.user, code, body, h.Get("WWW-Authenticate"))
		}
	}
	if code, _, _ := do("GET", "/subjects", "reader", "reader-pw", ""); code != 200 {
		t.Fatalf("reader GET: %d", code)
	}
	code, body, _ := do("POST", "/subjects/s1/versions", "reader", "reader-pw", schema)
	if code != 403 || body["error_code"] != float64(40301) || !strings.Contains(body["message"].(string), "Subject: s1") {
		t.Fatalf("reader POST: %d %v, want 403 / 40301", code, body)
	}
	if code, body, _ := do("POST", "/subjects/s1/versions", "writer", "writer-pw", schema); code != 200 || body["id"] == nil {
		t.Fatalf("writer POST: %d %v", code, body)
	}
	if code, _, _ := do("DELETE", "/subjects/s1", "reader", "reader-pw", ""); code != 403 {
		t.Fatalf("reader DELETE: %d", code)
	}
	if code, _, _ := do("DELETE", "/subjects/s1", "admin", "admin-pw", ""); code != 200 {
		t.Fatalf("super user DELETE: %d", code)
	}
	// The stack's own client needs no credential.
	cl, err := sr.NewClient(s.InternalRegistryOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := cl.CreateSchema(context.Background(), "internal", sr.Schema{Schema: `"string"`})
	if err != nil || ss.ID == 0 {
		t.Fatalf("internal register: %v %+v", err, ss)
	}
	// Plain HTTP to the HTTPS port is refused.
	resp, err := http.Get("http" + strings.TrimPrefix(s.RegistryURL(), "https") + "/subjects")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the HTTPS registry: %d", resp.StatusCode)
		}
	}
}
