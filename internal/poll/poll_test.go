package poll

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type recorder struct{ msg string }

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestUntil(t *testing.T) {
	n := 0
	var r recorder
	Until(&r, time.Second, "three calls", func() bool { n++; return n == 3 })
	if r.msg != "" || n != 3 {
		t.Fatalf("succeeded after %d calls with %q", n, r.msg)
	}
	Until(&r, 30*time.Millisecond, "never", func() bool { return false }, func() string { return "n is 3" })
	if !strings.Contains(r.msg, "never") || !strings.Contains(r.msg, "n is 3") {
		t.Fatalf("failure message %q", r.msg)
	}
}

func TestReturns(t *testing.T) {
	var r recorder
	if v := Returns(&r, time.Second, "quick", func() int { return 7 }); v != 7 || r.msg != "" {
		t.Fatalf("got %d with %q", v, r.msg)
	}
	block := make(chan struct{})
	defer close(block)
	Returns(&r, 30*time.Millisecond, "blocked read", func() int { <-block; return 1 })
	if !strings.Contains(r.msg, "blocked read") {
		t.Fatalf("failure message %q", r.msg)
	}
}
