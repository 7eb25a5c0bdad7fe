package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/serde"
)

func init() {
	register(&command{name: "produce", summary: "write JSON lines from stdin to a topic as Avro records, registering the schema", run: runProduce})
}

func runProduce(args []string, stdout, stderr io.Writer) error {
	var topic, schemaFile, subject, brokers, registry, keyField string
	fs := newFlagSet("produce -t TOPIC --schema FILE.avsc [flags]",
		"Reads one JSON object per line from stdin, encodes each with the Avro schema (registered or\nlooked up under --subject, by default TOPIC-value) and writes it in the Confluent wire format\nwith acks=all. Decimals may be given as strings or numbers, timestamps as numbers or RFC 3339.",
		`  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema price.avsc
  tickertape produce -t prices --schema price.avsc --key-field symbol < prices.jsonl`, stderr)
	fs.StringVar(&topic, "t", "", "topic to write (required)")
	fs.StringVar(&schemaFile, "schema", "", "Avro schema file (required)")
	fs.StringVar(&subject, "subject", "", "registry subject (default TOPIC-value)")
	fs.StringVar(&keyField, "key-field", "", "use this top-level field's value as the record key")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if topic == "" || schemaFile == "" {
		return usageError{errors.New("produce needs -t TOPIC and --schema FILE.avsc")}
	}
	if subject == "" {
		subject = topic + "-value"
	}
	text, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	schema, err := avro.ParseWithCache(string(text), "", &avro.SchemaCache{})
	if err != nil {
		return fmt.Errorf("%s: %w", schemaFile, err)
	}
	srcl, err := sr.NewClient(sr.URLs(registry))
	if err != nil {
		return usageError{fmt.Errorf("--registry: %v", err)}
	}
	sd := serde.New(srcl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	id, err := sd.Register(ctx, subject, schema)
	cancel()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		v, err := serde.ParseJSON(schema, sc.Bytes())
		if err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		b, err := sd.AppendEncode(nil, id, schema, v)
		if err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		r := &kgo.Record{Value: b}
		if keyField != "" {
			var doc map[string]any // the field as written, numbers as their text
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.UseNumber()
			if dec.Decode(&doc) == nil && doc[keyField] != nil {
				r.Key = []byte(fmt.Sprint(doc[keyField]))
			}
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d records to %s (schema id %d, subject %s)\n", n, topic, id, subject)
	return nil
}
