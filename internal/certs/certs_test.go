package certs

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Reload swaps the served certificate (what SIGHUP does); a broken file
// keeps the old one. A client trusting the CA completes a handshake.
func TestReloadAndHandshake(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if err := WriteDev(d, "c", []string{"example.test"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	live := t.TempDir()
	cp := func(from, name string) {
		raw, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(live, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp(a, Dev.Cert)
	cp(a, Dev.Key)
	rl, err := NewReloader(filepath.Join(live, Dev.Cert), filepath.Join(live, Dev.Key))
	if err != nil {
		t.Fatal(err)
	}
	first := rl.Certificate().Certificate[0]
	srv, _ := rl.ServerConfig(filepath.Join(a, Dev.CA))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	cl, err := ClientConfig(filepath.Join(a, Dev.CA), filepath.Join(a, Dev.ClientCert), filepath.Join(a, Dev.ClientKey))
	if err != nil {
		t.Fatal(err)
	}
	cl.ServerName = "example.test"
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cl)
	if err != nil {
		t.Fatalf("handshake with the dev CA, SAN example.test and a client certificate: %v", err)
	}
	conn.Close()

	cp(b, Dev.Cert)
	cp(b, Dev.Key)
	if err := rl.Reload(); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rl.Certificate().Certificate[0], first) {
		t.Fatal("Reload kept the old certificate")
	}
	os.WriteFile(filepath.Join(live, Dev.Cert), []byte("garbage"), 0o600)
	if err := rl.Reload(); err == nil {
		t.Fatal("Reload accepted a broken certificate")
	}
	if rl.Certificate() == nil {
		t.Fatal("a failed Reload dropped the certificate")
	}
}
