package jsoncompat

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

type compatCase struct {
	name           string
	writer, reader string // the old (original) and the new (update) schema
	compatible     bool
	first          string // the first incompatibility's type, when not compatible
	at             string // and its path, when given
}

const (
	objAB       = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`
	objA        = `{"type":"object","properties":{"a":{"type":"string"}}}`
	closedA     = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`
	closedAB    = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`
	partialA    = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}`
	partialAB   = `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":{"type":"integer"}}`
	patternA    = `{"type":"object","properties":{"a":{"type":"string"}},"patternProperties":{"^n_":{"type":"integer"}},"additionalProperties":false}`
	recursiveV1 = `{"$ref":"#/definitions/node","definitions":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"$ref":"#/definitions/node"}}}}}`
	recursiveV2 = `{"$ref":"#/definitions/node","definitions":{"node":{"type":"object","properties":{"v":{"type":"number"},"next":{"$ref":"#/definitions/node"}}}}}`
)

// cases are derived from the rules Confluent documents for JSON Schema
// ("Schema Evolution and Compatibility" and the JSON Schema serdes page):
// each rule once compatible and once not. The reader is the new schema (the
// one a BACKWARD check registers), the writer the old one.
var cases = []compatCase{
	{name: "identical", writer: objAB, reader: objAB, compatible: true},
	{name: "annotations: title, description, $id and default changed", writer: `{"type":"string","title":"a","description":"x","default":"d"}`, reader: `{"$id":"urn:x","type":"string","title":"b","description":"y","default":"e"}`, compatible: true},

	// Types.
	{name: "type: integer widened to number", writer: `{"type":"integer"}`, reader: `{"type":"number"}`, compatible: true},
	{name: "type: number narrowed to integer", writer: `{"type":"number"}`, reader: `{"type":"integer"}`, first: TypeNarrowed, at: "#/type"},
	{name: "type: string changed to integer", writer: `{"type":"string"}`, reader: `{"type":"integer"}`, first: TypeChanged, at: "#/"},
	{name: "type: anything to empty schema", writer: `{"type":"string"}`, reader: `{}`, compatible: true},
	{name: "type: false to string", writer: `false`, reader: `{"type":"string"}`, compatible: true},
	{name: "type: empty schema to string", writer: `true`, reader: `{"type":"string"}`, first: TypeChanged},
	{name: "type: string to string or null (sum extended)", writer: `{"type":"string"}`, reader: `{"type":["string","null"]}`, compatible: true},
	{name: "type: string or null to string (sum narrowed)", writer: `{"type":["string","null"]}`, reader: `{"type":"string"}`, first: TypeChanged},
	{name: "type: boolean to boolean or integer", writer: `{"type":"boolean"}`, reader: `{"type":["integer","boolean"]}`, compatible: true},
	{name: "type: union gains a branch", writer: `{"type":["string","null"]}`, reader: `{"type":["string","null","integer"]}`, compatible: true},
	{name: "type: union loses a branch", writer: `{"type":["string","null","integer"]}`, reader: `{"type":["string","null"]}`, first: SumTypeNarrowed},

	// Strings.
	{name: "string: maxLength increased", writer: `{"type":"string","maxLength":5}`, reader: `{"type":"string","maxLength":10}`, compatible: true},
	{name: "string: maxLength decreased", writer: `{"type":"string","maxLength":10}`, reader: `{"type":"string","maxLength":5}`, first: "MAX_LENGTH_DECREASED", at: "#/maxLength"},
	{name: "string: maxLength removed", writer: `{"type":"string","maxLength":10}`, reader: `{"type":"string"}`, compatible: true},
	{name: "string: maxLength added", writer: `{"type":"string"}`, reader: `{"type":"string","maxLength":10}`, first: "MAX_LENGTH_ADDED"},
	{name: "string: minLength decreased", writer: `{"type":"string","minLength":5}`, reader: `{"type":"string","minLength":1}`, compatible: true},
	{name: "string: minLength increased", writer: `{"type":"string","minLength":1}`, reader: `{"type":"string","minLength":5}`, first: "MIN_LENGTH_INCREASED"},
	{name: "string: minLength added", writer: `{"type":"string"}`, reader: `{"type":"string","minLength":5}`, first: "MIN_LENGTH_ADDED"},
	{name: "string: pattern removed", writer: `{"type":"string","pattern":"^a"}`, reader: `{"type":"string"}`, compatible: true},
	{name: "string: pattern added", writer: `{"type":"string"}`, reader: `{"type":"string","pattern":"^a"}`, first: "PATTERN_ADDED", at: "#/pattern"},
	{name: "string: pattern changed", writer: `{"type":"string","pattern":"^a"}`, reader: `{"type":"string","pattern":"^b"}`, first: "PATTERN_CHANGED"},

	// Numbers.
	{name: "number: maximum increased", writer: `{"type":"number","maximum":10}`, reader: `{"type":"number","maximum":20}`, compatible: true},
	{name: "number: maximum decreased", writer: `{"type":"number","maximum":20}`, reader: `{"type":"number","maximum":10}`, first: "MAXIMUM_DECREASED"},
	{name: "number: maximum added", writer: `{"type":"number"}`, reader: `{"type":"number","maximum":10}`, first: "MAXIMUM_ADDED"},
	{name: "number: minimum decreased", writer: `{"type":"number","minimum":10}`, reader: `{"type":"number","minimum":0}`, compatible: true},
	{name: "number: minimum increased", writer: `{"type":"number","minimum":0}`, reader: `{"type":"number","minimum":10}`, first: "MINIMUM_INCREASED"},
	{name: "number: minimum removed", writer: `{"type":"number","minimum":0}`, reader: `{"type":"number"}`, compatible: true},
	{name: "number: exclusiveMaximum increased", writer: `{"type":"number","exclusiveMaximum":10}`, reader: `{"type":"number","exclusiveMaximum":11}`, compatible: true},
	{name: "number: exclusiveMaximum added", writer: `{"type":"number"}`, reader: `{"type":"number","exclusiveMaximum":11}`, first: "EXCLUSIVE_MAXIMUM_ADDED"},
	{name: "number: exclusiveMinimum decreased", writer: `{"type":"number","exclusiveMinimum":10}`, reader: `{"type":"number","exclusiveMinimum":9}`, compatible: true},
	{name: "number: exclusiveMinimum increased", writer: `{"type":"number","exclusiveMinimum":9}`, reader: `{"type":"number","exclusiveMinimum":10}`, first: "EXCLUSIVE_MINIMUM_INCREASED"},
	{name: "number: draft-4 boolean exclusiveMaximum removed", writer: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":5,"exclusiveMaximum":true}`, reader: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number"}`, compatible: true},
	{name: "number: draft-4 boolean exclusiveMinimum added", writer: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number"}`, reader: `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","minimum":5,"exclusiveMinimum":true}`, first: "EXCLUSIVE_MINIMUM_ADDED"},
	{name: "number: multipleOf reduced", writer: `{"type":"number","multipleOf":10}`, reader: `{"type":"number","multipleOf":5}`, compatible: true},
	{name: "number: multipleOf expanded", writer: `{"type":"number","multipleOf":5}`, reader: `{"type":"number","multipleOf":10}`, first: "MULTIPLE_OF_EXPANDED"},
	{name: "number: multipleOf changed", writer: `{"type":"number","multipleOf":3}`, reader: `{"type":"number","multipleOf":5}`, first: "MULTIPLE_OF_CHANGED"},
	{name: "number: multipleOf removed", writer: `{"type":"number","multipleOf":3}`, reader: `{"type":"number"}`, compatible: true},
	{name: "number: multipleOf added", writer: `{"type":"number"}`, reader: `{"type":"number","multipleOf":3}`, first: "MULTIPLE_OF_ADDED"},

	// Enums and const.
	{name: "enum: value added", writer: `{"enum":["a","b"]}`, reader: `{"enum":["a","b","c"]}`, compatible: true},
	{name: "enum: value removed", writer: `{"enum":["a","b","c"]}`, reader: `{"enum":["a","b"]}`, first: EnumArrayNarrowed, at: "#/enum"},
	{name: "enum: values changed", writer: `{"enum":["a","b"]}`, reader: `{"enum":["a","c"]}`, first: EnumArrayChanged},
	{name: "enum: reordered", writer: `{"enum":["a","b"]}`, reader: `{"enum":["b","a"]}`, compatible: true},
	{name: "const: to enum containing it", writer: `{"const":"a"}`, reader: `{"enum":["a","b"]}`, compatible: true},
	{name: "const: changed", writer: `{"const":"a"}`, reader: `{"const":"b"}`, first: EnumArrayChanged},

	// Objects: open content model.
	{name: "open: property removed", writer: objAB, reader: objA, compatible: true},
	{name: "open: property added", writer: objA, reader: objAB, first: PropertyAddedToOpenContentModel, at: "#/properties/b"},
	{name: "open: property with empty schema added", writer: objA, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{}}}`, compatible: true},
	{name: "open: property type widened", writer: objAB, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}}}`, compatible: true},
	{name: "open: property type changed", writer: objAB, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}`, first: TypeChanged, at: "#/properties/b"},
	{name: "inferred object type: property removed", writer: `{"properties":{"a":{"type":"string"},"b":{}}}`, reader: `{"properties":{"a":{"type":"string"}}}`, compatible: true},

	// Objects: closed content model.
	{name: "closed: optional property added", writer: closedA, reader: closedAB, compatible: true},
	{name: "closed: required property added", writer: closedA, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"],"additionalProperties":false}`, first: RequiredPropertyAddedToUnopenContentModel, at: "#/properties/b"},
	{name: "closed: required property with default added", writer: closedA, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer","default":0}},"required":["b"],"additionalProperties":false}`, compatible: true},
	{name: "closed: property removed", writer: closedAB, reader: closedA, first: PropertyRemovedFromClosedContentModel, at: "#/properties/b"},
	{name: "closed: false property removed", writer: `{"type":"object","properties":{"a":{"type":"string"},"b":false},"additionalProperties":false}`, reader: closedA, compatible: true},

	// Objects: partially open content model.
	{name: "partial: property added, covered by additionalProperties", writer: partialA, reader: partialAB, compatible: true},
	{name: "partial: property added, not covered", writer: partialA, reader: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":{"type":"integer"}}`, first: TypeChanged},
	{name: "partial: property removed, covered", writer: partialAB, reader: partialA, compatible: true},
	{name: "partial: property removed, not covered", writer: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":{"type":"integer"}}`, reader: partialA, first: TypeChanged},
	{name: "partial: property added, covered by patternProperties", writer: patternA, reader: `{"type":"object","properties":{"a":{"type":"string"},"n_b":{"type":"number"}},"patternProperties":{"^n_":{"type":"integer"}},"additionalProperties":false}`, compatible: true},
	{name: "partial: property added, pattern does not cover it", writer: patternA, reader: `{"type":"object","properties":{"a":{"type":"string"},"n_b":{"type":"string"}},"patternProperties":{"^n_":{"type":"integer"}},"additionalProperties":false}`, first: TypeChanged},

	// Objects: required.
	{name: "required: dropped", writer: `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, reader: objA, compatible: true},
	{name: "required: added", writer: objA, reader: `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, first: RequiredAttributeAdded, at: "#/required/a"},
	{name: "required: added with default", writer: objA, reader: `{"type":"object","properties":{"a":{"type":"string","default":"x"}},"required":["a"]}`, compatible: true},

	// Objects: additionalProperties.
	{name: "additionalProperties: allowed", writer: closedA, reader: objA, compatible: true},
	{name: "additionalProperties: forbidden", writer: objA, reader: closedA, first: AdditionalPropertiesRemoved, at: "#/additionalProperties"},
	{name: "additionalProperties: schema dropped (extended)", writer: partialA, reader: objA, compatible: true},
	{name: "additionalProperties: schema given (narrowed)", writer: objA, reader: partialA, first: AdditionalPropertiesNarrowed},
	{name: "additionalProperties: schema widened", writer: partialA, reader: `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"number"}}`, compatible: true},
	{name: "additionalProperties: schema changed", writer: partialA, reader: `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`, first: TypeChanged, at: "#/additionalProperties"},

	// Objects: property counts and dependencies.
	{name: "maxProperties increased", writer: `{"type":"object","maxProperties":2}`, reader: `{"type":"object","maxProperties":3}`, compatible: true},
	{name: "maxProperties decreased", writer: `{"type":"object","maxProperties":3}`, reader: `{"type":"object","maxProperties":2}`, first: "MAX_PROPERTIES_DECREASED"},
	{name: "minProperties removed", writer: `{"type":"object","minProperties":2}`, reader: `{"type":"object"}`, compatible: true},
	{name: "minProperties added", writer: `{"type":"object"}`, reader: `{"type":"object","minProperties":1}`, first: "MIN_PROPERTIES_ADDED"},
	{name: "dependencies: array narrowed", writer: `{"type":"object","dependencies":{"a":["b","c"]}}`, reader: `{"type":"object","dependencies":{"a":["b"]}}`, compatible: true},
	{name: "dependencies: array extended", writer: `{"type":"object","dependencies":{"a":["b"]}}`, reader: `{"type":"object","dependencies":{"a":["b","c"]}}`, first: DependencyArrayExtended},
	{name: "dependencies: array added", writer: `{"type":"object"}`, reader: `{"type":"object","dependencies":{"a":["b"]}}`, first: DependencyArrayAdded},
	{name: "dependencies: schema removed", writer: `{"type":"object","dependencies":{"a":{"required":["b"]}}}`, reader: `{"type":"object"}`, compatible: true},
	{name: "dependencies: 2019-09 dependentSchemas added", writer: `{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"object"}`, reader: `{"$schema":"https://json-schema.org/draft/2019-09/schema","type":"object","dependentSchemas":{"a":{"required":["b"]}}}`, first: DependencySchemaAdded},

	// Arrays.
	{name: "array: items widened", writer: `{"type":"array","items":{"type":"integer"}}`, reader: `{"type":"array","items":{"type":"number"}}`, compatible: true},
	{name: "array: items changed", writer: `{"type":"array","items":{"type":"integer"}}`, reader: `{"type":"array","items":{"type":"string"}}`, first: TypeChanged, at: "#/items"},
	{name: "array: items schema removed", writer: `{"type":"array","items":{"type":"integer"}}`, reader: `{"type":"array"}`, compatible: true},
	{name: "array: items schema added", writer: `{"type":"array"}`, reader: `{"type":"array","items":{"type":"integer"}}`, first: SchemaAdded},
	{name: "array: maxItems increased", writer: `{"type":"array","maxItems":2}`, reader: `{"type":"array","maxItems":3}`, compatible: true},
	{name: "array: maxItems decreased", writer: `{"type":"array","maxItems":3}`, reader: `{"type":"array","maxItems":2}`, first: "MAX_ITEMS_DECREASED"},
	{name: "array: minItems decreased", writer: `{"type":"array","minItems":3}`, reader: `{"type":"array","minItems":2}`, compatible: true},
	{name: "array: minItems added", writer: `{"type":"array"}`, reader: `{"type":"array","minItems":2}`, first: "MIN_ITEMS_ADDED"},
	{name: "array: uniqueItems removed", writer: `{"type":"array","uniqueItems":true}`, reader: `{"type":"array"}`, compatible: true},
	{name: "array: uniqueItems added", writer: `{"type":"array"}`, reader: `{"type":"array","uniqueItems":true}`, first: UniqueItemsAdded},
	{name: "tuple: item removed from open model", writer: `{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, reader: `{"type":"array","items":[{"type":"string"}]}`, compatible: true},
	{name: "tuple: item added to open model", writer: `{"type":"array","items":[{"type":"string"}]}`, reader: `{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, first: ItemAddedToOpenContentModel, at: "#/items/1"},
	{name: "tuple: item added to closed model", writer: `{"type":"array","items":[{"type":"string"}],"additionalItems":false}`, reader: `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`, compatible: true},
	{name: "tuple: item removed from closed model", writer: `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`, reader: `{"type":"array","items":[{"type":"string"}],"additionalItems":false}`, first: ItemRemovedFromClosedContentModel},
	{name: "tuple: additionalItems forbidden", writer: `{"type":"array","items":[{"type":"string"}]}`, reader: `{"type":"array","items":[{"type":"string"}],"additionalItems":false}`, first: AdditionalItemsRemoved},
	{name: "tuple: 2020-12 prefixItems, item added covered by items", writer: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, reader: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":{"type":"integer"}}`, compatible: true},
	{name: "tuple: 2020-12 prefixItems, item added not covered", writer: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, reader: `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"},{"type":"boolean"}],"items":{"type":"integer"}}`, first: TypeChanged},

	// Combined schemas.
	{name: "oneOf: branch added", writer: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, reader: `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}`, compatible: true},
	{name: "oneOf: branch removed", writer: `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}`, reader: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, first: SumTypeNarrowed},
	{name: "anyOf: branches reordered", writer: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, reader: `{"anyOf":[{"type":"integer"},{"type":"string"}]}`, compatible: true},
	{name: "anyOf: branch changed", writer: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, reader: `{"anyOf":[{"type":"string"},{"type":"boolean"}]}`, first: CombinedTypeSubschemasChanged},
	{name: "allOf: branch removed", writer: `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}},{"required":["a"]}]}`, reader: `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}}]}`, compatible: true},
	{name: "allOf: branch added", writer: `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}}]}`, reader: `{"allOf":[{"type":"object","properties":{"a":{"type":"string"}}},{"type":"object","maxProperties":3}]}`, first: ProductTypeExtended},
	{name: "criterion: allOf to anyOf", writer: `{"allOf":[{"type":"string"},{"maxLength":3}]}`, reader: `{"anyOf":[{"type":"string"},{"maxLength":3}]}`, compatible: true},
	{name: "criterion: anyOf to allOf", writer: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, reader: `{"allOf":[{"type":"string"},{"type":"integer"}]}`, first: CombinedTypeChanged},
	{name: "criterion: anyOf to oneOf", writer: `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, reader: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, first: CombinedTypeChanged},
	{name: "criterion: singleton anyOf to oneOf", writer: `{"anyOf":[{"type":"string"}]}`, reader: `{"oneOf":[{"type":"string"}]}`, compatible: true},
	{name: "combined: singleton union compared as its branch", writer: `{"type":"integer"}`, reader: `{"oneOf":[{"type":"number"}]}`, compatible: true},
	{name: "combined: string read by oneOf with a string branch", writer: `{"type":"string"}`, reader: `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, compatible: true},
	{name: "combined: string read by oneOf without one", writer: `{"type":"string"}`, reader: `{"oneOf":[{"type":"boolean"},{"type":"integer"}]}`, first: TypeChanged},

	// not.
	{name: "not: narrowed", writer: `{"not":{"type":"integer"}}`, reader: `{"not":{"type":"integer","minimum":0}}`, compatible: true},
	{name: "not: extended", writer: `{"not":{"type":"integer","minimum":0}}`, reader: `{"not":{"type":"integer"}}`, first: NotTypeExtended},

	// References.
	{name: "$ref: local definition widened", writer: `{"type":"object","properties":{"p":{"$ref":"#/definitions/price"}},"definitions":{"price":{"type":"integer"}}}`, reader: `{"type":"object","properties":{"p":{"$ref":"#/definitions/price"}},"definitions":{"price":{"type":"number"}}}`, compatible: true},
	{name: "$ref: local definition changed", writer: `{"type":"object","properties":{"p":{"$ref":"#/definitions/price"}},"definitions":{"price":{"type":"integer"}}}`, reader: `{"type":"object","properties":{"p":{"$ref":"#/$defs/price"}},"$defs":{"price":{"type":"string"}}}`, first: TypeChanged, at: "#/properties/p"},
	{name: "$ref: inline to reference, same schema", writer: `{"type":"object","properties":{"p":{"type":"integer"}}}`, reader: `{"type":"object","properties":{"p":{"$ref":"#/definitions/p"}},"definitions":{"p":{"type":"integer"}}}`, compatible: true},
	{name: "recursive: widened", writer: recursiveV1, reader: recursiveV2, compatible: true},
	{name: "recursive: narrowed", writer: recursiveV2, reader: recursiveV1, first: TypeNarrowed, at: "#/properties/v/type"},
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case name %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			got := Check(New(decode(t, c.reader), nil), New(decode(t, c.writer), nil))
			if c.compatible {
				if len(got) > 0 {
					t.Fatalf("want compatible, got %v", got)
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("want %s, got compatible (all differences: %v)", c.first, Diff(New(decode(t, c.reader), nil), New(decode(t, c.writer), nil)))
			}
			if got[0].Type != c.first || (c.at != "" && got[0].Path != c.at) {
				t.Fatalf("first incompatibility %v, want %s at %q (all: %v)", got[0], c.first, c.at, got)
			}
		})
	}
}

// Every case's schemas read themselves.
func TestSelfCompatible(t *testing.T) {
	for _, c := range cases {
		for _, s := range []string{c.reader, c.writer} {
			if got := Check(New(decode(t, s), nil), New(decode(t, s), nil)); len(got) > 0 {
				t.Errorf("%s does not read itself: %v", s, got)
			}
		}
	}
}

// A reference to another subject's document is followed by its name.
func TestReferencedDocuments(t *testing.T) {
	main := decode(t, `{"type":"object","properties":{"price":{"$ref":"price.json"}}}`)
	old := New(main, map[string]any{"price.json": decode(t, `{"type":"integer"}`)})
	widened := New(main, map[string]any{"price.json": decode(t, `{"type":"number"}`)})
	changed := New(main, map[string]any{"price.json": decode(t, `{"type":"string"}`)})
	if got := Check(widened, old); len(got) > 0 {
		t.Fatalf("widened reference: %v", got)
	}
	got := Check(changed, old)
	if len(got) != 1 || got[0].Type != TypeChanged || got[0].Path != "#/properties/price" {
		t.Fatalf("changed reference: %v", got)
	}
	// Through the referenced document's $id and a fragment.
	byID := New(decode(t, `{"properties":{"p":{"$ref":"https://example.com/defs.json#/definitions/p"}}}`), map[string]any{"defs": decode(t, `{"$id":"https://example.com/defs.json","definitions":{"p":{"type":"string"}}}`)})
	if got := Check(byID, New(decode(t, `{"properties":{"p":{"type":"integer"}}}`), nil)); len(got) != 1 || got[0].Type != TypeChanged {
		t.Fatalf("by $id: %v", got)
	}
}

func TestMessage(t *testing.T) {
	got := Check(New(decode(t, objAB), nil), New(decode(t, objA), nil))
	if len(got) != 1 || got[0].String() != "Found incompatible change: Difference{jsonPath='#/properties/b', type=PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL}" {
		t.Fatalf("%v", got)
	}
}

// Wide combinations of recursive definitions stay bounded.
func TestBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"$ref":"#/definitions/d0","definitions":{`)
	const n = 60
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		next := (i + 1) % n
		b.WriteString(`"d` + strconv.Itoa(i) + `":{"anyOf":[{"$ref":"#/definitions/d` + strconv.Itoa(next) + `"},{"type":"object","properties":{"x":{"$ref":"#/definitions/d` + strconv.Itoa(next) + `"}}},{"type":"integer"}]}`)
	}
	b.WriteString(`}}`)
	s := New(decode(t, b.String()), nil)
	start := time.Now()
	_ = Check(s, s)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

func FuzzCheck(f *testing.F) {
	for _, c := range cases {
		f.Add(c.reader, c.writer)
	}
	f.Fuzz(func(t *testing.T, reader, writer string) {
		var r, w any
		if json.Unmarshal([]byte(reader), &r) != nil || json.Unmarshal([]byte(writer), &w) != nil {
			return
		}
		for _, i := range append(Check(New(r, nil), New(w, nil)), Check(New(w, nil), New(r, nil))...) {
			if i.Type == "" || !strings.HasPrefix(i.Path, "#") {
				t.Fatalf("malformed %+v", i)
			}
		}
	})
}
