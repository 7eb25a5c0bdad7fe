package serde

// JSON Schema and Protobuf in the Confluent wire format. A JSON Schema
// record is the header then the JSON document (UTF-8); a Protobuf record is
// the header, then the message-index array (which message of the schema's
// file this is: a zigzag varint count and that many zigzag varint indexes,
// the path through top-level and nested messages; the common [0] is the
// single byte 0), then the message's binary encoding. These are what
// Confluent's JSONSerializer and ProtobufSerializer (Java, Python, Go, and
// @kafkajs/confluent-schema-registry) write.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// ErrBadMessageIndexes is a Protobuf record whose message-index array is
// malformed or names no message of its schema.
var ErrBadMessageIndexes = errors.New("serde: bad Protobuf message indexes")

// maxMessageIndexes bounds the message-index array (nesting depth).
const maxMessageIndexes = 64

// AppendMessageIndexes appends a Protobuf message-index array.
func AppendMessageIndexes(b []byte, idx []int) []byte {
	if len(idx) == 1 && idx[0] == 0 {
		return append(b, 0)
	}
	b = binary.AppendVarint(b, int64(len(idx)))
	for _, i := range idx {
		b = binary.AppendVarint(b, int64(i))
	}
	return b
}

// ParseMessageIndexes splits a Protobuf payload (after the 5-byte header)
// into its message-index array and the message bytes. An empty array (the
// single byte 0) means [0], the first message.
func ParseMessageIndexes(b []byte) ([]int, []byte, error) {
	n, w := binary.Varint(b)
	if w <= 0 || n < 0 || n > maxMessageIndexes {
		return nil, nil, fmt.Errorf("%w: count %d", ErrBadMessageIndexes, n)
	}
	b = b[w:]
	if n == 0 {
		return []int{0}, b, nil
	}
	idx := make([]int, n)
	for i := range idx {
		v, w := binary.Varint(b)
		if w <= 0 || v < 0 || v > 1<<20 {
			return nil, nil, fmt.Errorf("%w: index %d", ErrBadMessageIndexes, v)
		}
		idx[i], b = int(v), b[w:]
	}
	return idx, b, nil
}

// MessageByIndexes finds the message a message-index array names in a file.
func MessageByIndexes(fd protoreflect.FileDescriptor, idx []int) (protoreflect.MessageDescriptor, error) {
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadMessageIndexes)
	}
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range idx {
		if i >= msgs.Len() {
			return nil, fmt.Errorf("%w: %v: no message %d in %s", ErrBadMessageIndexes, idx, i, fd.Path())
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// MessageIndexes is the message-index array of a message in its file.
func MessageIndexes(md protoreflect.MessageDescriptor) []int {
	var idx []int
	for d := protoreflect.Descriptor(md); d != nil; d = d.Parent() {
		if m, ok := d.(protoreflect.MessageDescriptor); ok {
			idx = append([]int{m.Index()}, idx...)
		}
	}
	return idx
}

// CompileProto compiles .proto text with its references' texts (by import
// name) and the well-known types. Nothing is read from disk.
func CompileProto(text string, imports map[string]string) (protoreflect.FileDescriptor, error) {
	const root = "tickertape/schema.proto"
	src := &protocompile.SourceResolver{Accessor: func(path string) (io.ReadCloser, error) {
		if path == root {
			return io.NopCloser(strings.NewReader(text)), nil
		}
		if s, ok := imports[path]; ok {
			return io.NopCloser(strings.NewReader(s)), nil
		}
		return nil, fmt.Errorf("import %q is not among the schema's references", path)
	}}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(src)}
	fs, err := c.Compile(context.Background(), root)
	if err != nil {
		return nil, err
	}
	return fs[0], nil
}

// CompileJSONSchema compiles a JSON Schema with its references' documents
// (by reference name). Nothing is loaded from files or the network.
func CompileJSONSchema(text string, refs map[string]string) (*jsonschema.Schema, error) {
	const root = "mem://tickertape/schema.json"
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseLoader(refuse{})
	base := root
	if m, ok := doc.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok {
			if u, err := url.Parse(id); err == nil && u.IsAbs() {
				base = id
			}
		}
	}
	if err := c.AddResource(base, doc); err != nil {
		return nil, err
	}
	bu, _ := url.Parse(base)
	for name, t := range refs {
		d, err := jsonschema.UnmarshalJSON(strings.NewReader(t))
		if err != nil {
			return nil, fmt.Errorf("reference %s: %w", name, err)
		}
		u, err := url.Parse(name)
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(bu.ResolveReference(u).String(), d); err != nil {
			return nil, err
		}
	}
	return c.Compile(base)
}

type refuse struct{}

func (refuse) Load(u string) (any, error) {
	return nil, fmt.Errorf("%s is not among the references", u)
}

