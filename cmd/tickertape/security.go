package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/internal/certs"
)

// clientSecurity are the flags every client command shares for reaching a
// secured broker and registry.
type clientSecurity struct {
	tlsCA, tlsCert, tlsKey      string
	tlsOn                       bool
	saslMech, saslUser, saslPwd string
	registryUser, registryPwd   string
}

// register adds every flag: TLS, SASL and the registry's basic auth.
func (s *clientSecurity) register(fs *flag.FlagSet) {
	s.registerKafka(fs)
	s.registerRegistry(fs)
}

// registerKafka adds the TLS and SASL flags.
func (s *clientSecurity) registerKafka(fs *flag.FlagSet) {
	s.registerTLS(fs)
	fs.StringVar(&s.saslMech, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default SCRAM-SHA-512 when --sasl-user is set)")
	fs.StringVar(&s.saslUser, "sasl-user", "", "SASL user name")
	fs.StringVar(&s.saslPwd, "sasl-password", "", "SASL password; better set TICKERTAPE_SASL_PASSWORD than put it on the command line")
}

// registerRegistry adds the registry's basic-auth flags.
func (s *clientSecurity) registerRegistry(fs *flag.FlagSet) {
	fs.StringVar(&s.registryUser, "registry-user", "", "HTTP basic auth user of the schema registry (password from TICKERTAPE_REGISTRY_PASSWORD)")
	fs.StringVar(&s.registryPwd, "registry-password", "", "registry password; better set TICKERTAPE_REGISTRY_PASSWORD")
}

func (s *clientSecurity) registerTLS(fs *flag.FlagSet) {
	fs.StringVar(&s.tlsCA, "tls-ca", "", "PEM CA file to trust for the brokers' and the registry's TLS certificates (turns TLS on; the system roots when --tls is given alone)")
	fs.BoolVar(&s.tlsOn, "tls", false, "connect to the brokers over TLS (implied by --tls-ca and --tls-client-cert)")
	fs.StringVar(&s.tlsCert, "tls-client-cert", "", "PEM client certificate for mTLS (with --tls-client-key)")
	fs.StringVar(&s.tlsKey, "tls-client-key", "", "PEM key of --tls-client-cert")
}

func (s *clientSecurity) tlsConfigured() bool { return s.tlsOn || s.tlsCA != "" || s.tlsCert != "" }

// kafkaTLSOpts are the franz-go options for TLS alone.
func (s *clientSecurity) kafkaTLSOpts() ([]kgo.Opt, error) {
	if !s.tlsConfigured() {
		return nil, nil
	}
	c, err := certs.ClientConfig(s.tlsCA, s.tlsCert, s.tlsKey)
	if err != nil {
		return nil, usageError{fmt.Errorf("--tls-ca / --tls-client-cert: %v", err)}
	}
	return []kgo.Opt{kgo.DialTLSConfig(c)}, nil
}

// kafkaOpts are the franz-go options for TLS and SASL.
func (s *clientSecurity) kafkaOpts() ([]kgo.Opt, error) {
	opts, err := s.kafkaTLSOpts()
	if err != nil {
		return nil, err
	}
	if s.saslUser == "" {
		if s.saslMech != "" || s.saslPwd != "" {
			return nil, usageError{errors.New("--sasl-mechanism and --sasl-password need --sasl-user")}
		}
		return opts, nil
	}
	if s.saslPwd == "" {
		return nil, usageError{errors.New("--sasl-user needs a password: set TICKERTAPE_SASL_PASSWORD (or --sasl-password)")}
	}
	switch strings.ToUpper(s.saslMech) {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.saslUser, Pass: s.saslPwd}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.saslUser, Pass: s.saslPwd}.AsSha256Mechanism()))
	case "SCRAM-SHA-512", "":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.saslUser, Pass: s.saslPwd}.AsSha512Mechanism()))
	default:
		return nil, usageError{fmt.Errorf("--sasl-mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.saslMech)}
	}
	return opts, nil
}

// registryOpts are the sr options for the registry at url (TLS trust and basic auth).
func (s *clientSecurity) registryOpts(url string) ([]sr.ClientOpt, error) {
	opts := []sr.ClientOpt{sr.URLs(url)}
	if s.tlsCA != "" || s.tlsCert != "" {
		c, err := certs.ClientConfig(s.tlsCA, s.tlsCert, s.tlsKey)
		if err != nil {
			return nil, usageError{fmt.Errorf("--tls-ca: %v", err)}
		}
		opts = append(opts, sr.HTTPClient(&http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: c, Proxy: http.ProxyFromEnvironment}}))
	}
	if s.registryUser != "" {
		if s.registryPwd == "" {
			return nil, usageError{errors.New("--registry-user needs a password: set TICKERTAPE_REGISTRY_PASSWORD (or --registry-password)")}
		}
		opts = append(opts, sr.BasicAuth(s.registryUser, s.registryPwd))
	}
	return opts, nil
}
