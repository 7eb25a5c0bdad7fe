package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// reachTimeout bounds how long a client command waits to hear from the
// brokers or the registry before it says it cannot reach them.
const reachTimeout = 5 * time.Second

// unreachableError says which address could not be reached and what to do.
type unreachableError struct {
	what, addr, flag string
	err              error
}

func (e *unreachableError) Error() string {
	hint := "is tickertape serve running?"
	if strings.Contains(e.err.Error(), "SASL_AUTHENTICATION_FAILED") {
		hint = "check --sasl-user, --sasl-mechanism and TICKERTAPE_SASL_PASSWORD;"
	} else if strings.Contains(e.err.Error(), "certificate") {
		hint = "check --tls-ca (the CA that signed the broker's certificate);"
	}
	if e.what == "the schema registry" {
		hint = "is tickertape serve (or another Confluent-compatible registry) running there?"
	}
	return fmt.Sprintf("cannot reach %s at %s within %s: %v (%s set %s)", e.what, e.addr, reachTimeout, e.err, hint, e.flag)
}

func (e *unreachableError) Unwrap() error { return e.err }

// reachBrokers returns nil once one of the brokers answered ApiVersions, or an
// unreachableError naming them within reachTimeout.
func reachBrokers(ctx context.Context, brokers []string, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(reachTimeout)}, opts...)...)
	if err != nil {
		return fmt.Errorf("--brokers %q: %w", strings.Join(brokers, ","), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("no answer")
		}
		return &unreachableError{"Kafka", strings.Join(brokers, ","), "--brokers", err}
	}
	return nil
}

// reachRegistry returns nil once the registry answered, or an unreachableError.
func reachRegistry(ctx context.Context, registryURL string, opts ...sr.ClientOpt) error {
	cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(registryURL), sr.HTTPClient(&http.Client{Timeout: reachTimeout})}, opts...)...)
	if err != nil {
		return usageError{fmt.Errorf("--registry %q: %v", registryURL, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	if _, err := cl.SupportedTypes(ctx); err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) {
			return nil // it answered (an error status still comes from a server)
		}
		return &unreachableError{"the schema registry", registryURL, "--registry", shortNetError(err)}
	}
	return nil
}

// isUnreachable reports whether err is a failure to connect (rather than an
// answer): a refused or timed-out dial, or a failed HTTP round trip.
func isUnreachable(err error) bool {
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout())
}

// shortNetError drops the URL from an HTTP client error (the message names it
// already).
func shortNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
