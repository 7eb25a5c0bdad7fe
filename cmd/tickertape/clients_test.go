package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

// runWithStdin runs the CLI with stdin from text and a deadline: a command
// that hangs fails the test instead of the run.
func runWithStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(f, []byte(stdin), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old; in.Close() }()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(args, &out, &errb) }()
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("tickertape %v still running after 30 s: it must fail fast", args)
	}
	return code, out.String(), errb.String()
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Every client command says it cannot reach the brokers or the registry,
// naming the address, and exits 1 (item 2 of issue 14: consume used to hang).
func TestClientCommandsFailFastWhenUnreachable(t *testing.T) {
	dead := deadAddr(t)
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	live := s.KafkaAddr()
	schema := filepath.Join(t.TempDir(), "p.avsc")
	os.WriteFile(schema, []byte(`{"type":"record","name":"P","fields":[{"name":"a","type":"long"}]}`), 0o644)
	cases := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"consume", "-t", "x", "--brokers", dead}, "", "cannot reach Kafka at " + dead},
		{[]string{"consume", "-t", "x", "--brokers", dead, "--timeout", "2s"}, "", "cannot reach Kafka at " + dead},
		{[]string{"consume", "-t", "x", "--brokers", live, "--registry", "http://" + dead}, "", "cannot reach the schema registry at http://" + dead},
		{[]string{"produce", "-t", "x", "--schema", schema, "--brokers", dead, "--registry", "http://" + dead}, "", "cannot reach Kafka at " + dead},
		{[]string{"produce", "-t", "x", "--schema", schema, "--brokers", live, "--registry", "http://" + dead}, `{"a":1}`, "cannot reach the schema registry at http://" + dead},
		{[]string{"topics", "list", "--brokers", dead}, "", "cannot reach Kafka at " + dead},
		{[]string{"groups", "describe", "--brokers", dead}, "", "cannot reach Kafka at " + dead},
		{[]string{"schema", "subjects", "--registry", "http://" + dead}, "", "cannot reach the schema registry at http://" + dead},
		{[]string{"process", "--brokers", dead, "--registry", "http://" + dead, "--status", "off"}, "", "cannot reach Kafka at " + dead},
		{[]string{"ingest", "--fake", "--brokers", live, "--registry", "http://" + dead, "--status", "off"}, "", "cannot reach the schema registry"},
	}
	for _, c := range cases {
		code, out, errs := runWithStdin(t, c.stdin, c.args...)
		if code != 1 || !strings.Contains(errs, c.want) || strings.Contains(out, "running;") {
			t.Errorf("tickertape %v: exit %d, stdout %q, stderr %q; want exit 1 saying %q", c.args, code, out, errs, c.want)
		}
	}
}

// produce: unknown fields are refused (or dropped with --ignore-unknown); a
// bad line says how many records before it were written; consume --raw needs
// no registry; --print-key and --print-type add the key and the Avro type;
// --topic works as -t.
func TestProduceAndConsumeEdges(t *testing.T) {
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	b, r := "--brokers="+s.KafkaAddr(), "--registry="+s.RegistryURL()
	schema := filepath.Join(t.TempDir(), "p.avsc")
	os.WriteFile(schema, []byte(`{"type":"record","name":"P","namespace":"t","fields":[{"name":"sym","type":"string"},{"name":"n","type":"long"},
		{"name":"inner","type":["null",{"type":"record","name":"I","fields":[{"name":"x","type":"long"}]}],"default":null}]}`), 0o644)

	code, _, errs := runWithStdin(t, `{"sym":"A","n":1,"colour":"red"}`+"\n", "produce", "-t", "edges", "--schema", schema, b, r)
	if code != 1 || !strings.Contains(errs, "line 1: field colour is not in the schema t.P") || !strings.Contains(errs, "--ignore-unknown") || !strings.Contains(errs, "nothing was written") {
		t.Fatalf("unknown field: exit %d, %q", code, errs)
	}
	code, _, errs = runWithStdin(t, `{"sym":"A","n":1,"inner":{"x":1,"y":2}}`+"\n", "produce", "-t", "edges", "--schema", schema, b, r)
	if code != 1 || !strings.Contains(errs, "field inner.y is not in the schema t.I") {
		t.Fatalf("unknown nested field: exit %d, %q", code, errs)
	}
	code, out, errs := runWithStdin(t, `{"sym":"A","n":1,"colour":"red"}`+"\n"+`{"sym":"B","n":2}`+"\n"+`{"sym":"C","n":"three"}`+"\n"+`{"sym":"D","n":4}`+"\n",
		"produce", "--topic", "edges", "--schema", schema, "--key-field", "sym", "--ignore-unknown", b, r)
	if code != 1 || !strings.Contains(errs, "line 3: field n: want an integer; the 2 records before it were written to edges, this line and the ones after it were not") {
		t.Fatalf("bad line 3: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	code, out, errs = runWithStdin(t, "", "consume", "--topic", "edges", "--from-beginning", "--max", "2", "--print-key", "--print-type", b, r)
	if code != 0 {
		t.Fatalf("consume: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("consume printed %q", out)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["_key"] != "A" || first["_type"] != "t.P" || first["sym"] != "A" || first["n"] != float64(1) || first["colour"] != nil {
		t.Fatalf("first record: %v", first)
	}

	// --raw needs no registry.
	code, out, errs = runWithStdin(t, "", "consume", "-t", "edges", "--from-beginning", "--max", "2", "--raw", "--print-key", b, "--registry=http://"+deadAddr(t))
	if code != 0 || strings.Count(out, `"_raw`) != 2 || !strings.Contains(out, `"_key":"B"`) {
		t.Fatalf("consume --raw without a registry: exit %d, %q, %q", code, out, errs)
	}

	// Empty input with unreachable brokers registers nothing and fails.
	code, _, _ = runWithStdin(t, "", "produce", "-t", "other", "--schema", schema, "--brokers="+deadAddr(t), r)
	srcl, _ := sr.NewClient(sr.URLs(s.RegistryURL()))
	subjects, err := srcl.Subjects(context.Background())
	if code != 1 || err != nil || len(subjects) != 1 || subjects[0] != "edges-value" {
		t.Fatalf("produce to dead brokers: exit %d, subjects %v (%v); want exit 1 and only edges-value", code, subjects, err)
	}

	// Help lists -t and --topic together.
	_, _, errs = runWithStdin(t, "", "consume", "--help")
	if !strings.Contains(errs, "-t, --topic") || strings.Contains(errs, "--t\n") {
		t.Fatalf("consume --help: %s", errs)
	}
}

// groups describe of a group that does not exist says so and exits 1.
func TestGroupsDescribeMissingGroup(t *testing.T) {
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	cl, _ := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()))
	defer cl.Close()
	code, out, errs := runWithStdin(t, "", "groups", "describe", "--brokers", s.KafkaAddr(), "no-such-group")
	if code != 1 || !strings.Contains(errs, "group no-such-group does not exist") || strings.Contains(out, "Dead") {
		t.Fatalf("describe a missing group: exit %d, %q, %q", code, out, errs)
	}
}
