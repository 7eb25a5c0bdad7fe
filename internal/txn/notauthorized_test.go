package txn

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A refused transactional id names the prefixed ACL that fixes it and keeps
// the broker's error; other BeginTransaction errors are wrapped as they are.
func TestBeginErrorNotAuthorized(t *testing.T) {
	cause := fmt.Errorf("producer ID has a fatal error: %w", kerr.TransactionalIDAuthorizationFailed)
	err := BeginError("tickertape-candles-6383b45ddcd2", cause)
	if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || !strings.Contains(err.Error(), "--transactional-id tickertape-candles- --pattern prefixed") {
		t.Fatalf("got %v", err)
	}
	if err := BeginError("plain", cause); !strings.Contains(err.Error(), "--transactional-id plain --pattern prefixed") {
		t.Fatalf("an id without '-': %v", err)
	}
	other := errors.New("boom")
	if err := BeginError("x-1", other); !errors.Is(err, other) || err.Error() != "begin transaction: boom" {
		t.Fatalf("another error: %v", err)
	}
}
