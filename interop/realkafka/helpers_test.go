//go:build realkafka

package realkafka

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cluster is the real Kafka cluster under test.
type cluster struct {
	dir, bootstrap string
	nodes          int
}

func realCluster(t *testing.T) cluster {
	t.Helper()
	dir := os.Getenv("TICKERTAPE_KAFKA_DIR")
	if dir == "" {
		t.Skip("TICKERTAPE_KAFKA_DIR is not set: start a cluster with scripts/kafka-cluster start DIR 3")
	}
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatalf("no running cluster in %s: %v", dir, err)
	}
	n, _ := os.ReadFile(filepath.Join(dir, "nodes"))
	c := cluster{dir: dir, bootstrap: strings.TrimSpace(string(b))}
	c.nodes = len(strings.Split(strings.TrimSpace(string(n)), ","))
	if s := strings.TrimSpace(string(n)); s == "3" {
		c.nodes = 3
	}
	return c
}

func (c cluster) brokers() []string { return strings.Split(c.bootstrap, ",") }

// script runs scripts/kafka-cluster.
func script(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("../../scripts/kafka-cluster", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-cluster %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
