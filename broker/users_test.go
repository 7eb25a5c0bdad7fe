package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/xdg-go/scram"
)

// SCRAM users managed with Kafka's own APIs (as kafka-configs and kadm send
// them) can log in at once, are listed without secrets, survive a restart,
// and are gone once deleted.
func TestSCRAMUsersThroughKafkaAPIs(t *testing.T) {
	sb := startSecureBroker(t)
	ctx := testCtx(t)
	adm := kadm.NewClient(sb.admin())
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "bob-pass-256"},
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "bob-pass-512"},
	})
	if err != nil || res["bob"].Err != nil {
		t.Fatalf("upsert bob: %v %v", err, res["bob"].Err)
	}
	sb.addACL(resTopic, "bob-topic", kmsg.ACLResourcePatternTypeLiteral, "User:bob", kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow)
	login := func(mech, pass string) error {
		cl := sb.client("SASL_SSL", mech, "bob", pass)
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return err
	}
	for _, c := range []struct{ mech, pass string }{{"SCRAM-SHA-256", "bob-pass-256"}, {"SCRAM-SHA-512", "bob-pass-512"}, {"PLAIN", "bob-pass-512"}} {
		if err := login(c.mech, c.pass); err != nil {
			t.Fatalf("bob over %s: %v", c.mech, err)
		}
	}
	if err := login("SCRAM-SHA-256", "bob-pass-512"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("bob's 512 password over SHA-256: %v", err)
	}
	describe := func() map[string]string {
		d, err := adm.DescribeUserSCRAMs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for u, r := range d {
			var parts []string
			for _, ci := range r.CredInfos {
				parts = append(parts, fmt.Sprintf("%s/%d", ci.Mechanism, ci.Iterations))
			}
			out[u] = strings.Join(parts, ",")
		}
		return out
	}
	want := "SCRAM-SHA-256/4096,SCRAM-SHA-512/8192"
	if got := describe()["bob"]; got != want {
		t.Fatalf("bob's credentials: %q, want %q", got, want)
	}
	sb.restart()
	adm = kadm.NewClient(sb.admin()) // the old client's connections died with the broker
	if got := describe()["bob"]; got != want {
		t.Fatalf("after restart, bob's credentials: %q, want %q", got, want)
	}
	if err := login("SCRAM-SHA-512", "bob-pass-512"); err != nil {
		t.Fatalf("bob after restart: %v", err)
	}
	// Kafka's bounds and errors.
	weak := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "weak", 1, 100, []byte("s"), []byte("salted")
	weak.Upsertions = append(weak.Upsertions, up)
	if r, err := weak.RequestWith(ctx, sb.admin()); err != nil || r.Results[0].ErrorCode != kerr.UnacceptableCredential.Code {
		t.Fatalf("100 iterations: %v %+v, want UNACCEPTABLE_CREDENTIAL", err, r)
	}
	res, _ = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "nobody", Mechanism: kadm.ScramSha256}}, nil)
	if !errors.Is(res["nobody"].Err, kerr.ResourceNotFound) {
		t.Fatalf("deleting a missing user: %v, want RESOURCE_NOT_FOUND", res["nobody"].Err)
	}
	res, _ = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha256}, {User: "bob", Mechanism: kadm.ScramSha512}}, nil)
	if res["bob"].Err != nil {
		t.Fatalf("delete bob: %v", res["bob"].Err)
	}
	if err := login("SCRAM-SHA-512", "bob-pass-512"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("bob after deletion: %v", err)
	}
	// A non-super user may not manage users.
	res, err = kadm.NewClient(sb.alice()).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "mallory", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "x"}})
	if !errors.Is(err, kerr.ClusterAuthorizationFailed) { // kadm reports authorization errors as the call's error
		t.Fatalf("alice creating a user: %v %v", err, res)
	}
	if sb.b.Users().Exists("mallory") {
		t.Fatal("alice created a user")
	}
}

// xdgSCRAM adapts xdg-go/scram's client to sarama's SCRAMClient.
type xdgSCRAM struct {
	hg   scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (x *xdgSCRAM) Begin(user, pass, authzID string) error {
	c, err := x.hg.NewClient(user, pass, authzID)
	if err != nil {
		return err
	}
	x.conv = c.NewConversation()
	return nil
}
func (x *xdgSCRAM) Step(challenge string) (string, error) { return x.conv.Step(challenge) }
func (x *xdgSCRAM) Done() bool                            { return x.conv.Done() }

// sarama (a second, independent client) authenticates with SCRAM-SHA-256 and
// -512, and with PLAIN both through SaslAuthenticate (handshake v1) and with
// the raw tokens of a v0 handshake.
func TestSaramaSASL(t *testing.T) {
	sb := startSecureBroker(t)
	cases := []struct {
		name    string
		mech    sarama.SASLMechanism
		version int16
		hg      scram.HashGeneratorFcn
	}{
		{"SCRAM-SHA-256", sarama.SASLTypeSCRAMSHA256, sarama.SASLHandshakeV1, scram.SHA256},
		{"SCRAM-SHA-512", sarama.SASLTypeSCRAMSHA512, sarama.SASLHandshakeV1, scram.SHA512},
		{"PLAIN-v1", sarama.SASLTypePlaintext, sarama.SASLHandshakeV1, nil},
		{"PLAIN-v0", sarama.SASLTypePlaintext, sarama.SASLHandshakeV0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := "sarama-" + strings.ToLower(c.name)
			mk := func(pass string) *sarama.Config {
				cfg := sarama.NewConfig()
				cfg.Producer.Return.Successes = true
				cfg.Producer.RequiredAcks = sarama.WaitForAll
				cfg.Net.SASL.Enable, cfg.Net.SASL.Mechanism, cfg.Net.SASL.Version = true, c.mech, c.version
				cfg.Net.SASL.User, cfg.Net.SASL.Password = adminUser, pass
				cfg.Metadata.Retry.Max = 0
				cfg.ApiVersionsRequest = c.version != sarama.SASLHandshakeV0 // sarama: a v0 handshake goes without ApiVersions
				if c.hg != nil {
					hg := c.hg
					cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAM{hg: hg} }
				}
				return cfg
			}
			prod, err := sarama.NewSyncProducer([]string{sb.addr["SASL_PLAINTEXT"]}, mk(adminPass))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			for i := range 3 {
				if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
					t.Fatalf("produce: %v", err)
				}
			}
			recs := consumeAllFrom(t, sb, topic, 3)
			for i, r := range recs {
				if string(r.Value) != fmt.Sprint(i) {
					t.Fatalf("record %d = %q", i, r.Value)
				}
			}
			if _, err := sarama.NewSyncProducer([]string{sb.addr["SASL_PLAINTEXT"]}, mk("wrong")); err == nil {
				t.Fatal("sarama with a wrong password connected")
			}
		})
	}
}

func consumeAllFrom(t *testing.T, sb *secureBroker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := sb.client("SASL_SSL", "SCRAM-SHA-512", adminUser, adminPass, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}
