package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/internal/certs"
)

// The user's path to a secured broker, through the CLI only: tls init, a
// SASL_SSL stack, then users, acl, produce and consume with the flags.
func TestSecuredBrokerThroughTheCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	if code, out, errs := runWithStdin(t, "", "tls", "init", dir); code != 0 || !strings.Contains(out, "server.pem") {
		t.Fatalf("tls init: %d %s %s", code, out, errs)
	}
	if code, _, errs := runWithStdin(t, "", "tls", "init", dir); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("tls init over existing files: %d %s", code, errs)
	}
	rl, err := certs.NewReloader(filepath.Join(dir, certs.Dev.Cert), filepath.Join(dir, certs.Dev.Key))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := rl.ServerConfig("")
	s, err := app.Start(app.Config{
		Listeners: []app.Listener{{Addr: "127.0.0.1:0", Protocol: broker.SASLSSL}}, TLS: srv,
		BootstrapUser: "admin:admin-pw",
		Broker:        broker.Config{DataDir: t.TempDir(), SuperUsers: []string{"admin"}, Logger: discard()},
		Logger:        discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	addr := s.KafkaAddr()
	ca := filepath.Join(dir, certs.Dev.CA)
	as := func(user string, args ...string) []string {
		return append(args, "--brokers", addr, "--tls-ca", ca, "--sasl-user", user)
	}
	t.Setenv("TICKERTAPE_SASL_PASSWORD", "admin-pw")
	if code, out, errs := runWithStdin(t, "bob-pw\n", as("admin", "users", "create", "bob", "--iterations", "4096")...); code != 0 || !strings.Contains(out, "user bob") {
		t.Fatalf("users create: %d %s %s", code, out, errs)
	}
	code, out, errs := runWithStdin(t, "", as("admin", "users", "list")...)
	if code != 0 || !strings.Contains(out, "bob    SCRAM-SHA-256 (4096 iterations), SCRAM-SHA-512 (4096 iterations)") {
		t.Fatalf("users list: %d\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{
		{"acl", "create", "--principal", "User:bob", "--operation", "write", "--operation", "read", "--topic", "bobs.", "--pattern", "prefixed"},
		{"topics", "create", "bobs.prices"},
	} {
		if code, out, errs := runWithStdin(t, "", as("admin", args...)...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errs)
		}
	}
	code, out, _ = runWithStdin(t, "", as("admin", "acl", "list", "--principal", "User:bob")...)
	if code != 0 || !strings.Contains(out, "topic:bobs.  PREFIXED  User:bob   *     WRITE") {
		t.Fatalf("acl list: %d\n%s", code, out)
	}
	// bob may list only his topics, and may not manage users.
	t.Setenv("TICKERTAPE_SASL_PASSWORD", "bob-pw")
	code, out, errs = runWithStdin(t, "", as("bob", "topics", "list")...)
	if code != 0 || !strings.Contains(out, "bobs.prices") || strings.Contains(out, "__consumer_offsets") {
		t.Fatalf("bob's topics list: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runWithStdin(t, "", as("bob", "users", "list")...); code != 1 || !strings.Contains(errs, "CLUSTER_AUTHORIZATION_FAILED") || !strings.Contains(errs, "super user") {
		t.Fatalf("bob listing users: %d %s", code, errs)
	}
	t.Setenv("TICKERTAPE_SASL_PASSWORD", "wrong")
	if code, _, errs := runWithStdin(t, "", as("bob", "topics", "list")...); code == 0 || !strings.Contains(errs, "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("wrong password: %d %s", code, errs)
	}
	// A password is never required on the command line; without one the error says where it goes.
	t.Setenv("TICKERTAPE_SASL_PASSWORD", "")
	if code, _, errs := runWithStdin(t, "", as("bob", "topics", "list")...); code != 2 || !strings.Contains(errs, "TICKERTAPE_SASL_PASSWORD") {
		t.Fatalf("no password: %d %s", code, errs)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
