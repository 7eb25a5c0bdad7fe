package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/tickertape/tickertape/internal/avroparse"
)

// maxReferenceDepth bounds chains of references (a → b → c …), which also
// stops cycles.
const maxReferenceDepth = 32

// resolver finds the schema a reference names (subject and version), deleted
// versions included, as Confluent resolves them.
type resolver func(subject string, version int) (*schemaEntry, bool)

// parseAvro parses an Avro schema whose named types may come from references.
// Every parse uses its own cache: hamba/avro's default cache is global and
// would let one subject's names leak into another's.
func parseAvro(text string, refs []Reference, resolve resolver) (avro.Schema, error) {
	if !json.Valid([]byte(text)) {
		return nil, errors.New("the schema is not valid JSON")
	}
	if !utf8.ValidString(text) {
		return nil, errors.New("the schema is not valid UTF-8")
	}
	if err := checkEscapes(text); err != nil {
		return nil, err
	}
	cache := &avro.SchemaCache{}
	if err := loadReferences(cache, refs, resolve, 0); err != nil {
		return nil, err
	}
	s, err := avroparse.Parse(text, cache)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "avro: "))
	}
	return s, nil
}

func loadReferences(cache *avro.SchemaCache, refs []Reference, resolve resolver, depth int) error {
	if len(refs) > 0 && depth >= maxReferenceDepth {
		return fmt.Errorf("references nest deeper than %d levels (or form a cycle)", maxReferenceDepth)
	}
	for _, r := range refs {
		if r.Name == "" || r.Subject == "" {
			return fmt.Errorf("a reference needs a name and a subject: %+v", r)
		}
		e, ok := resolve(r.Subject, r.Version)
		if !ok {
			return fmt.Errorf("reference %q: subject %q version %d not found", r.Name, r.Subject, r.Version)
		}
		if err := loadReferences(cache, e.References, resolve, depth+1); err != nil {
			return err
		}
		if _, err := avroparse.Parse(e.Schema, cache); err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %v", r.Name, r.Subject, r.Version, err)
		}
	}
	return nil
}

// identity is what makes two registrations the same schema: the parsed
// schema's full JSON (hamba/avro's MarshalJSON: full names, one key order, no
// whitespace, and every attribute that changes meaning, defaults, aliases,
// logical types, order and docs included) plus the references. Parsing
// Canonical Form alone is too coarse here: it drops defaults and aliases, so
// adding a default (the usual way to make a change compatible) would look
// like the same schema and be silently discarded.
func identity(s avro.Schema, refs []Reference) (string, error) {
	b, err := marshalAvro(s, true)
	if err != nil {
		return "", err
	}
	if len(refs) > 0 {
		b = append(b, '|')
		b = append(b, marshal(refs)...)
	}
	return string(b), nil
}

// normalizeAvro returns the normalized text of a schema (what ?normalize=true
// stores): its full JSON as identity builds it. A schema with references is
// kept as written, compacted, since normalizing would inline the referenced
// types.
func normalizeAvro(text string, s avro.Schema, refs []Reference) (string, error) {
	if len(refs) > 0 {
		return compactJSON(text)
	}
	b, err := marshalAvro(s, false)
	return string(b), err
}

// marshalAvro is a schema's full JSON without the attributes Avro's parser
// ignores on a primitive type: {"type":"int","name":"x"} is "int" with no
// name (Java Avro reserves name, namespace, aliases, doc and the complex
// types' keys, and drops them from primitives), so it is the same schema.
func marshalAvro(s avro.Schema, canonical bool) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil || !bytes.Contains(b, []byte(`"name"`)) && !bytes.Contains(b, []byte(`"doc"`)) && !bytes.Contains(b, []byte(`"aliases"`)) && !bytes.Contains(b, []byte(`"namespace"`)) {
		return b, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return b, nil
	}
	v, changed := stripPrimitives(v)
	if !changed && !canonical {
		return b, nil
	}
	return json.Marshal(v)
}

var avroPrimitives = map[string]bool{"null": true, "boolean": true, "int": true, "long": true, "float": true, "double": true, "bytes": true, "string": true}

// stripPrimitives removes reserved attributes from primitive schemas at
// schema positions of v (a decoded schema), writing a primitive left with
// its type alone as the bare type name, and reports whether it changed
// anything.
func stripPrimitives(v any) (any, bool) {
	changed := false
	sub := func(x any) any {
		nv, c := stripPrimitives(x)
		changed = changed || c
		return nv
	}
	switch x := v.(type) {
	case []any:
		for i, b := range x {
			x[i] = sub(b)
		}
	case map[string]any:
		switch t := x["type"].(type) {
		case string:
			if avroPrimitives[t] {
				for _, k := range []string{"name", "namespace", "aliases", "doc", "fields", "items", "size", "symbols", "values"} {
					if _, ok := x[k]; ok {
						delete(x, k)
						changed = true
					}
				}
				if changed && len(x) == 1 {
					return t, true
				}
			}
			if fs, ok := x["fields"].([]any); ok && (t == "record" || t == "error") {
				for _, f := range fs {
					if fm, ok := f.(map[string]any); ok {
						fm["type"] = sub(fm["type"])
					}
				}
			}
			if t == "array" {
				x["items"] = sub(x["items"])
			}
			if t == "map" {
				x["values"] = sub(x["values"])
			}
		default:
			x["type"] = sub(t)
		}
	}
	return v, changed
}

// compactJSON removes insignificant whitespace, as Confluent stores schemas.
func compactJSON(text string) (string, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(text)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// checkEscapes refuses \u escapes that decode to no character (a lone UTF-16
// surrogate): JSON decoders turn them into U+FFFD silently, so they would let
// invalid UTF-8 into a doc, a default or a name anywhere in the schema.
func checkEscapes(text string) error {
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' || i+1 >= len(text) {
			continue
		}
		if text[i+1] != 'u' {
			i++ // skip the escaped character (it may be a backslash)
			continue
		}
		r, ok := hex4(text, i+2)
		if !ok {
			continue // json.Valid has already refused it
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Errorf("the schema has a lone UTF-16 surrogate escape \\u%04X at byte %d: not valid Unicode", r, i)
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := rune(0), false
			if i+7 < len(text) && text[i+6] == '\\' && text[i+7] == 'u' {
				lo, ok = hex4(text, i+8)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return fmt.Errorf("the schema has a lone UTF-16 surrogate escape \\u%04X at byte %d: not valid Unicode", r, i)
			}
			i += 11
		default:
			i += 5
		}
	}
	return nil
}

func hex4(s string, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | (c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | (c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
