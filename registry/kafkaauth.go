package registry

// KafkaPasswords verifies a registry user by authenticating to the Kafka
// cluster with that user's name and password over SASL, so a standalone
// registry accepts exactly the users the brokers accept (tickertape's SCRAM
// users, or Apache Kafka's) without a users file of its own. The password
// lives only for the length of one SASL exchange; the registry's cache keeps
// a keyed hash of a verified credential, never the password.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// PasswordVerifier is a PasswordChecker that can fail for another reason
// than a wrong password (brokers unreachable, a misconfigured mechanism): ok
// is meaningful only when err is nil.
type PasswordVerifier interface {
	CheckPassword(ctx context.Context, user, password string) (ok bool, err error)
}

// KafkaPasswords checks passwords against the brokers' SASL.
type KafkaPasswords struct {
	Brokers []string
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: SCRAM-SHA-512).
	Mechanism string
	// Opts are extra franz-go options for the check's connection, such as
	// kgo.DialTLSConfig; they must not set SASL.
	Opts []kgo.Opt
	// Timeout bounds one check (default 10 s).
	Timeout time.Duration
}

// ErrUnknownMechanism is returned by NewKafkaPasswords for a mechanism it cannot use.
var ErrUnknownMechanism = errors.New("unknown SASL mechanism: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")

func (k *KafkaPasswords) mechanism(user, pass string) (sasl.Mechanism, error) {
	switch strings.ToUpper(k.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512", "":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%w (got %q)", ErrUnknownMechanism, k.Mechanism)
}

// VerifyPassword is CheckPassword that treats every failure as a wrong password.
func (k *KafkaPasswords) VerifyPassword(user, password string) bool {
	ok, err := k.CheckPassword(context.Background(), user, password)
	return ok && err == nil
}

// CheckPassword opens one connection with the user's credentials and sends
// a Metadata request for no topics, which any authenticated principal may
// make. SASL_AUTHENTICATION_FAILED is a wrong password (false, nil); any
// other failure is an error.
func (k *KafkaPasswords) CheckPassword(ctx context.Context, user, password string) (bool, error) {
	if user == "" || password == "" {
		return false, nil
	}
	mech, err := k.mechanism(user, password)
	if err != nil {
		return false, err
	}
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID("tickertape-registry-auth"),
		kgo.SASL(mech),
		kgo.RetryTimeout(timeout),
		kgo.RequestRetries(2),
	}, k.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	_, err = cl.Request(ctx, req)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return false, nil
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return false, fmt.Errorf("the brokers refuse SASL %s: %w (set --sasl-mechanism to one the brokers enable)", strings.ToUpper(k.Mechanism), err)
	}
	return false, fmt.Errorf("checking the credential with the brokers %s: %w", strings.Join(k.Brokers, ","), err)
}
