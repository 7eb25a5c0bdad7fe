package broker

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/certs"
)

// The users every secure test broker has. admin is a super user.
const (
	adminUser, adminPass = "admin", "admin-secret-1"
	aliceUser, alicePass = "alice", "alice-secret-2"
	// clientCN is the CN of the development client certificate.
	clientCN = "alice-cert"
	// clientPrincipal is how Kafka spells that certificate's subject.
	clientPrincipal = "User:CN=alice-cert,O=tickertape"
)

// secureBroker is one broker serving every listener type on loopback ports:
// PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL and an SSL listener requiring
// client certificates ("MTLS").
type secureBroker struct {
	t       testing.TB
	b       *Broker
	cfg     Config
	addr    map[string]string
	certDir string
	logs    *syncBuffer
}

func startSecureBroker(t testing.TB, mod ...func(*Config)) *secureBroker {
	t.Helper()
	sb := &secureBroker{t: t, certDir: t.TempDir(), logs: &syncBuffer{}}
	if err := certs.WriteDev(sb.certDir, clientCN, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	sb.cfg = Config{
		DataDir: t.TempDir(), Fsync: commitlog.FsyncPolicy{Mode: commitlog.FsyncNever},
		SuperUsers: []string{adminUser}, AuthFailureDelay: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(sb.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mod {
		m(&sb.cfg)
	}
	sb.start()
	if err := sb.b.Users().SetPassword(adminUser, adminPass, 4096); err != nil {
		t.Fatal(err)
	}
	if err := sb.b.Users().SetPassword(aliceUser, alicePass, 4096); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.stop)
	return sb
}

func (sb *secureBroker) start() {
	t := sb.t
	b, err := New(sb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := certs.NewReloader(filepath.Join(sb.certDir, certs.Dev.Cert), filepath.Join(sb.certDir, certs.Dev.Key))
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, _ := rl.ServerConfig("")
	mTLS, err := rl.ServerConfig(filepath.Join(sb.certDir, certs.Dev.CA))
	if err != nil {
		t.Fatal(err)
	}
	listeners := map[string]Listener{
		"PLAINTEXT":      {Protocol: Plaintext},
		"SSL":            {Protocol: SSL, TLS: srvTLS},
		"SASL_PLAINTEXT": {Protocol: SASLPlaintext},
		"SASL_SSL":       {Protocol: SASLSSL, TLS: srvTLS},
		"MTLS":           {Protocol: SSL, TLS: mTLS},
	}
	old := sb.addr
	sb.addr = map[string]string{}
	for name, l := range listeners {
		addr := "127.0.0.1:0"
		if old != nil {
			addr = old[name]
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		sb.addr[name] = ln.Addr().String()
		go b.ServeListener(ln, l)
	}
	sb.b = b
}

func (sb *secureBroker) stop() {
	if sb.b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb.b.Close(ctx)
	sb.b = nil
}

func (sb *secureBroker) restart() {
	sb.stop()
	sb.start()
}

// clientTLS trusts the development CA; withCert adds the client certificate.
func (sb *secureBroker) clientTLS(withCert bool) *tls.Config {
	cert, key := "", ""
	if withCert {
		cert, key = filepath.Join(sb.certDir, certs.Dev.ClientCert), filepath.Join(sb.certDir, certs.Dev.ClientKey)
	}
	c, err := certs.ClientConfig(filepath.Join(sb.certDir, certs.Dev.CA), cert, key)
	if err != nil {
		sb.t.Fatal(err)
	}
	c.ServerName = "localhost"
	return c
}

func saslMech(mech, user, pass string) sasl.Mechanism {
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	}
	return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
}

// client connects to one listener; for SASL listeners it authenticates as
// user with mech.
func (sb *secureBroker) client(listener, mech, user, pass string, opts ...kgo.Opt) *kgo.Client {
	sb.t.Helper()
	o := []kgo.Opt{kgo.SeedBrokers(sb.addr[listener]), kgo.RequestRetries(0), kgo.RetryTimeout(2 * time.Second)}
	switch listener {
	case "SSL", "SASL_SSL":
		o = append(o, kgo.DialTLSConfig(sb.clientTLS(false)))
	case "MTLS":
		o = append(o, kgo.DialTLSConfig(sb.clientTLS(true)))
	}
	if listener == "SASL_PLAINTEXT" || listener == "SASL_SSL" {
		o = append(o, kgo.SASL(saslMech(mech, user, pass)))
	}
	cl, err := kgo.NewClient(append(o, opts...)...)
	if err != nil {
		sb.t.Fatal(err)
	}
	sb.t.Cleanup(cl.Close)
	return cl
}

// admin is a super-user client (SCRAM-SHA-512 on SASL_PLAINTEXT).
func (sb *secureBroker) admin() *kgo.Client {
	return sb.client("SASL_PLAINTEXT", "SCRAM-SHA-512", adminUser, adminPass)
}

// alice is a client as the user alice, who has only the ACLs a test gives her.
func (sb *secureBroker) alice() *kgo.Client {
	return sb.client("SASL_PLAINTEXT", "SCRAM-SHA-256", aliceUser, alicePass)
}

// addACL creates one ACL through CreateAcls as the admin.
func (sb *secureBroker) addACL(rt kmsg.ACLResourceType, name string, pt kmsg.ACLResourcePatternType, principal string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) {
	sb.t.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	cr := kmsg.NewCreateACLsRequestCreation()
	cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = rt, name, pt
	cr.Principal, cr.Host, cr.Operation, cr.PermissionType = principal, "*", op, perm
	req.Creations = append(req.Creations, cr)
	resp, err := req.RequestWith(sb.ctx(), sb.admin())
	if err != nil {
		sb.t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Results[0].ErrorCode); err != nil {
		sb.t.Fatalf("create ACL %s %s: %v", name, op, err)
	}
}

func (sb *secureBroker) createTopic(name string, partitions int32) {
	sb.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(sb.ctx(), sb.admin())
	if err != nil {
		sb.t.Fatal(err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 && code != errTopicAlreadyExists {
		sb.t.Fatalf("create topic %s: %v", name, kerr.ErrorForCode(code))
	}
}

func (sb *secureBroker) serverTLS() *tls.Config {
	rl, err := certs.NewReloader(filepath.Join(sb.certDir, certs.Dev.Cert), filepath.Join(sb.certDir, certs.Dev.Key))
	if err != nil {
		sb.t.Fatal(err)
	}
	c, _ := rl.ServerConfig("")
	return c
}

func (sb *secureBroker) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	sb.t.Cleanup(cancel)
	return ctx
}

// benchClient is a client for benchmarks: as admin on SASL listeners, with
// TLS where the listener has it, 10 ms linger.
func (sb *secureBroker) benchClient(listener string) *kgo.Client {
	return sb.client(listener, "SCRAM-SHA-512", adminUser, adminPass, kgo.DefaultProduceTopic("bench"), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(10*time.Millisecond), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RequestRetries(3), kgo.RetryTimeout(30*time.Second))
}
