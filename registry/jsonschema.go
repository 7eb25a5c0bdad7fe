package registry

// JSON Schema: drafts 4, 6, 7, 2019-09 and 2020-12, compiled (validated
// against their meta-schemas, every $ref resolved) by
// santhosh-tekuri/jsonschema; compatibility by internal/jsoncompat.
// A "$ref" names another subject's schema by the reference's name, as
// Confluent's JSON Schema serializers register them; nothing is ever
// loaded from a file or the network.

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tickertape/tickertape/internal/jsoncompat"
)

// jsonRootURL is where the registered document sits for resolving relative
// $refs when it has no absolute $id of its own.
const jsonRootURL = "mem://tickertape/schema.json"

type jsonCompiled struct {
	doc    any            // the document, numbers as json.Number
	refs   map[string]any // referenced documents by reference name
	schema *jsonschema.Schema
}

// refusingLoader is the compiler's only loader: every document must come
// from a reference.
type refusingLoader struct{}

func (refusingLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%s is not among the schema's references (add a reference named %q, or fix the $ref)", u, u)
}

func decodeJSONDoc(text string) (any, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("the schema is not valid UTF-8")
	}
	if d := nestingDepth(text, "{[", "}]"); d > maxNesting {
		return nil, fmt.Errorf("the schema nests %d levels deep; the limit is %d", d, maxNesting)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the schema is not valid JSON: %v", err)
	}
	switch doc.(type) {
	case map[string]any, bool:
		return doc, nil
	}
	return nil, errors.New("a JSON Schema is an object or a boolean")
}

// collectRefs resolves references (and theirs, transitively) into documents
// by name, all of type typ. decode turns a referenced schema's text into a
// document.
func collectRefs[T any](typ string, refs []Reference, resolve resolver, depth int, into map[string]T, decode func(string) (T, error)) error {
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
		if e.Type != typ {
			return fmt.Errorf("reference %q: subject %q version %d is a %s schema; a %s schema can only reference %s schemas", r.Name, r.Subject, r.Version, e.Type, typ, typ)
		}
		if _, seen := into[r.Name]; seen {
			continue
		}
		d, err := decode(e.Schema)
		if err != nil {
			return fmt.Errorf("reference %q (subject %q version %d): %v", r.Name, r.Subject, r.Version, err)
		}
		into[r.Name] = d
		if err := collectRefs(typ, e.References, resolve, depth+1, into, decode); err != nil {
			return err
		}
	}
	return nil
}

func compileJSON(text string, refs []Reference, resolve resolver) (compiled, error) {
	doc, err := decodeJSONDoc(text)
	if err != nil {
		return nil, err
	}
	docs := map[string]any{}
	if err := collectRefs(typeJSON, refs, resolve, 0, docs, decodeJSONDoc); err != nil {
		return nil, err
	}
	if at, cyclic := jsoncompat.RefCycle(jsoncompat.New(doc, docs)); cyclic {
		return nil, fmt.Errorf("the $ref at %s is part of a cycle of references that never reaches a schema", at)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7) // Confluent's default without $schema
	c.UseLoader(refusingLoader{})
	c.AssertFormat()
	base := jsonRootURL
	if id := rootID(doc); id != "" {
		if u, err := url.Parse(id); err == nil && u.IsAbs() {
			base = id
		}
	}
	if err := c.AddResource(base, doc); err != nil {
		return nil, err
	}
	baseURL, _ := url.Parse(base)
	for name, d := range docs {
		u, err := url.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("reference name %q is not a URL: %v", name, err)
		}
		if err := c.AddResource(baseURL.ResolveReference(u).String(), d); err != nil {
			return nil, fmt.Errorf("reference %q: %v", name, err)
		}
	}
	sch, err := c.Compile(base)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), jsonRootURL, "the schema"))
	}
	return &jsonCompiled{doc: doc, refs: docs, schema: sch}, nil
}

func rootID(doc any) string {
	m, ok := doc.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"$id", "id"} {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	return ""
}

// identity is the document's canonical JSON: keys sorted, no whitespace,
// numbers as written.
func (j *jsonCompiled) identity() (string, error) { return canonicalJSON(j.doc), nil }

// normalized is the same canonical JSON.
func (j *jsonCompiled) normalized() (string, error) { return canonicalJSON(j.doc), nil }

func (j *jsonCompiled) check(writer compiled) []string {
	w, ok := writer.(*jsonCompiled)
	if !ok {
		return []string{"Found incompatible change: Difference{jsonPath='#/', type=TYPE_CHANGED}"}
	}
	var out []string
	for _, i := range jsoncompat.Check(jsoncompat.New(j.doc, j.refs), jsoncompat.New(w.doc, w.refs)) {
		out = append(out, i.String())
	}
	return out
}

// canonicalJSON writes a decoded document with sorted keys (encoding/json
// sorts map keys; json.Number keeps numbers as written).
func canonicalJSON(v any) string { return string(marshal(v)) }
