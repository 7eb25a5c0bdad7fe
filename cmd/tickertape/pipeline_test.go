package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/pipeline"
)

// TestProduceConsumeTopics drives produce, consume and topics against the
// embedded stack: JSON lines in, exact decimals and timestamps out.
func TestProduceConsumeTopics(t *testing.T) {
	s := startStack(t, true)
	b, r := "--brokers="+s.KafkaAddr(), "--registry="+s.RegistryURL()
	runOK := func(stdin string, args ...string) string {
		t.Helper()
		if stdin != "" {
			f := filepath.Join(t.TempDir(), "stdin")
			os.WriteFile(f, []byte(stdin), 0o644)
			in, _ := os.Open(f)
			old := os.Stdin
			os.Stdin = in
			defer func() { os.Stdin = old; in.Close() }()
		}
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("tickertape %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	if out := runOK("", "topics", "create", "prices", "--partitions", "2", "--config", "retention.ms=3600000", b); !strings.Contains(out, "created prices (2 partitions)") {
		t.Fatalf("create: %q", out)
	}
	schema := filepath.Join(t.TempDir(), "price.avsc")
	os.WriteFile(schema, []byte(`{"type":"record","name":"Price","namespace":"t","fields":[
		{"name":"symbol","type":"string"},
		{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":18}},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
		{"name":"note","type":["null","string"],"default":null}]}`), 0o644)
	out := runOK("{\"symbol\":\"BTC-USDT\",\"price\":\"97000.123456789012345678\",\"at\":\"2026-11-25T10:00:00.000001Z\"}\n{\"symbol\":\"ETH-USDT\",\"price\":3400.5,\"at\":1764064800000000,\"note\":\"hi\"}\n",
		"produce", "-t", "prices", "--schema", schema, "--key-field", "symbol", b, r)
	if !strings.Contains(out, "wrote 2 records") {
		t.Fatalf("produce: %q", out)
	}
	out = runOK("", "consume", "-t", "prices", "--from-beginning", "--max", "2", "--timeout", "10s", b, r)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("consume: %q", out)
	}
	got := map[string]map[string]any{}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		got[m["symbol"].(string)] = m
	}
	if got["BTC-USDT"]["price"] != "97000.123456789012345678" || got["BTC-USDT"]["at"] != "2026-11-25T10:00:00.000001Z" || got["BTC-USDT"]["note"] != nil {
		t.Fatalf("BTC record: %v", got["BTC-USDT"])
	}
	if got["ETH-USDT"]["price"] != "3400.5" || got["ETH-USDT"]["note"] != "hi" {
		t.Fatalf("ETH record: %v", got["ETH-USDT"])
	}
	if out := runOK("", "consume", "-t", "prices", "--from-beginning", "--filter", "symbol=ETH-USDT", "--max", "1", "--timeout", "10s", b, r); !strings.Contains(out, `"note":"hi"`) {
		t.Fatalf("filter: %q", out)
	}
	if out := runOK("", "topics", "describe", "prices", b); !strings.Contains(out, "partitions 2") || !strings.Contains(out, "retention.ms=3600000") {
		t.Fatalf("describe: %q", out)
	}
	if out := runOK("", "topics", "list", b); !strings.Contains(out, "prices") || strings.Contains(out, "_schemas") {
		t.Fatalf("list: %q", out)
	}
	if out := runOK("", "topics", "delete", "prices", b); !strings.Contains(out, "deleted prices") {
		t.Fatalf("delete: %q", out)
	}
	var out2, errb bytes.Buffer
	if code := run([]string{"consume", "-t", "empty-topic", "--timeout", "1s", b, r}, &out2, &errb); code != 1 || !strings.Contains(errb.String(), "no record") {
		t.Fatalf("consume of an empty topic: exit %d %q", code, errb.String())
	}
}

// TestRunWithoutNetworkNamesDemo points the live connector at nothing.
func TestPipelineUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--exchange", "gemini"}, 2, "known exchanges are binance, bitstamp, coinbase, kraken, okx, poloniex"},
		{[]string{"run", "--ws-url", "binance"}, 2, "want VENUE=URL"},
		{[]string{"run", "--rest-url", "gemini=http://x"}, 2, "unknown exchange"},
		{[]string{"demo", "--exchange", "binance,coinbase", "--symbols", "BTC-USDX"}, 2, "close matches: BTCUSDT"},
		{[]string{"exchanges"}, 0, "REST snapshot plus buffered deltas"},
		{[]string{"run", "--brokers", "x:9092"}, 2, "--registry"},
		{[]string{"demo", "--intervals", "7s"}, 2, "--intervals"},
		{[]string{"consume"}, 2, "-t TOPIC"},
		{[]string{"produce", "-t", "x"}, 2, "--schema"},
		{[]string{"demo", "--help"}, 0, "SYNTHETIC"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if all := out.String() + errb.String(); code != c.code || !strings.Contains(strings.ToUpper(all), strings.ToUpper(c.want)) {
			t.Errorf("tickertape %v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, all, c.want)
		}
	}
}

// TestLiveWithoutNetworkNamesDemo: when the venue cannot be reached, run
// says so and points at demo.
func TestLiveWithoutNetworkNamesDemo(t *testing.T) {
	err := pipelineError(&pipeline.UnreachableError{Venue: "Poloniex", Err: errors.New("connection refused")})
	if err == nil || !strings.Contains(err.Error(), "tickertape demo") || !strings.Contains(err.Error(), "cannot reach Poloniex") {
		t.Fatalf("error without network: %v", err)
	}
	if _, ok := pipelineError(&pipeline.UnknownSymbolError{Venue: "Poloniex", Symbol: "NOPE_USDT"}).(usageError); !ok {
		t.Fatal("an unknown symbol is not a usage error")
	}
}

// TestBusyPortNamesTheFlag: the CLI, not the library, names the flag that
// moves a listener.
func TestBusyPortNamesTheFlag(t *testing.T) {
	s := startStack(t, false)
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--kafka-addr", s.KafkaAddr(), "--registry-addr", "", "--http-addr", "", "--data-dir", t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "choose another address with --kafka-addr") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
