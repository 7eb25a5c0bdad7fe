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
	"sort"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/internal/avroparse"
	"github.com/tickertape/tickertape/serde"
)

func init() {
	register(&command{name: "produce", summary: "write JSON lines from stdin to a topic as Avro, JSON Schema or Protobuf records, registering the schema", run: runProduce})
}

func runProduce(args []string, stdout, stderr io.Writer) error {
	var topic, schemaFile, subject, brokers, registry, keyField, typ, message string
	var ignoreUnknown bool
	fs := newFlagSet("produce -t TOPIC --schema FILE [flags]",
		"Reads one JSON object per line from stdin, encodes each with the schema (registered or looked\nup under --subject, by default TOPIC-value) and writes it in the Confluent wire format with\nacks=all. FILE is Avro (.avsc), JSON Schema (.json; each line is validated against it) or\nProtobuf (.proto; lines in protobuf's JSON mapping, --message picks the message type, by\ndefault the first). For Avro, decimals may be given as strings or numbers, timestamps as\nnumbers or RFC 3339. A field the Avro or Protobuf schema does not have is an error\n(--ignore-unknown drops it). On a bad line it stops and says how many records were written\nbefore it.",
		`  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema price.avsc
  tickertape produce -t prices --schema price.avsc --key-field symbol < prices.jsonl
  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema price.schema.json
  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema market.proto --message Price`, stderr)
	fs.StringVar(&topic, "topic", "", "topic to write (required)")
	aliasFlag(fs, "t", "topic")
	fs.StringVar(&schemaFile, "schema", "", "schema file: .avsc, .json (JSON Schema) or .proto (required)")
	fs.StringVar(&typ, "type", "", "AVRO, JSON or PROTOBUF (default: by the schema file's extension)")
	fs.StringVar(&message, "message", "", "Protobuf: the message type to write (full or simple name; default the file's first)")
	fs.StringVar(&subject, "subject", "", "registry subject (default TOPIC-value)")
	fs.StringVar(&keyField, "key-field", "", "use this top-level field's value as the record key")
	fs.BoolVar(&ignoreUnknown, "ignore-unknown", false, "drop fields the schema does not have instead of refusing the line")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	var sec clientSecurity
	sec.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if topic == "" || schemaFile == "" {
		return usageError{errors.New("produce needs -t TOPIC (or --topic) and --schema FILE (.avsc, .json or .proto)")}
	}
	if subject == "" {
		subject = topic + "-value"
	}
	text, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	st, err := schemaTypeOf(schemaFile, typ)
	if err != nil {
		return err
	}
	if message != "" && st != sr.TypeProtobuf {
		return usageError{errors.New("--message is for Protobuf schemas (.proto)")}
	}
	var schema avro.Schema
	if st == sr.TypeAvro {
		if schema, err = avroparse.Parse(string(text), &avro.SchemaCache{}); err != nil {
			return fmt.Errorf("%s: %w", schemaFile, err)
		}
	}
	kopts, err := sec.kafkaOpts()
	if err != nil {
		return err
	}
	sopts, err := sec.registryOpts(registry)
	if err != nil {
		return err
	}
	srcl, err := sr.NewClient(sopts...)
	if err != nil {
		return usageError{fmt.Errorf("--registry: %v", err)}
	}
	// Both ends must answer before anything is registered or written.
	if err := reachBrokers(context.Background(), strings.Split(brokers, ","), kopts...); err != nil {
		return err
	}
	if err := reachRegistry(context.Background(), registry, sopts...); err != nil {
		return err
	}
	sd := serde.New(srcl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	id, encode, err := produceEncoder(ctx, sd, st, schema, subject, string(text), message, ignoreUnknown)
	cancel()
	if err != nil {
		return fmt.Errorf("register the schema under %s: %w", subject, err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation()}, kopts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	n := 0
	// failed stops at a bad line, saying what was written before it.
	failed := func(line int, format string, args ...any) error {
		written := "nothing was written"
		if n > 0 {
			written = fmt.Sprintf("the %d records before it were written to %s", n, topic)
		}
		return fmt.Errorf("line %d: %s; %s, this line and the ones after it were not", line, fmt.Sprintf(format, args...), written)
	}
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var doc any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return failed(line, "not JSON: %v", err)
		}
		b, err := encode(doc, sc.Bytes())
		if err != nil {
			return failed(line, "%v", err)
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
			return failed(line, "%v", err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d records to %s (schema id %d, subject %s)\n", n, topic, id, subject)
	return nil
}

// produceEncoder registers the schema (schema is the parsed Avro one, nil
// for the other types) and returns its id and a function that encodes one
// JSON line, given decoded (numbers as json.Number) and as written.
func produceEncoder(ctx context.Context, sd *serde.Serde, st sr.SchemaType, schema avro.Schema, subject, text, message string, ignoreUnknown bool) (int, func(any, []byte) ([]byte, error), error) {
	switch st {
	case sr.TypeJSON:
		id, sch, err := sd.RegisterJSONSchema(ctx, subject, text)
		if err != nil {
			return 0, nil, err
		}
		return id, func(doc any, _ []byte) ([]byte, error) { return serde.AppendEncodeJSON(nil, id, sch, doc) }, nil
	case sr.TypeProtobuf:
		id, md, err := sd.RegisterProto(ctx, subject, text, message)
		if err != nil {
			return 0, nil, err
		}
		return id, func(_ any, line []byte) ([]byte, error) {
			m, err := serde.ProtoFromJSON(md, line, ignoreUnknown)
			if err != nil {
				return nil, err
			}
			return serde.AppendEncodeProto(nil, id, m)
		}, nil
	}
	id, err := sd.Register(ctx, subject, schema)
	if err != nil {
		return 0, nil, err
	}
	return id, func(doc any, _ []byte) ([]byte, error) {
		if !ignoreUnknown {
			if err := unknownFields(schema, doc, ""); err != nil {
				return nil, fmt.Errorf("%v (--ignore-unknown drops such fields)", err)
			}
		}
		v, err := serde.FromJSON(schema, doc)
		if err != nil {
			return nil, err
		}
		return sd.AppendEncode(nil, id, schema, v)
	}, nil
}

// unknownFields refuses object keys that the schema's records do not have,
// which serde.FromJSON would drop without a word. path names the field for the error.
func unknownFields(s avro.Schema, v any, path string) error {
	switch s := s.(type) {
	case *avro.RefSchema:
		return unknownFields(s.Schema(), v, path)
	case *avro.UnionSchema:
		// The branch FromJSON picks is the first that converts; a value that
		// fits a branch with no unknown fields is accepted.
		var first error
		for _, t := range s.Types() {
			if t.Type() == avro.Null {
				continue
			}
			if _, err := serde.FromJSON(t, v); err != nil {
				continue
			}
			err := unknownFields(t, v, path)
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
		return first
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // FromJSON reports the type
		}
		known := map[string]avro.Schema{}
		for _, f := range s.Fields() {
			known[f.Name()] = f.Type()
		}
		var extra []string
		for k := range m {
			if _, ok := known[k]; !ok {
				extra = append(extra, path+k)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			return fmt.Errorf("field %s is not in the schema %s", strings.Join(extra, ", "), s.FullName())
		}
		for k, fv := range m {
			if err := unknownFields(known[k], fv, path+k+"."); err != nil {
				return err
			}
		}
	case *avro.ArraySchema:
		if a, ok := v.([]any); ok {
			for i, e := range a {
				if err := unknownFields(s.Items(), e, fmt.Sprintf("%s[%d].", strings.TrimSuffix(path, "."), i)); err != nil {
					return err
				}
			}
		}
	case *avro.MapSchema:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				if err := unknownFields(s.Values(), e, path+k+"."); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
