package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tickertape/tickertape/app"
	"github.com/tickertape/tickertape/broker"
)

// TestMixedFormatsCLI registers JSON Schema and Protobuf schemas with
// tickertape schema (by extension and with --type), then produces Avro, JSON
// Schema and Protobuf records into one topic under TopicRecordNameStrategy
// subjects and reads them all back as JSON with tickertape consume.
func TestMixedFormatsCLI(t *testing.T) {
	s, err := app.Start(app.Config{KafkaAddr: "127.0.0.1:0", RegistryAddr: "127.0.0.1:0", Broker: broker.Config{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	b, r := "--brokers="+s.KafkaAddr(), "--registry="+s.RegistryURL()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	jsonV1 := write("ticker.json", `{"type":"object","properties":{"symbol":{"type":"string"},"bid":{"type":"string"}},"required":["symbol"],"additionalProperties":false}`)
	jsonBad := write("ticker-bad.json", `{"type":"object","properties":{"symbol":{"type":"integer"},"bid":{"type":"string"}},"required":["symbol"],"additionalProperties":false}`)
	jsonAsText := write("ticker.schema", `{"type":"object","properties":{"symbol":{"type":"string"},"bid":{"type":"string"}},"required":["symbol"],"additionalProperties":false}`)
	protoV1 := write("book.proto", "syntax = \"proto3\";\npackage tickertape.market;\nmessage Level { string price = 1; string qty = 2; }\nmessage Book { string symbol = 1; repeated Level bids = 2; int64 seq = 3; }\n")
	protoBad := write("book-bad.proto", "syntax = \"proto3\";\npackage tickertape.market;\nmessage Level { string price = 1; string qty = 2; }\nmessage Book { string symbol = 1; repeated Level bids = 2; string seq = 3; }\n")
	avro := write("trade.avsc", `{"type":"record","name":"Trade","namespace":"tickertape.market","fields":[{"name":"symbol","type":"string"},{"name":"price","type":"string"}]}`)
	runIn := func(stdin string, wantCode int, want string, args ...string) string {
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
		code := run(args, &out, &errb)
		if all := out.String() + errb.String(); code != wantCode || !strings.Contains(all, want) {
			t.Fatalf("tickertape %v: exit %d (want %d): %q (want %q)", args, code, wantCode, all, want)
		}
		return out.String()
	}
	runIn("", 0, "version 1 id 1", "schema", "register", "tickers-value", jsonV1, r)
	runIn("", 0, "version 1 id 1", "schema", "register", "tickers-value", jsonAsText, "--type", "JSON", r)
	runIn("", 1, "TYPE_CHANGED", "schema", "check", "tickers-value", jsonBad, r)
	runIn("", 0, "version 1 id 2", "schema", "register", "books-value", protoV1, r)
	runIn("", 1, "FIELD_SCALAR_KIND_CHANGED", "schema", "check", "books-value", protoBad, r)
	runIn("", 0, `"schemaType": "PROTOBUF"`, "schema", "get", "books-value", r)
	runIn("", 2, "--type", "schema", "register", "x", jsonV1, "--type", "XML", r)

	// One topic (one partition, so the order holds), three formats,
	// TopicRecordNameStrategy subjects.
	runIn("", 0, "created", "topics", "create", "market.mixed", "--partitions", "1", b)
	runIn(`{"symbol":"BTC-USDT","price":"97000.5"}`+"\n", 0, "wrote 1 records", "produce", "-t", "market.mixed", "--schema", avro, "--subject", "market.mixed-tickertape.market.Trade", b, r)
	runIn(`{"symbol":"BTC-USDT","bid":"96999.5"}`+"\n", 0, "wrote 1 records", "produce", "-t", "market.mixed", "--schema", jsonV1, "--subject", "market.mixed-tickertape.market.Ticker", b, r)
	runIn(`{"symbol":"BTC-USDT","bid":1}`+"\n", 1, "does not match", "produce", "-t", "market.mixed", "--schema", jsonV1, "--subject", "market.mixed-tickertape.market.Ticker", b, r)
	runIn(`{"symbol":"BTC-USDT","bids":[{"price":"96999.5","qty":"0.25"}],"seq":"42"}`+"\n", 0, "wrote 1 records", "produce", "-t", "market.mixed", "--schema", protoV1, "--message", "Book", "--subject", "market.mixed-tickertape.market.Book", b, r)
	runIn(`{"price":"1","qty":"2"}`+"\n", 0, "wrote 1 records", "produce", "-t", "market.mixed", "--schema", protoV1, "--message", "tickertape.market.Level", "--subject", "market.mixed-tickertape.market.Level", b, r)
	runIn("{}\n", 1, `no message "Nope"`, "produce", "-t", "market.mixed", "--schema", protoV1, "--message", "Nope", b, r)
	runIn("{}\n", 2, "--message is for Protobuf", "produce", "-t", "market.mixed", "--schema", jsonV1, "--message", "Book", b, r)

	out := runIn("", 0, "", "consume", "-t", "market.mixed", "--from-beginning", "--max", "4", "--timeout", "10s", b, r)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("consume: %q", out)
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, m)
	}
	if got[0]["price"] != "97000.5" || got[1]["bid"] != "96999.5" || got[2]["seq"] != "42" || got[3]["qty"] != "2" {
		t.Fatalf("records %v", got)
	}
	if bids, _ := got[2]["bids"].([]any); len(bids) != 1 || bids[0].(map[string]any)["qty"] != "0.25" {
		t.Fatalf("book %v", got[2])
	}
	out = runIn("", 0, "", "consume", "-t", "market.mixed", "--from-beginning", "--max", "4", "--timeout", "10s", "--print-type", b, r)
	var types []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(l), &m)
		types = append(types, fmt.Sprint(m["_type"]))
	}
	if strings.Join(types, ",") != "tickertape.market.Trade,JSON,tickertape.market.Book,tickertape.market.Level" {
		t.Fatalf("--print-type: %v", types)
	}
}
