package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
	"github.com/tickertape/tickertape/exchange/poloniex"
)

// TestProduceConsumeTopics drives produce, consume and topics against the
// embedded stack: JSON lines in, exact decimals and timestamps out.
func TestProduceConsumeTopics(t *testing.T) {
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
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
		{[]string{"run", "--exchange", "kraken"}, 2, "only poloniex"},
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

// TestLiveWithoutNetworkNamesDemo: when Poloniex cannot be reached, run says
// so and points at demo.
func TestLiveWithoutNetworkNamesDemo(t *testing.T) {
	conn := poloniex.New(poloniex.Config{RESTURL: "http://127.0.0.1:1"})
	err := checkLive(context.Background(), conn, []string{"BTC_USDT"})
	if err == nil || !strings.Contains(err.Error(), "tickertape demo") || !strings.Contains(err.Error(), "cannot reach Poloniex") {
		t.Fatalf("error without network: %v", err)
	}
	fake, err := poloniex.NewFake(poloniex.FakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	err = checkLive(context.Background(), poloniex.New(fake.Config()), []string{"BTC_USDT", "NOPE_USDT"})
	if err == nil || !strings.Contains(err.Error(), "NOPE_USDT") {
		t.Fatalf("unknown symbol: %v", err)
	}
}

// The status panel's "behind" is the end offset minus the processor's read
// position, not the committed offset (which stays at the oldest open window,
// an hour back with the default intervals); "replay" is the committed lag.
func TestStatusBehindIsUnprocessedRecords(t *testing.T) {
	lag := kadm.GroupLag{"market.events": {
		0: {Topic: "market.events", Partition: 0, Commit: kadm.Offset{At: 100}, End: kadm.ListedOffset{Offset: 5000}, Lag: 4900},
		1: {Topic: "market.events", Partition: 1, Commit: kadm.Offset{At: 10}, End: kadm.ListedOffset{Offset: 900}, Lag: 890},
		2: {Topic: "market.events", Partition: 2, Commit: kadm.Offset{At: 0}, End: kadm.ListedOffset{Offset: 70}, Lag: 70}, // another process's
	}}
	if got := unprocessed(lag, "market.events", map[int32]int64{0: 4990, 1: 900}); got != 10 {
		t.Fatalf("behind %d, want 10 (replay distance is %d)", got, lag.Total())
	}
}

// A demo restarted on the same data directory must not repeat trade ids: the
// fake's ids start from the clock, above every id an earlier run made.
func TestRestartedFakeDoesNotRepeatTradeIDs(t *testing.T) {
	trades := func(cfg poloniex.FakeConfig) (lo, hi int64) {
		t.Helper()
		cfg.Tick = 5 * time.Millisecond
		f, err := poloniex.NewFake(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		deadline := time.Now().Add(20 * time.Second)
		for len(f.Trades("BTC_USDT")) < 20 {
			if time.Now().After(deadline) {
				t.Fatal("the fake made no trades")
			}
			time.Sleep(10 * time.Millisecond)
		}
		lo, hi = math.MaxInt64, 0
		for _, tr := range f.Trades("BTC_USDT") {
			id, err := strconv.ParseInt(tr.TradeID, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi = min(lo, id), max(hi, id)
		}
		return lo, hi
	}
	_, hi1 := trades(fakeConfig(1, time.Now()))
	lo2, _ := trades(fakeConfig(1, time.Now()))
	if lo2 <= hi1 {
		t.Fatalf("the second run's first trade id %d is not above the first run's last %d", lo2, hi1)
	}
}
