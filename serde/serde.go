// Package serde encodes and decodes Kafka record values in the Confluent wire
// format: a zero magic byte, the schema's registry id as 4 big-endian bytes,
// then the Avro binary encoding. It talks to any Confluent-compatible schema
// registry through franz-go's sr client and caches what it learns (ids by
// subject and schema, schemas by id, resolutions by writer and reader), so
// the registry is asked once per schema, not once per record.
//
// Decoding resolves the writer's schema (found by the id in the record)
// against the reader's schema with Avro's schema-resolution rules, so that a
// consumer reads records written with older and newer versions alike.
//
// JSON Schema and Protobuf records (formats.go) are encoded and decoded in
// the same wire format, Protobuf with its message-index array.
//
// serde does not pick subjects (callers pass them, e.g. by
// TopicRecordNameStrategy).
package serde

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/tickertape/tickertape/internal/avroparse"
)

// Errors a decoder reports for bytes it cannot decode; use errors.Is. A
// consumer sends such records to a dead-letter topic with the reason.
var (
	ErrBadMagic        = errors.New("serde: not Confluent wire format (magic byte is not 0)")
	ErrTruncated       = errors.New("serde: record shorter than the 5-byte header")
	ErrUnknownSchemaID = errors.New("serde: schema id unknown to the registry")
	ErrUndecodable     = errors.New("serde: payload does not decode with its schema")
	ErrIncompatible    = errors.New("serde: writer schema cannot be read with the reader schema")
)

// api bounds what one record may make the decoder allocate, so that a
// corrupt or hostile length prefix is an error and not an out-of-memory
// crash: strings and bytes up to 16 MiB, arrays and maps up to 1M elements
// (a Kafka record is at most a few MiB).
var api = avro.Config{MaxByteSliceSize: 16 << 20, MaxSliceAllocSize: 1 << 20}.Freeze()

// HeaderSize is the wire format's prefix: magic byte and schema id.
const HeaderSize = 5

// AppendHeader appends the wire-format header for a schema id.
func AppendHeader(b []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0), uint32(id))
}

// ParseHeader splits a record value into its schema id and Avro payload.
func ParseHeader(b []byte) (id int, payload []byte, err error) {
	if len(b) < HeaderSize {
		return 0, nil, ErrTruncated
	}
	if b[0] != 0 {
		return 0, nil, ErrBadMagic
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], nil
}

// Serde encodes and decodes through a registry. It is safe for concurrent use.
type Serde struct {
	cl *sr.Client

	mu       sync.RWMutex
	ids      map[subjectSchema]int
	schemas  map[int]avro.Schema
	resolved map[resolution]avro.Schema
	others   map[int]*other // JSON Schema and Protobuf writer schemas
	// readers memoizes each reader schema's digest (the SHA-256 of its full
	// JSON) by the schema's identity: computing it marshals the whole
	// schema, which for every record decoded was most of a consumer's CPU.
	readers map[avro.Schema][32]byte
}

// maxReaders bounds readers: a caller that builds a new reader schema for
// every record pays the marshal each time instead of growing the map.
const maxReaders = 256

type subjectSchema struct{ subject, canonical string }

type resolution struct {
	writerID int
	reader   [32]byte // SHA-256 of the reader's full JSON (not its canonical-form fingerprint, which ignores defaults)
}

// New returns a Serde that uses the registry client cl.
func New(cl *sr.Client) *Serde {
	return &Serde{
		cl:       cl,
		ids:      map[subjectSchema]int{},
		schemas:  map[int]avro.Schema{},
		resolved: map[resolution]avro.Schema{},
		others:   map[int]*other{},
		readers:  map[avro.Schema][32]byte{},
	}
}

// Register registers schema under subject (or finds it, if it is already
// there) and returns its id. Repeated calls are answered from the cache.
func (s *Serde) Register(ctx context.Context, subject string, schema avro.Schema) (int, error) {
	key := subjectSchema{subject, schema.String()}
	s.mu.RLock()
	id, ok := s.ids[key]
	s.mu.RUnlock()
	if ok {
		return id, nil
	}
	text, err := schema.(interface{ MarshalJSON() ([]byte, error) }).MarshalJSON()
	if err != nil {
		return 0, fmt.Errorf("serde: encoding schema for %s: %w", subject, err)
	}
	ss, err := s.cl.CreateSchema(ctx, subject, sr.Schema{Schema: string(text), Type: sr.TypeAvro})
	if err != nil {
		return 0, fmt.Errorf("serde: registering schema under %s: %w", subject, err)
	}
	s.mu.Lock()
	s.ids[key] = ss.ID
	s.schemas[ss.ID] = schema
	s.mu.Unlock()
	return ss.ID, nil
}

