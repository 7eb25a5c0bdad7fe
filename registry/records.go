package registry

// The _schemas topic's record format, as Confluent Schema Registry writes it
// (and Karapace reads it): JSON keys with a keytype and a magic number, JSON
// values, null values as deletes. Keys are written with their fields in
// Confluent's order so that other implementations reading the topic see the
// same bytes they would write.

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Key types.
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyMode          = "MODE"
	keyDeleteSubject = "DELETE_SUBJECT"
	keyClearSubject  = "CLEAR_SUBJECT"
	keyNoop          = "NOOP"
)

// recordKey is any _schemas key. Subject is a pointer because CONFIG and MODE
// keys for the global setting carry "subject": null.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject,omitempty"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

// Reference names a schema in another subject that this one uses (for Avro, a
// named type defined there).
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// schemaValue is the value of a SCHEMA record.
type schemaValue struct {
	Subject    string          `json:"subject"`
	Version    int             `json:"version"`
	ID         int             `json:"id"`
	SchemaType string          `json:"schemaType,omitempty"` // empty means AVRO
	References []Reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
	Deleted    bool            `json:"deleted"`
}

type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

type modeValue struct {
	Mode string `json:"mode"`
}

type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// encodeKey writes a key with Confluent's field order: keytype, subject,
// version, magic; subject is null for the global CONFIG and MODE.
func encodeKey(k recordKey) []byte {
	var b bytes.Buffer
	b.WriteString(`{"keytype":`)
	writeJSON(&b, k.KeyType)
	switch k.KeyType {
	case keyNoop:
	case keyConfig, keyMode:
		b.WriteString(`,"subject":`)
		if k.Subject == nil {
			b.WriteString("null")
		} else {
			writeJSON(&b, *k.Subject)
		}
	default:
		b.WriteString(`,"subject":`)
		writeJSON(&b, deref(k.Subject))
	}
	if k.KeyType == keySchema {
		fmt.Fprintf(&b, `,"version":%d`, k.Version)
	}
	fmt.Fprintf(&b, `,"magic":%d}`, k.Magic)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	b.Truncate(b.Len() - 1) // Encode's newline
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func schemaKey(subject string, version int) []byte {
	return encodeKey(recordKey{KeyType: keySchema, Subject: &subject, Version: version, Magic: 1})
}

func configKey(subject string) []byte {
	k := recordKey{KeyType: keyConfig}
	if subject != "" {
		k.Subject = &subject
	}
	return encodeKey(k)
}

func modeKey(subject string) []byte {
	k := recordKey{KeyType: keyMode}
	if subject != "" {
		k.Subject = &subject
	}
	return encodeKey(k)
}

func deleteSubjectKey(subject string) []byte {
	return encodeKey(recordKey{KeyType: keyDeleteSubject, Subject: &subject})
}

func marshal(v any) []byte {
	var b bytes.Buffer
	writeJSON(&b, v)
	return b.Bytes()
}

// record is one _schemas record to write; a nil Value is a tombstone.
type record struct {
	Key, Value []byte
}
