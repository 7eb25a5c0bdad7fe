package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestUsageAndExitCodes(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, 2, "Commands:"},
		{[]string{"--help"}, 0, "serve"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		{[]string{"serve", "--help"}, 0, "Examples:"},
		{[]string{"serve", "--fsync", "sometimes"}, 2, "--fsync"},
		{[]string{"serve", "--no-such-flag"}, 2, "no-such-flag"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"version"}, 0, "tickertape "},
		{[]string{"demo", "--help"}, 0, "(default: a temporary directory, removed on exit)"},
		{[]string{"groups", "--help"}, 0, "groups describe tickertape-candles"},
		{[]string{"schema", "--help"}, 0, "market/schemas/trade.avsc"},
		{[]string{"produce", "--help"}, 0, "-t, --topic"},
		{[]string{"serve", "--help"}, 0, "debug logs every Kafka request"},
		// The registry's config errors come all at once, each with its flag.
		{[]string{"registry", "--listen", "127.0.0.1:0", "--brokers", "127.0.0.1:9,", "--topic", "a b", "--advertised-url", "reg1:8081"}, 2,
			"--brokers: Kafka broker 2 of 2 is empty\n--topic: topic \"a b\": ' ' is not allowed"},
		{[]string{"registry", "--listen", "127.0.0.1:0", "--brokers", "127.0.0.1:9", "--advertised-url", "reg1:8081"}, 2,
			"--advertised-url: advertised URL \"reg1:8081\" must be http://host:port"},
		// The standalone registry's basic auth logs in to the brokers, so it needs SASL itself.
		{[]string{"registry", "--brokers", "127.0.0.1:9", "--registry-auth", "basic"}, 2, "--registry-auth basic checks each user against the brokers' SASL"},
		{[]string{"registry", "--brokers", "127.0.0.1:9", "--registry-writers", "alice"}, 2, "--registry-writers and --super-user need --registry-auth basic"},
		{[]string{"registry", "--brokers", "127.0.0.1:9", "--registry-auth", "digest"}, 2, `--registry-auth "digest": use none or basic`},
		{[]string{"registry", "--brokers", "127.0.0.1:9", "--tls-cert", "c.pem"}, 2, "--tls-cert and --tls-key go together"},
		{[]string{"registry", "--help"}, 0, "--registry-auth basic --super-user admin --registry-writers alice"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		all := out.String() + errb.String()
		if code != c.code || !strings.Contains(all, c.contains) {
			t.Errorf("tickertape %v: exit %d (want %d), output %q (want %q)", c.args, code, c.code, all, c.contains)
		}
	}
}

func TestEnvironmentFlags(t *testing.T) {
	t.Setenv("TICKERTAPE_FSYNC", "bogus")
	var out, errb bytes.Buffer
	if code := run([]string{"serve"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--fsync") {
		t.Fatalf("TICKERTAPE_FSYNC=bogus: exit %d, %q", code, errb.String())
	}
}

func TestGroupsDescribeShowsLag(t *testing.T) {
	s := startStack(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.KafkaAddr()), kgo.DefaultProduceTopic("lagging"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "lagging", Partition: 0, At: 4})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "readers", offs); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"groups", "describe", "--brokers", s.KafkaAddr(), "readers"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "total lag 6") || !regexp.MustCompile(`lagging\s+0\s+4\s+10\s+6`).MatchString(out.String()) {
		t.Fatalf("describe output:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"groups", "list", "--brokers", s.KafkaAddr()}, &out, &errb); code != 0 || !strings.Contains(out.String(), "readers") {
		t.Fatalf("list: %d %s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"groups", "delete", "--brokers", s.KafkaAddr(), "readers"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "deleted group readers") {
		t.Fatalf("delete: %d %s %s", code, out.String(), errb.String())
	}
}

// TestConnectionLimitFlags: serve's connection limits reach the broker's
// config under Kafka's meanings (0 = no limit), and nonsense is a usage error.
func TestConnectionLimitFlags(t *testing.T) {
	parse := func(args ...string) (stackFlags, error) {
		var sf stackFlags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		sf.register(fs)
		return sf, fs.Parse(args)
	}
	sf, err := parse("--max-connections", "100", "--max-connections-per-ip", "5", "--connections-max-idle", "30s", "--queued-max-request-bytes", "200000000")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := sf.config(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Broker; b.MaxConnections != 100 || b.MaxConnectionsPerIP != 5 || b.ConnectionsMaxIdle != 30*time.Second || b.QueuedMaxRequestBytes != 200000000 {
		t.Fatalf("limits %d %d %s %d", b.MaxConnections, b.MaxConnectionsPerIP, b.ConnectionsMaxIdle, b.QueuedMaxRequestBytes)
	}
	sf, _ = parse("--connections-max-idle", "0", "--queued-max-request-bytes", "0")
	if cfg, _, err = sf.config(io.Discard); err != nil || cfg.Broker.ConnectionsMaxIdle >= 0 || cfg.Broker.QueuedMaxRequestBytes >= 0 {
		t.Fatalf("0 must mean no limit: %v %s %d", err, cfg.Broker.ConnectionsMaxIdle, cfg.Broker.QueuedMaxRequestBytes)
	}
	for _, bad := range [][]string{{"--max-connections", "-1"}, {"--queued-max-request-bytes", "1000"}} {
		sf, _ = parse(bad...)
		var ue usageError
		if _, _, err := sf.config(io.Discard); !errors.As(err, &ue) {
			t.Fatalf("%v: %v, want a usage error", bad, err)
		}
	}
}
