package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A second broker on a data directory in use refuses to start, names the
// holder, and touches nothing: what the first acknowledged is still there.
func TestSecondBrokerOnOneDataDirRefuses(t *testing.T) {
	tb := startBroker(t)
	ctx := testCtx(t)
	cl := tb.client(kgo.DefaultProduceTopic("kept"), kgo.AllowAutoTopicCreation())
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := tb.cfg
	cfg.Logger = discardLogger()
	second, err := New(cfg)
	if err == nil {
		second.Close(ctx)
		t.Fatal("a second broker started on a data directory in use")
	}
	want := fmt.Sprintf("process %d", os.Getpid())
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("second broker: %v (want ErrDataDirInUse naming %q and what to do)", err, want)
	}
	if b, err := os.ReadFile(filepath.Join(cfg.DataDir, LockFileName)); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want our pid", b, err)
	}
	if got := consumeAll(t, tb, "kept", 20); len(got) != 20 || string(got[19].Value) != "19" {
		t.Fatalf("after the refused start: %d records", len(got))
	}
	// Once the first is closed, the directory opens again, with its data.
	tb.restart()
	if got := consumeAll(t, tb, "kept", 20); len(got) != 20 {
		t.Fatalf("after restart: %d records", len(got))
	}
	tb.stop()
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("start after close: %v", err)
	}
	b.Close(context.Background())
}
