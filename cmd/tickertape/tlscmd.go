package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tickertape/tickertape/internal/certs"
)

func init() {
	register(&command{name: "tls", summary: "tls init DIR: write a development CA and certificates for localhost", run: runTLS})
}

func runTLS(args []string, stdout, stderr io.Writer) error {
	var hosts listFlag
	var clientCN string
	var valid time.Duration
	fs := newFlagSet("tls init DIR [flags]",
		"Writes a development certificate authority, a server certificate for localhost, 127.0.0.1\nand ::1 (plus --host names), and a client certificate for mTLS, all signed by that CA, into\nDIR. For trying TLS on one machine; use certificates from your own CA in production.",
		`  tickertape tls init ./certs
  tickertape tls init ./certs --host myhost.lan --client-cn alice
  tickertape serve --kafka-addr SASL_SSL://127.0.0.1:9093 --tls-cert certs/server.pem --tls-key certs/server-key.pem`, stderr)
	fs.Var(&hosts, "host", "another DNS name or IP address for the server certificate; repeatable")
	fs.StringVar(&clientCN, "client-cn", "tickertape-client", "common name of the client certificate (its principal is User:CN=<name>,O=tickertape)")
	fs.DurationVar(&valid, "valid", 365*24*time.Hour, "how long the certificates are valid")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return usageError{errors.New("tls needs a subcommand: init DIR")}
	}
	if args[0] != "init" {
		return usageError{fmt.Errorf("unknown tls subcommand %q: use init DIR", args[0])}
	}
	pos, err := parseWithArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("tls init needs one DIR")}
	}
	dir := pos[0]
	if err := certs.WriteDev(dir, clientCN, hosts.vals, valid); err != nil {
		return err
	}
	j := func(f string) string { return filepath.Join(dir, f) }
	fmt.Fprintf(stdout, `wrote a development CA and certificates in %s:
  %-28s the CA: give it to clients (--tls-ca, kcat ssl.ca.location)
  %-28s server certificate and key (--tls-cert, --tls-key)
  %-28s a client certificate and key for mTLS (principal User:CN=%s,O=tickertape)
  %-28s the CA's key: keep it private (delete it if you will not sign more)
next:
  tickertape serve --kafka-addr SASL_SSL://127.0.0.1:9093 --tls-cert %s --tls-key %s
`, dir, certs.Dev.CA, certs.Dev.Cert+", "+certs.Dev.Key, certs.Dev.ClientCert+", "+certs.Dev.ClientKey, clientCN, certs.Dev.CAKey, j(certs.Dev.Cert), j(certs.Dev.Key))
	return nil
}
