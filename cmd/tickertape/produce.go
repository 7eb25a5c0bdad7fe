package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/serde"
)

func init() {
	register(&command{name: "produce", summary: "write JSON lines from stdin to a topic as Avro, JSON Schema or Protobuf records, registering the schema", run: runProduce})
}

func runProduce(args []string, stdout, stderr io.Writer) error {
	var topic, schemaFile, subject, brokers, registry, keyField, typ, message string
	fs := newFlagSet("produce -t TOPIC --schema FILE [flags]",
		"Reads one JSON object per line from stdin, encodes each with the schema (registered or looked\nup under --subject, by default TOPIC-value) and writes it in the Confluent wire format with\nacks=all. FILE is Avro (.avsc), JSON Schema (.json; each line is validated against it) or\nProtobuf (.proto; lines in protobuf's JSON mapping, --message picks the message type, by\ndefault the first). For Avro, decimals may be given as strings or numbers, timestamps as\nnumbers or RFC 3339.",
		`  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema price.avsc
  tickertape produce -t prices --schema price.avsc --key-field symbol < prices.jsonl
  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema price.schema.json
  echo '{"symbol":"BTC-USDT","price":"97000.5"}' | tickertape produce -t prices --schema market.proto --message Price`, stderr)
	fs.StringVar(&topic, "t", "", "topic to write (required)")
	fs.StringVar(&schemaFile, "schema", "", "schema file: .avsc, .json (JSON Schema) or .proto (required)")
	fs.StringVar(&typ, "type", "", "AVRO, JSON or PROTOBUF (default: by the schema file's extension)")
	fs.StringVar(&message, "message", "", "Protobuf: the message type to write (full or simple name; default the file's first)")
	fs.StringVar(&subject, "subject", "", "registry subject (default TOPIC-value)")
	fs.StringVar(&keyField, "key-field", "", "use this top-level field's value as the record key")
	fs.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap addresses")
	fs.StringVar(&registry, "registry", "http://127.0.0.1:8081", "schema registry URL")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if topic == "" || schemaFile == "" {
		return usageError{errors.New("produce needs -t TOPIC and --schema FILE (.avsc, .json or .proto)")}
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
	srcl, err := sr.NewClient(sr.URLs(registry))
	if err != nil {
		return usageError{fmt.Errorf("--registry: %v", err)}
	}
	sd := serde.New(srcl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	id, encode, err := produceEncoder(ctx, sd, st, subject, string(text), message)
	cancel()
	if err != nil {
		return fmt.Errorf("%s: %w", schemaFile, err)
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
		var doc any
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return fmt.Errorf("line %d: not JSON: %v", line, err)
		}
		b, err := encode(doc, sc.Bytes())
		if err != nil {
			return fmt.Errorf("line %d: %v", line, err)
		}
		r := &kgo.Record{Value: b}
		if keyField != "" {
			if m, ok := doc.(map[string]any); ok && m[keyField] != nil {
				r.Key = []byte(fmt.Sprint(m[keyField]))
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

// produceEncoder registers the schema and returns its id and a function
// that encodes one JSON line (decoded, numbers as json.Number, and raw).
func produceEncoder(ctx context.Context, sd *serde.Serde, st sr.SchemaType, subject, text, message string) (int, func(any, []byte) ([]byte, error), error) {
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
			m, err := serde.ProtoFromJSON(md, line)
			if err != nil {
				return nil, err
			}
			return serde.AppendEncodeProto(nil, id, m)
		}, nil
	}
	schema, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return 0, nil, err
	}
	id, err := sd.Register(ctx, subject, schema)
	if err != nil {
		return 0, nil, err
	}
	return id, func(doc any, _ []byte) ([]byte, error) {
		v, err := fromJSON(schema, doc)
		if err != nil {
			return nil, err
		}
		return sd.AppendEncode(nil, id, schema, v)
	}, nil
}

// fromJSON converts a JSON value (numbers as json.Number) to what
// hamba/avro encodes for the schema.
func fromJSON(s avro.Schema, v any) (any, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		return fromJSON(s.Schema(), v)
	case *avro.NullSchema:
		if v != nil {
			return nil, fmt.Errorf("want null, got %v", v)
		}
		return nil, nil
	case *avro.UnionSchema:
		if v == nil {
			if s.Nullable() {
				return nil, nil
			}
			return nil, errors.New("null for a union without null")
		}
		for _, t := range s.Types() {
			if t.Type() == avro.Null {
				continue
			}
			if out, err := fromJSON(t, v); err == nil {
				if s.Nullable() {
					return out, nil
				}
				name := string(t.Type())
				if n, ok := t.(avro.NamedSchema); ok {
					name = n.FullName()
				}
				return map[string]any{name: out}, nil
			}
		}
		return nil, fmt.Errorf("%v matches no branch of %s", v, s.String())
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %s: want an object", s.FullName())
		}
		out := make(map[string]any, len(s.Fields()))
		for _, f := range s.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				if f.HasDefault() {
					continue
				}
				return nil, fmt.Errorf("field %s is missing", f.Name())
			}
			c, err := fromJSON(f.Type(), fv)
			if err != nil {
				return nil, fmt.Errorf("field %s: %v", f.Name(), err)
			}
			out[f.Name()] = c
		}
		return out, nil
	case *avro.ArraySchema:
		a, ok := v.([]any)
		if !ok {
			return nil, errors.New("want an array")
		}
		out := make([]any, len(a))
		for i, e := range a {
			c, err := fromJSON(s.Items(), e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %v", i, err)
			}
			out[i] = c
		}
		return out, nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("want an object")
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := fromJSON(s.Values(), e)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			out[k] = c
		}
		return out, nil
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return nil, errors.New("want an enum symbol")
		}
		return str, nil
	case *avro.FixedSchema:
		return bytesValue(s.Logical(), v)
	case *avro.PrimitiveSchema:
		var lt avro.LogicalSchema
		if s.Logical() != nil {
			lt = s.Logical()
		}
		switch s.Type() {
		case avro.String:
			str, ok := v.(string)
			if !ok {
				return nil, errors.New("want a string")
			}
			return str, nil
		case avro.Boolean:
			b, ok := v.(bool)
			if !ok {
				return nil, errors.New("want true or false")
			}
			return b, nil
		case avro.Int, avro.Long:
			if lt != nil && strings.HasPrefix(string(lt.Type()), "timestamp") {
				if str, ok := v.(string); ok {
					t, err := time.Parse(time.RFC3339Nano, str)
					if err != nil {
						return nil, fmt.Errorf("want a timestamp: %v", err)
					}
					return t, nil
				}
			}
			n, ok := v.(json.Number)
			if !ok {
				return nil, errors.New("want an integer")
			}
			i, err := n.Int64()
			if err != nil {
				return nil, errors.New("want an integer")
			}
			if lt != nil && lt.Type() == avro.TimestampMicros {
				return time.UnixMicro(i).UTC(), nil
			}
			if lt != nil && lt.Type() == avro.TimestampMillis {
				return time.UnixMilli(i).UTC(), nil
			}
			if s.Type() == avro.Int {
				return int32(i), nil
			}
			return i, nil
		case avro.Float, avro.Double:
			n, ok := v.(json.Number)
			if !ok {
				return nil, errors.New("want a number")
			}
			f, err := n.Float64()
			if s.Type() == avro.Float {
				return float32(f), err
			}
			return f, err
		case avro.Bytes:
			return bytesValue(lt, v)
		}
	}
	return nil, fmt.Errorf("unsupported schema %s", s.Type())
}

func bytesValue(lt avro.LogicalSchema, v any) (any, error) {
	if lt != nil && lt.Type() == avro.Decimal {
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case json.Number:
			text = x.String()
		default:
			return nil, errors.New("want a decimal as a string or number")
		}
		r, ok := new(big.Rat).SetString(text)
		if !ok {
			return nil, fmt.Errorf("%q is not a decimal", text)
		}
		return r, nil
	}
	str, ok := v.(string)
	if !ok {
		return nil, errors.New("want base64 bytes")
	}
	return base64.StdEncoding.DecodeString(str)
}
