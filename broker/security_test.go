package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceConsume writes n records to topic through cl and reads them back
// through a second client from the same constructor, comparing every value.
func produceConsume(t *testing.T, mk func(...kgo.Opt) *kgo.Client, topic string, n int) {
	t.Helper()
	ctx := testCtx(t)
	cl := mk(kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(topic + "-" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
	cons := mk(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(got), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		for _, r := range fs.Records() {
			got = append(got, string(r.Value))
		}
	}
	for i, v := range got {
		if want := topic + "-" + strconv.Itoa(i); v != want {
			t.Fatalf("record %d = %q, want %q", i, v, want)
		}
	}
}

// advertisedTo returns the broker address Metadata gives a client.
func advertisedTo(t *testing.T, cl *kgo.Client) string {
	t.Helper()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(resp.Brokers[0].Host, strconv.Itoa(int(resp.Brokers[0].Port)))
}

// Every listener type and every mechanism carries produce and consume, and
// each client is told its own listener's address.
func TestEveryListenerAndMechanism(t *testing.T) {
	sb := startSecureBroker(t)
	cases := []struct{ listener, mech string }{
		{"SASL_PLAINTEXT", "PLAIN"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-256"},
		{"SASL_PLAINTEXT", "SCRAM-SHA-512"},
		{"SASL_SSL", "PLAIN"},
		{"SASL_SSL", "SCRAM-SHA-256"},
		{"SASL_SSL", "SCRAM-SHA-512"},
	}
	for i, c := range cases {
		t.Run(c.listener+"/"+c.mech, func(t *testing.T) {
			mk := func(o ...kgo.Opt) *kgo.Client { return sb.client(c.listener, c.mech, adminUser, adminPass, o...) }
			produceConsume(t, mk, fmt.Sprintf("every-%d", i), 3)
			if got := advertisedTo(t, mk()); got != sb.addr[c.listener] {
				t.Fatalf("metadata advertises %s to a %s client, want %s", got, c.listener, sb.addr[c.listener])
			}
		})
	}
	// With the authorizer on, PLAINTEXT and SSL clients are User:ANONYMOUS and
	// need ACLs of their own.
	sb.addACL(resTopic, "anon-", kmsg.ACLResourcePatternTypePrefixed, anonymous, kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow)
	sb.addACL(resGroup, "*", kmsg.ACLResourcePatternTypeLiteral, anonymous, opRead, kmsg.ACLPermissionTypeAllow)
	sb.addACL(resCluster, clusterName, kmsg.ACLResourcePatternTypeLiteral, anonymous, opIdempotentWrite, kmsg.ACLPermissionTypeAllow)
	for _, l := range []string{"PLAINTEXT", "SSL"} {
		t.Run(l, func(t *testing.T) {
			mk := func(o ...kgo.Opt) *kgo.Client { return sb.client(l, "", "", "", o...) }
			produceConsume(t, mk, "anon-"+l, 3)
			if got := advertisedTo(t, mk()); got != sb.addr[l] {
				t.Fatalf("metadata advertises %s to a %s client, want %s", got, l, sb.addr[l])
			}
		})
	}
}

// Without an authenticated listener nothing changes: an SSL listener serves
// every client, with no ACLs, and advertises its own address.
func TestSSLWithoutAuthorizer(t *testing.T) {
	sb := startSecureBroker(t) // only for its certificates
	b, err := New(Config{DataDir: t.TempDir(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	srv := sb.serverTLS()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go b.ServeListener(ln, Listener{Protocol: SSL, TLS: srv, AdvertisedHost: "localhost"})
	mk := func(o ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ln.Addr().String()), kgo.DialTLSConfig(sb.clientTLS(false))}, o...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	produceConsume(t, mk, "ssl-open", 3)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if got := advertisedTo(t, mk()); got != "localhost:"+port {
		t.Fatalf("advertised %s, want localhost:%s (the listener's advertised host)", got, port)
	}
}

// A client certificate's subject is the principal, spelled as Kafka does.
func TestMTLSPrincipal(t *testing.T) {
	sb := startSecureBroker(t)
	sb.addACL(resTopic, "mtls", kmsg.ACLResourcePatternTypeLiteral, clientPrincipal, kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow)
	sb.addACL(resGroup, "*", kmsg.ACLResourcePatternTypeLiteral, clientPrincipal, opRead, kmsg.ACLPermissionTypeAllow)
	sb.addACL(resCluster, clusterName, kmsg.ACLResourcePatternTypeLiteral, clientPrincipal, opIdempotentWrite, kmsg.ACLPermissionTypeAllow)
	mk := func(o ...kgo.Opt) *kgo.Client { return sb.client("MTLS", "", "", "", o...) }
	produceConsume(t, mk, "mtls", 2)
	// The same principal may not write elsewhere.
	err := mk(kgo.DefaultProduceTopic("not-mtls")).ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce outside the ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// Without a certificate the handshake fails.
	conn, err := tls.Dial("tcp", sb.addr["MTLS"], sb.clientTLS(false))
	if err == nil {
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1)) // TLS 1.3 reports the missing certificate on the first read
		conn.Close()
	}
	if err == nil {
		t.Fatal("a client without a certificate was served on the mTLS listener")
	}
}

// The wrong password, an unknown user, an unknown mechanism, garbage during
// the exchange, a wrong nonce and requests before authentication are each
// refused for that connection only, and the log names the user and address
// but never the password.
func TestSASLBadInput(t *testing.T) {
	sb := startSecureBroker(t)
	good := sb.admin()
	ctx := testCtx(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		cl := sb.client("SASL_PLAINTEXT", mech, aliceUser, "wrong-password-xyz")
		_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("%s with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", mech, err)
		}
		cl = sb.client("SASL_SSL", mech, "nobody", "whatever-pass")
		if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("%s with an unknown user: %v, want SASL_AUTHENTICATION_FAILED", mech, err)
		}
	}
	logs := sb.logs.String()
	if !strings.Contains(logs, "failed SASL authentication") || !strings.Contains(logs, "principal=User:alice") || !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Fatalf("no log line naming the principal and address:\n%s", logs)
	}
	if strings.Contains(logs, "wrong-password-xyz") || strings.Contains(logs, "whatever-pass") {
		t.Fatalf("a password reached the log:\n%s", logs)
	}

	raw := func(listener string) net.Conn {
		c, err := net.Dial("tcp", sb.addr[listener])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		t.Cleanup(func() { c.Close() })
		return c
	}
	// A request before authentication closes the connection unanswered.
	c := raw("SASL_PLAINTEXT")
	writeReq(t, c, 1, kmsg.NewPtrMetadataRequest())
	expectClosed(t, c, "metadata before authentication")

	// An unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the list, then closed.
	c = raw("SASL_PLAINTEXT")
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "GSSAPI"
	writeReq(t, c, 2, hs)
	var hsResp kmsg.SASLHandshakeResponse
	hsResp.Version = 1
	readResp(t, c, &hsResp)
	if hsResp.ErrorCode != kerr.UnsupportedSaslMechanism.Code || strings.Join(hsResp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Fatalf("GSSAPI handshake: code %d, mechanisms %v", hsResp.ErrorCode, hsResp.SupportedMechanisms)
	}
	expectClosed(t, c, "unknown mechanism")

	// Garbage, a wrong nonce and a wrong proof in SCRAM: SASL_AUTHENTICATION_FAILED, closed.
	scramStart := func() net.Conn {
		c := raw("SASL_PLAINTEXT")
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, "SCRAM-SHA-256"
		writeReq(t, c, 3, hs)
		var r kmsg.SASLHandshakeResponse
		r.Version = 1
		readResp(t, c, &r)
		if r.ErrorCode != 0 {
			t.Fatalf("handshake: %d", r.ErrorCode)
		}
		return c
	}
	authStep := func(c net.Conn, token string) *kmsg.SASLAuthenticateResponse {
		a := kmsg.NewPtrSASLAuthenticateRequest()
		a.Version, a.SASLAuthBytes = 1, []byte(token)
		writeReq(t, c, 4, a)
		var r kmsg.SASLAuthenticateResponse
		r.Version = 1
		readResp(t, c, &r)
		return &r
	}
	c = scramStart()
	if r := authStep(c, "\x00\xffgarbage,,,"); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("garbage client-first: code %d", r.ErrorCode)
	}
	expectClosed(t, c, "garbage SCRAM")

	for _, final := range []func(serverFirst string) string{
		func(string) string { return "c=biws,r=not-the-nonce,p=AAAA" },
		func(sf string) string {
			nonce := strings.TrimPrefix(strings.Split(sf, ",")[0], "r=")
			return "c=biws,r=" + nonce + ",p=" + "dGhpcyBpcyBub3QgdGhlIHByb29mIGF0IGFsbCEhISE="
		},
	} {
		c = scramStart()
		r := authStep(c, "n,,n=alice,r=clientnonce123")
		if r.ErrorCode != 0 || !strings.HasPrefix(string(r.SASLAuthBytes), "r=clientnonce123") {
			t.Fatalf("client-first: code %d, %q", r.ErrorCode, r.SASLAuthBytes)
		}
		if r := authStep(c, final(string(r.SASLAuthBytes))); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("bad client-final: code %d", r.ErrorCode)
		}
		expectClosed(t, c, "bad SCRAM final")
	}

	// Plaintext on a TLS port and TLS on a plaintext port: closed.
	c = raw("SASL_SSL")
	writeReq(t, c, 5, kmsg.NewPtrApiVersionsRequest())
	expectClosed(t, c, "plaintext request on a TLS listener")
	tc, err := tls.Dial("tcp", sb.addr["SASL_PLAINTEXT"], sb.clientTLS(false))
	if err == nil {
		tc.Close()
		t.Fatal("a TLS handshake succeeded on a plaintext listener")
	}

	// A flood of wrong passwords: each attempt fails and is counted, and the
	// good client's connection goes on.
	before := testutil.ToFloat64(sb.b.metrics.authFailures)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			cl, err := kgo.NewClient(kgo.SeedBrokers(sb.addr["SASL_PLAINTEXT"]), kgo.SASL(saslMech("SCRAM-SHA-512", aliceUser, "guess")), kgo.RequestRetries(0))
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("flooding client: %v", err)
		}
	}
	if got := testutil.ToFloat64(sb.b.metrics.authFailures) - before; got != 20 {
		t.Fatalf("counted %v failures, want 20", got)
	}
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, good); err != nil {
		t.Fatalf("the good client after the flood: %v", err)
	}
}

