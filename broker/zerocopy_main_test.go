package broker

import (
	"os"
	"testing"
)

// TestMain sends every fetch region, however small, with sendfile, so the
// whole suite (franz-go clients, the fetch and transaction tests) runs
// through the zero-copy path on plaintext and SASL_PLAINTEXT listeners.
// Tests of the copying threshold set zeroCopyMinBytes themselves.
func TestMain(m *testing.M) {
	zeroCopyMinBytes.Store(0)
	os.Exit(m.Run())
}
