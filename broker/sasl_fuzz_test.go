package broker

import (
	"context"
	"net"
	"testing"

	"github.com/tickertape/tickertape/commitlog"
)

// FuzzSASLExchange feeds arbitrary client tokens to the PLAIN and SCRAM
// servers (the two steps a SCRAM exchange has). Nothing may panic, and no
// token the fuzzer makes may authenticate anyone but a user whose password
// it sent in the clear (PLAIN).
func FuzzSASLExchange(f *testing.F) {
	f.Add(uint8(0), []byte("\x00alice\x00alice-pw"), []byte(nil))
	f.Add(uint8(0), []byte("alice\x00alice\x00wrong"), []byte(nil))
	f.Add(uint8(1), []byte("n,,n=alice,r=abcdef"), []byte("c=biws,r=abcdef,p=AAAA"))
	f.Add(uint8(2), []byte("n,a=bob,n=alice,r=x"), []byte("c=biws,r=x,p="))
	f.Add(uint8(1), []byte("y,,n=al=2Cice,r=1,e=ext"), []byte("garbage"))
	f.Add(uint8(2), []byte("n,,m=ext,n=alice,r=1"), []byte{0xff, 0})
	b, err := New(Config{DataDir: f.TempDir(), Fsync: commitlog.FsyncPolicy{Mode: commitlog.FsyncNever}, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close(context.Background()) })
	if err := b.Users().SetPassword("alice", "alice-pw", 4096); err != nil {
		f.Fatal(err)
	}
	end, other := net.Pipe()
	f.Cleanup(func() { end.Close(); other.Close() })
	c := newConn(b, end, &listenerState{Listener: Listener{Protocol: SASLPlaintext}})
	f.Fuzz(func(t *testing.T, mech uint8, first, second []byte) {
		c.sasl, c.principal = &saslState{mech: saslMechanisms[int(mech)%len(saslMechanisms)]}, anonymous
		if _, err := c.saslStep(first); err == nil && !c.sasl.done {
			c.saslStep(second)
		}
		if c.authenticated() {
			if c.sasl.mech != mechPlain || c.principal != "User:alice" {
				t.Fatalf("%s authenticated %s from fuzzed tokens %q %q", c.sasl.mech, c.principal, first, second)
			}
		}
	})
}

// FuzzACLFile: a damaged acls.json is refused with an error, never a panic,
// and whatever loads is made of valid ACLs.
func FuzzACLFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"acls":[{"resource_type":2,"resource_name":"t","pattern_type":3,"principal":"User:a","host":"*","operation":3,"permission":3}]}`))
	f.Add([]byte(`{"acls":[{"resource_type":4,"resource_name":"kafka-cluster","pattern_type":4}]}`))
	f.Add([]byte(`{"acls":null}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		acls, err := parseACLs(raw)
		if err != nil {
			return
		}
		s := &aclStore{acls: acls}
		for _, a := range s.acls {
			if err := validateACL(a); err != nil {
				t.Fatalf("loaded an invalid ACL %v: %v", a, err)
			}
			s.authorize("User:a", "127.0.0.1", a.Operation, a.ResourceType, a.ResourceName)
		}
	})
}
