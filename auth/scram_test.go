package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// An independent SCRAM client (xdg-go/scram) authenticates against the
// server for both mechanisms and verifies the server's signature; a wrong
// password fails with ErrBadProof.
func TestScramServerAgainstXdgClient(t *testing.T) {
	for _, c := range []struct {
		m  Mechanism
		hg scram.HashGeneratorFcn
	}{{ScramSHA256, scram.SHA256}, {ScramSHA512, scram.SHA512}} {
		cred, err := NewCredential(c.m, "pencil", 4096)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(u string) (Credential, error) {
			if u != "us,er" {
				return Credential{}, ErrNoSuchUser
			}
			return cred, nil
		}
		for _, pass := range []string{"pencil", "pencil!"} {
			cl, _ := c.hg.NewClient("us,er", pass, "")
			conv := cl.NewConversation()
			srv := NewScramServer(c.m, lookup)
			c1, _ := conv.Step("")
			s1, done, err := srv.Step([]byte(c1))
			if err != nil || done {
				t.Fatalf("%s first: %v", c.m, err)
			}
			c2, err := conv.Step(string(s1))
			if err != nil {
				t.Fatal(err)
			}
			s2, done, err := srv.Step([]byte(c2))
			if pass != "pencil" {
				if !errors.Is(err, ErrBadProof) {
					t.Fatalf("%s wrong password: %v", c.m, err)
				}
				continue
			}
			if err != nil || !done || srv.User() != "us,er" {
				t.Fatalf("%s final: %v %v %q", c.m, err, done, srv.User())
			}
			if _, err := conv.Step(string(s2)); err != nil || !conv.Valid() {
				t.Fatalf("%s: the client rejects the server signature: %v", c.m, err)
			}
		}
	}
}

// librdkafka before 2.6.1 repeats its client nonce in client-final; that
// exact form is accepted (as Kafka 3.x does), any other nonce is not.
func TestScramServerLegacyLibrdkafkaNonce(t *testing.T) {
	cred, _ := NewCredential(ScramSHA256, "pw", 4096)
	lookup := func(string) (Credential, error) { return cred, nil }
	run := func(mangle func(cnonce, nonce string) string) error {
		srv := NewScramServer(ScramSHA256, lookup)
		s1, _, err := srv.Step([]byte("n,,n=alice,r=cnonce123"))
		if err != nil {
			return err
		}
		nonce := strings.TrimPrefix(strings.Split(string(s1), ",")[0], "r=")
		wop := "c=biws,r=" + mangle("cnonce123", nonce)
		salted := saltPassword(ScramSHA256, "pw", cred.Salt, 4096)
		clientKey := hmacSum(ScramSHA256.hash(), salted, "Client Key")
		sig := hmacSum(ScramSHA256.hash(), cred.StoredKey, "n=alice,r=cnonce123,"+string(s1)+","+wop)
		proof := make([]byte, len(sig))
		for i := range sig {
			proof[i] = clientKey[i] ^ sig[i]
		}
		_, done, err := srv.Step([]byte(wop + ",p=" + b64(proof)))
		if err == nil && !done {
			return errors.New("not done")
		}
		return err
	}
	if err := run(func(_, n string) string { return n }); err != nil {
		t.Fatalf("RFC form: %v", err)
	}
	if err := run(func(c, n string) string { return c + n }); err != nil {
		t.Fatalf("librdkafka's doubled form: %v", err)
	}
	for _, bad := range []func(c, n string) string{
		func(c, _ string) string { return c },
		func(c, n string) string { return "x" + n },
		func(c, n string) string { return n + c },
	} {
		if err := run(bad); !errors.Is(err, ErrBadNonce) {
			t.Fatalf("bad nonce accepted: %v", err)
		}
	}
}

// FuzzScramServer: arbitrary client messages never panic and never
// authenticate without the password.
func FuzzScramServer(f *testing.F) {
	f.Add([]byte("n,,n=alice,r=abc"), []byte("c=biws,r=abc,p=AAAA"))
	f.Add([]byte(",,,"), []byte(""))
	f.Add([]byte("y,a=alice,n=al=3Dice,r=x,tokenauth=true"), []byte("c=eSxhPWFsaWNlLA==,r=x,e=1,p="))
	f.Add([]byte("p=tls-unique,,n=a,r=b"), []byte(",p="))
	cred, _ := NewCredential(ScramSHA512, "secret", 4096)
	lookup := func(u string) (Credential, error) { return cred, nil }
	f.Fuzz(func(t *testing.T, c1, c2 []byte) {
		srv := NewScramServer(ScramSHA512, lookup)
		if _, _, err := srv.Step(c1); err != nil {
			return
		}
		if _, done, err := srv.Step(c2); err == nil || done {
			t.Fatalf("authenticated from fuzzed messages %q %q", c1, c2)
		}
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