// fetchRefs collects the texts of a schema's references, transitively, by
// reference name.
func (s *Serde) fetchRefs(ctx context.Context, refs []sr.SchemaReference, into map[string]string, depth int) error {
	if depth > 32 {
		return errors.New("serde: references nest too deep")
	}
	for _, r := range refs {
		if _, ok := into[r.Name]; ok {
			continue
		}
		ss, err := s.cl.SchemaByVersion(ctx, r.Subject, r.Version)
		if err != nil {
			return fmt.Errorf("serde: fetching reference %s: %w", r.Name, err)
		}
		into[r.Name] = ss.Schema.Schema
		if err := s.fetchRefs(ctx, ss.Schema.References, into, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// other is a writer schema that is not Avro.
type other struct {
	typ   sr.SchemaType
	json  *jsonschema.Schema
	proto protoreflect.FileDescriptor
}

func (o *other) title() (string, bool) {
	if o.json != nil && o.json.Title != "" {
		return o.json.Title, true
	}
	return "", false
}

// writerOther fetches (once) a non-Avro writer schema; nil for Avro.
func (s *Serde) writerOther(ctx context.Context, id int) (*other, error) {
	s.mu.RLock()
	o, ok := s.others[id]
	_, isAvro := s.schemas[id]
	s.mu.RUnlock()
	if ok || isAvro {
		return o, nil
	}
	got, err := s.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == 40403 {
			return nil, fmt.Errorf("%w: id %d", ErrUnknownSchemaID, id)
		}
		return nil, fmt.Errorf("serde: fetching schema %d: %w", id, err)
	}
	if got.Type == sr.TypeAvro {
		return nil, nil // WriterSchema parses and caches it
	}
	texts := map[string]string{}
	if err := s.fetchRefs(ctx, got.References, texts, 0); err != nil {
		return nil, err
	}
	o = &other{typ: got.Type}
	switch got.Type {
	case sr.TypeJSON:
		if o.json, err = CompileJSONSchema(got.Schema, texts); err != nil {
			return nil, fmt.Errorf("%w: JSON schema %d does not compile: %v", ErrUndecodable, id, err)
		}
	case sr.TypeProtobuf:
		if o.proto, err = CompileProto(got.Schema, texts); err != nil {
			return nil, fmt.Errorf("%w: Protobuf schema %d does not compile: %v", ErrUndecodable, id, err)
		}
	default:
		return nil, fmt.Errorf("%w: schema %d has type %s", ErrUndecodable, id, got.Type)
	}
	s.mu.Lock()
	s.others[id] = o
	s.mu.Unlock()
	return o, nil
}

// DecodeJSONView decodes a wire-format record written with a JSON Schema or
// Protobuf schema into a JSON-ready value (JSON numbers as json.Number;
// Protobuf through protojson with the .proto's field names, unset fields
// with their defaults, 64-bit integers as strings). ok is false
// for Avro records, which Decode handles.
func (s *Serde) DecodeJSONView(ctx context.Context, b []byte) (v any, ok bool, err error) {
	id, payload, err := ParseHeader(b)
	if err != nil {
		return nil, true, err
	}
	o, err := s.writerOther(ctx, id)
	if err != nil || o == nil {
		return nil, err != nil, err
	}
	var js []byte
	switch o.typ {
	case sr.TypeJSON:
		js = payload
	case sr.TypeProtobuf:
		m, err := s.decodeProto(o.proto, payload)
		if err != nil {
			return nil, true, fmt.Errorf("%w: schema %d: %v", ErrUndecodable, id, err)
		}
		if js, err = (protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}).Marshal(m); err != nil {
			return nil, true, fmt.Errorf("%w: schema %d: %v", ErrUndecodable, id, err)
		}
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, true, fmt.Errorf("%w: schema %d: the payload is not JSON: %v", ErrUndecodable, id, err)
	}
	if d.More() {
		return nil, true, fmt.Errorf("%w: schema %d: data after the JSON document", ErrUndecodable, id)
	}
	return v, true, nil
}

// decodeProto decodes a Protobuf payload: message indexes, then the
// message. A payload that does not decode that way is tried once more as
// the file's first message without indexes, which is what
// @kafkajs/confluent-schema-registry (4.x) writes; the first error is the
// one reported.
func (s *Serde) decodeProto(fd protoreflect.FileDescriptor, payload []byte) (*dynamicpb.Message, error) {
	m, err := decodeIndexed(fd, payload)
	if err == nil {
		return m, nil
	}
	if fd.Messages().Len() > 0 {
		bare := dynamicpb.NewMessage(fd.Messages().Get(0))
		if proto.Unmarshal(payload, bare) == nil {
			return bare, nil
		}
	}
	return nil, err
}

func decodeIndexed(fd protoreflect.FileDescriptor, payload []byte) (*dynamicpb.Message, error) {
	idx, rest, err := ParseMessageIndexes(payload)
	if err != nil {
		return nil, err
	}
	md, err := MessageByIndexes(fd, idx)
	if err != nil {
		return nil, err
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(rest, m); err != nil {
		return nil, err
	}
	return m, nil
}

// RegisterJSONSchema registers (or finds) a JSON Schema under subject and
// returns its id and the compiled schema to validate documents with.
func (s *Serde) RegisterJSONSchema(ctx context.Context, subject, text string) (int, *jsonschema.Schema, error) {
	sch, err := CompileJSONSchema(text, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("serde: the JSON schema does not compile: %w", err)
	}
	ss, err := s.cl.CreateSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeJSON})
	if err != nil {
		return 0, nil, fmt.Errorf("serde: registering schema under %s: %w", subject, err)
	}
	return ss.ID, sch, nil
}

