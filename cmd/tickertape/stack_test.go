package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

// startStack starts the embedded broker on a free loopback port, with the
// schema registry too if withRegistry, on a temporary data directory; the
// test's cleanup closes it.
func startStack(t *testing.T, withRegistry bool) *app.Stack {
	t.Helper()
	cfg := app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}}
	if withRegistry {
		cfg.RegistryAddr = "127.0.0.1:0"
	}
	s, err := app.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestDataDirInUseNamesTheFlag: the broker's refusal of a data directory
// another broker holds names no flag; tickertape adds the one that moves it.
func TestDataDirInUseNamesTheFlag(t *testing.T) {
	dir := t.TempDir()
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--kafka-addr", "127.0.0.1:0", "--registry-addr", "", "--http-addr", "", "--data-dir", dir}, &out, &errb)
	if msg := errb.String(); code != 1 || !strings.Contains(msg, "is locked by process") || !strings.HasSuffix(strings.TrimSpace(msg), "use another data directory (--data-dir)") {
		t.Fatalf("second serve on a data dir in use: exit %d, %q", code, msg)
	}
}
