package registry

// One place that knows the three schema types: parsing with references,
// identity, normalization and compatibility checks dispatch on the type.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/tickertape/tickertape/internal/avrocompat"
)

// Schema types as the API spells them.
const (
	typeAvro     = "AVRO"
	typeJSON     = "JSON"
	typeProtobuf = "PROTOBUF"
)

// schemaTypes is what GET /schemas/types answers.
var schemaTypes = []string{typeJSON, typeProtobuf, typeAvro}

// maxSchemaBytes bounds one schema's text: a _schemas record must fit
// Kafka's default message size (1 MiB) with its key and envelope.
const maxSchemaBytes = 1000 * 1024

// maxNesting bounds how deeply a JSON Schema document, or a .proto's
// messages, may nest: deeper input is refused before it is parsed.
const maxNesting = 256

// compiled is a parsed schema of any type.
type compiled interface {
	// identity is what makes two registrations the same schema (without
	// the references, which the caller adds).
	identity() (string, error)
	// normalized is the text ?normalize=true stores.
	normalized() (string, error)
	// check returns the reasons the receiver (the reader) cannot read data
	// written with writer; writer is always of the same type.
	check(writer compiled) []string
}

// compile parses text of a schema type. Types are upper-cased by the caller.
func compile(typ, text string, refs []Reference, resolve resolver) (compiled, error) {
	switch typ {
	case typeAvro:
		s, err := parseAvro(text, refs, resolve)
		if err != nil {
			return nil, err
		}
		return avroCompiled{s, text, refs}, nil
	case typeJSON:
		return compileJSON(text, refs, resolve)
	case typeProtobuf:
		return compileProto(text, refs, resolve)
	}
	return nil, fmt.Errorf("unknown schema type %q", typ)
}

type avroCompiled struct {
	s    avro.Schema
	text string
	refs []Reference
}

func (a avroCompiled) identity() (string, error) { return identity(a.s, nil) }

func (a avroCompiled) normalized() (string, error) { return normalizeAvro(a.text, a.s, a.refs) }

func (a avroCompiled) check(writer compiled) []string {
	w, ok := writer.(avroCompiled)
	if !ok {
		return []string{"{errorType:'TYPE_MISMATCH', description:'the schema types differ', additionalInfo:'at /'}"}
	}
	var out []string
	for _, i := range avrocompat.Check(a.s, w.s) {
		out = append(out, i.String())
	}
	return out
}

// fullIdentity is a compiled schema's identity with its references,
// metadata and rule set, and its type (the same text as JSON Schema and as
// Avro is two schemas).
func fullIdentity(typ string, c compiled, refs []Reference, metadata, ruleSet json.RawMessage) (string, error) {
	id, err := c.identity()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if typ != typeAvro {
		b.WriteString(typ + "|")
	}
	b.WriteString(id)
	if len(refs) > 0 {
		b.WriteByte('|')
		b.Write(marshal(refs))
	}
	for _, extra := range []json.RawMessage{metadata, ruleSet} {
		if len(extra) > 0 && string(extra) != "null" {
			c, err := compactJSON(string(extra))
			if err != nil {
				return "", err
			}
			b.WriteString("|" + c)
		}
	}
	return b.String(), nil
}

// nestingDepth is the deepest bracket nesting of text ({[ for JSON, { for
// .proto), ignoring brackets inside string literals.
func nestingDepth(text string, open, close string) int {
	depth, deepest := 0, 0
	var quote byte
	for i := 0; i < len(text); i++ {
		ch := text[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || (ch == '\'' && open == "{"):
			quote = ch
		case strings.IndexByte(open, ch) >= 0:
			depth++
			deepest = max(deepest, depth)
		case strings.IndexByte(close, ch) >= 0:
			depth--
		}
	}
	return deepest
}

// formatted is a schema's text in the format a read asks for (?format=):
// for PROTOBUF, "serialized" (base64 FileDescriptorProto, what Confluent's
// Protobuf deserializers fetch) and "ignore_extensions" (the canonical text
// without custom options); anything else, and the other types, get the
// stored text, as Confluent answers formats a type does not define.
func (e *schemaEntry) formatted(format string) string {
	p, ok := e.parsed.(*protoCompiled)
	if !ok {
		return e.Schema
	}
	switch strings.ToLower(format) {
	case "serialized":
		if s, err := p.serialized(); err == nil {
			return s
		}
	case "ignore_extensions":
		return printProto(p.fd, false)
	}
	return e.Schema
}
