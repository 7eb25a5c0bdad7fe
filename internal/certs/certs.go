// Package certs loads the TLS certificate of tickertape's listeners (reloaded
// on demand, for SIGHUP) and writes the development CA and certificates of
// `tickertape tls init`. It owns no listener and reads no flags.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Reloader serves a certificate and key from PEM files and reads them again on Reload.
type Reloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// NewReloader loads certFile and keyFile once; an error names what to fix.
func NewReloader(certFile, keyFile string) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again; on error the previous certificate stays in use.
func (r *Reloader) Reload() error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load TLS certificate %s and key %s: %w (create a development pair with `tickertape tls init DIR`)", r.certFile, r.keyFile, err)
	}
	r.cur.Store(&c)
	return nil
}

// Certificate is the certificate in use.
func (r *Reloader) Certificate() *tls.Certificate { return r.cur.Load() }

// ServerConfig returns a TLS server configuration that always uses the
// current certificate. With clientCAFile set, clients must present a
// certificate signed by one of its CAs (mTLS).
func (r *Reloader) ServerConfig(clientCAFile string) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cur.Load(), nil },
	}
	if clientCAFile != "" {
		pool, err := LoadPool(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// LoadPool reads PEM CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// ClientConfig is a TLS client configuration trusting caFile (the system
// roots when empty), presenting certFile/keyFile when given.
func ClientConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := LoadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// Dev names the files WriteDev writes in its directory.
var Dev = struct{ CA, CAKey, Cert, Key, ClientCert, ClientKey string }{
	"ca.pem", "ca-key.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem",
}

// WriteDev writes a development CA, a server certificate for localhost,
// 127.0.0.1 and ::1 (plus extraHosts), and a client certificate with
// CN=clientCN, all signed by the CA, into dir. It refuses to overwrite.
func WriteDev(dir, clientCN string, extraHosts []string, valid time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{Dev.CA, Dev.CAKey, Dev.Cert, Dev.Key, Dev.ClientCert, Dev.ClientKey} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("%s already exists: choose an empty directory or remove the old files", filepath.Join(dir, f))
		}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "tickertape development CA", Organization: []string{"tickertape"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(cn string, hosts []string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"tickertape"}},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(valid),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				t.IPAddresses = append(t.IPAddresses, ip)
			} else {
				t.DNSNames = append(t.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, certFile), "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		return writePEM(filepath.Join(dir, keyFile), "PRIVATE KEY", kder, 0o600)
	}
	if err := writePEM(filepath.Join(dir, Dev.CA), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, Dev.CAKey), "PRIVATE KEY", kder, 0o600); err != nil {
		return err
	}
	hosts := append([]string{"localhost", "127.0.0.1", "::1"}, extraHosts...)
	if err := leaf("localhost", hosts, x509.ExtKeyUsageServerAuth, Dev.Cert, Dev.Key); err != nil {
		return err
	}
	return leaf(clientCN, nil, x509.ExtKeyUsageClientAuth, Dev.ClientCert, Dev.ClientKey)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
