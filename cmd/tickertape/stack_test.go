package main

import (
	"context"
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