// AppendEncodeJSON validates a decoded document against sch and appends it
// in the wire format (header, then the document's JSON).
func AppendEncodeJSON(b []byte, id int, sch *jsonschema.Schema, doc any) ([]byte, error) {
	if err := sch.Validate(doc); err != nil {
		return b, fmt.Errorf("serde: the document does not match schema %d: %v", id, err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return b, err
	}
	return append(AppendHeader(b, id), js...), nil
}

// RegisterProto registers (or finds) a .proto under subject and returns its
// id and the descriptor of the named message (full or simple name; empty
// for the first message).
func (s *Serde) RegisterProto(ctx context.Context, subject, text, message string) (int, protoreflect.MessageDescriptor, error) {
	fd, err := CompileProto(text, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("serde: the .proto does not compile: %w", err)
	}
	md, err := FindMessage(fd, message)
	if err != nil {
		return 0, nil, err
	}
	ss, err := s.cl.CreateSchema(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeProtobuf})
	if err != nil {
		return 0, nil, fmt.Errorf("serde: registering schema under %s: %w", subject, err)
	}
	return ss.ID, md, nil
}

// FindMessage finds a message of a file by full name (pkg.Outer.Inner),
// by name relative to the package (Outer.Inner), or by simple name when
// that is unambiguous; "" is the first top-level message.
func FindMessage(fd protoreflect.FileDescriptor, name string) (protoreflect.MessageDescriptor, error) {
	if name == "" {
		if fd.Messages().Len() == 0 {
			return nil, fmt.Errorf("serde: the .proto has no message")
		}
		return fd.Messages().Get(0), nil
	}
	var all []protoreflect.MessageDescriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			if !ms.Get(i).IsMapEntry() {
				all = append(all, ms.Get(i))
				walk(ms.Get(i).Messages())
			}
		}
	}
	walk(fd.Messages())
	var simple []protoreflect.MessageDescriptor
	var names []string
	for _, m := range all {
		full := string(m.FullName())
		if full == name || strings.TrimPrefix(full, string(fd.Package())+".") == name {
			return m, nil
		}
		if string(m.Name()) == name {
			simple = append(simple, m)
		}
		names = append(names, full)
	}
	if len(simple) == 1 {
		return simple[0], nil
	}
	return nil, fmt.Errorf("serde: no message %q in the .proto (it has %s)", name, strings.Join(names, ", "))
}

// AppendEncodeProto appends m in the wire format: header, message indexes,
// binary encoding.
func AppendEncodeProto(b []byte, id int, m proto.Message) ([]byte, error) {
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return b, err
	}
	b = AppendMessageIndexes(AppendHeader(b, id), MessageIndexes(m.ProtoReflect().Descriptor()))
	return append(b, payload...), nil
}

// ProtoFromJSON parses one JSON object (protojson: field names as in the
// .proto or lowerCamelCase) into a message of type md. A field the message
// does not have is an error unless discardUnknown.
func ProtoFromJSON(md protoreflect.MessageDescriptor, js []byte, discardUnknown bool) (proto.Message, error) {
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: discardUnknown}).Unmarshal(js, m); err != nil {
		return nil, err
	}
	return m, nil
}

// TypeName names the type of a JSON Schema or Protobuf record: the
// Protobuf message's full name, or the JSON schema's title (else "JSON").
// ok is false for Avro records and undecodable ones.
func (s *Serde) TypeName(ctx context.Context, b []byte) (string, bool) {
	id, payload, err := ParseHeader(b)
	if err != nil {
		return "", false
	}
	o, err := s.writerOther(ctx, id)
	if err != nil || o == nil {
		return "", false
	}
	if o.typ == sr.TypeProtobuf {
		m, err := s.decodeProto(o.proto, payload)
		if err != nil {
			return "", false
		}
		return string(m.Descriptor().FullName()), true
	}
	if t, ok := o.title(); ok {
		return t, true
	}
	return "JSON", true
}