func writeReq(t *testing.T, c net.Conn, corr int32, req kmsg.Request) {
	t.Helper()
	var body []byte
	body = append(body, 0, 0, 0, 0)
	body = kbinAppendHeader(body, req.Key(), req.GetVersion(), corr, "sec-test", req.IsFlexible())
	body = req.AppendTo(body)
	size := len(body) - 4
	body[0], body[1], body[2], body[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
}

func kbinAppendHeader(dst []byte, key, version int16, corr int32, clientID string, flexible bool) []byte {
	dst = append(dst, byte(key>>8), byte(key), byte(version>>8), byte(version))
	dst = append(dst, byte(corr>>24), byte(corr>>16), byte(corr>>8), byte(corr))
	dst = append(dst, byte(len(clientID)>>8), byte(len(clientID)))
	dst = append(dst, clientID...)
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

func readResp(t *testing.T, c net.Conn, resp kmsg.Response) {
	t.Helper()
	var size [4]byte
	if _, err := readFull(c, size[:]); err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	n := int(size[0])<<24 | int(size[1])<<16 | int(size[2])<<8 | int(size[3])
	body := make([]byte, n)
	if _, err := readFull(c, body); err != nil {
		t.Fatal(err)
	}
	body = body[4:] // correlation id
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		body = body[1:] // empty tag buffer
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding %T: %v", resp, err)
	}
}

func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue // a TLS alert or the like: keep reading until the close
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: the connection stayed open", what)
		}
		return
	}
}