// AppendEncode appends v encoded with schema (registered as id) in the wire
// format.
func (s *Serde) AppendEncode(b []byte, id int, schema avro.Schema, v any) ([]byte, error) {
	payload, err := api.Marshal(schema, v)
	if err != nil {
		return b, fmt.Errorf("serde: encoding with schema %d: %w", id, err)
	}
	return append(AppendHeader(b, id), payload...), nil
}

// WriterSchema returns the schema a record was written with, asking the
// registry (once) for ids it has not seen.
func (s *Serde) WriterSchema(ctx context.Context, id int) (avro.Schema, error) {
	s.mu.RLock()
	sch, ok := s.schemas[id]
	s.mu.RUnlock()
	if ok {
		return sch, nil
	}
	got, err := s.cl.SchemaByID(ctx, id)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.ErrorCode == 40403 {
			return nil, fmt.Errorf("%w: id %d", ErrUnknownSchemaID, id)
		}
		return nil, fmt.Errorf("serde: fetching schema %d: %w", id, err)
	}
	if got.Type != sr.TypeAvro {
		return nil, fmt.Errorf("%w: schema %d is %s, not AVRO", ErrUndecodable, id, got.Type)
	}
	cache := &avro.SchemaCache{}
	for _, ref := range got.References {
		rs, err := s.cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			return nil, fmt.Errorf("serde: fetching reference %s of schema %d: %w", ref.Name, id, err)
		}
		if _, err := avroparse.Parse(rs.Schema.Schema, cache); err != nil {
			return nil, fmt.Errorf("serde: reference %s of schema %d: %w", ref.Name, id, err)
		}
	}
	sch, err = avroparse.Parse(got.Schema, cache)
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d does not parse: %v", ErrUndecodable, id, err)
	}
	s.mu.Lock()
	s.schemas[id] = sch
	s.mu.Unlock()
	return sch, nil
}

// Decode decodes a wire-format value into v. With a nil reader the writer's
// schema is used as is; otherwise the writer's schema is resolved against
// reader (Avro schema resolution: new fields take their defaults, removed
// ones are skipped, promotions apply).
func (s *Serde) Decode(ctx context.Context, b []byte, reader avro.Schema, v any) error {
	id, payload, err := ParseHeader(b)
	if err != nil {
		return err
	}
	writer, err := s.WriterSchema(ctx, id)
	if err != nil {
		return err
	}
	if err := validate(writer, payload); err != nil {
		return fmt.Errorf("%w: schema %d: %v", ErrUndecodable, id, err)
	}
	sch := writer
	if reader != nil {
		if sch, err = s.resolve(id, writer, reader); err != nil {
			return err
		}
	}
	if err := api.Unmarshal(sch, payload, v); err != nil {
		return fmt.Errorf("%w: schema %d: %v", ErrUndecodable, id, err)
	}
	return nil
}

func (s *Serde) resolve(id int, writer, reader avro.Schema) (avro.Schema, error) {
	digest, err := s.readerDigest(reader)
	if err != nil {
		return nil, err
	}
	key := resolution{writerID: id, reader: digest}
	s.mu.RLock()
	sch, ok := s.resolved[key]
	s.mu.RUnlock()
	if ok {
		return sch, nil
	}
	// A checker per resolution: hamba/avro's caches verdicts by canonical-form
	// fingerprints, which ignore defaults and aliases, so a long-lived one
	// could resolve a reader with the answer for another. Ours is cached above.
	sch, err = avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		return nil, fmt.Errorf("%w: schema %d: %v", ErrIncompatible, id, err)
	}
	s.mu.Lock()
	s.resolved[key] = sch
	s.mu.Unlock()
	return sch, nil
}

// readerDigest is the SHA-256 of reader's full JSON, memoized by the
// schema's identity when it is a pointer (hamba/avro's schemas are; they
// are not changed once parsed).
func (s *Serde) readerDigest(reader avro.Schema) ([32]byte, error) {
	byIdentity := reflect.TypeOf(reader).Kind() == reflect.Pointer
	if byIdentity {
		s.mu.RLock()
		d, ok := s.readers[reader]
		s.mu.RUnlock()
		if ok {
			return d, nil
		}
	}
	full, err := json.Marshal(reader)
	if err != nil {
		return [32]byte{}, fmt.Errorf("%w: reader schema: %v", ErrIncompatible, err)
	}
	d := sha256.Sum256(full)
	if byIdentity {
		s.mu.Lock()
		if len(s.readers) >= maxReaders {
			clear(s.readers)
		}
		s.readers[reader] = d
		s.mu.Unlock()
	}
	return d, nil
}

// Client is the registry client the Serde uses.
func (s *Serde) Client() *sr.Client { return s.cl }
