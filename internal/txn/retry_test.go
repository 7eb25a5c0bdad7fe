package txn

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Retry calls again after a failure, warns once, and stops with the
// context.
func TestRetry(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	calls := 0
	err := Retry(context.Background(), log, "the committed offsets", func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("coordinator not available")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Retry = %v after %d calls, want nil after 3", err, calls)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "cannot read the committed offsets") {
		t.Fatalf("want one warning naming what failed, logged:\n%s", logs.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	calls = 0
	err = Retry(ctx, log, "x", func(context.Context) error { calls++; return errors.New("down") })
	if !errors.Is(err, context.DeadlineExceeded) || calls < 2 {
		t.Fatalf("Retry under a deadline = %v after %d calls, want the deadline after 2 or more", err, calls)
	}
}
