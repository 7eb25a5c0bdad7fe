package jsoncompat

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The difference types, named as Confluent's JSON Schema Difference.Type.
const (
	IDChanged          = "ID_CHANGED"
	DescriptionChanged = "DESCRIPTION_CHANGED"
	TitleChanged       = "TITLE_CHANGED"
	DefaultChanged     = "DEFAULT_CHANGED"
	SchemaAdded        = "SCHEMA_ADDED"
	SchemaRemoved      = "SCHEMA_REMOVED"
	TypeExtended       = "TYPE_EXTENDED"
	TypeNarrowed       = "TYPE_NARROWED"
	TypeChanged        = "TYPE_CHANGED"

	RequiredAttributeAdded            = "REQUIRED_ATTRIBUTE_ADDED"
	RequiredAttributeWithDefaultAdded = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
	RequiredAttributeRemoved          = "REQUIRED_ATTRIBUTE_REMOVED"

	PropertyAddedToOpenContentModel                 = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
	PropertyWithEmptySchemaAddedToOpenContentModel  = "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	RequiredPropertyAddedToUnopenContentModel       = "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	RequiredPropertyWithDefaultAddedToUnopenModel   = "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
	OptionalPropertyAddedToUnopenContentModel       = "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
	PropertyRemovedFromOpenContentModel             = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
	PropertyRemovedFromClosedContentModel           = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	PropertyWithFalseRemovedFromClosedContentModel  = "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	PropertyAddedIsCoveredByPartiallyOpenModel      = "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyAddedNotCoveredByPartiallyOpenModel     = "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyRemovedIsCoveredByPartiallyOpenModel    = "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	PropertyRemovedNotCoveredByPartiallyOpenModel   = "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	AdditionalPropertiesAdded                       = "ADDITIONAL_PROPERTIES_ADDED"
	AdditionalPropertiesRemoved                     = "ADDITIONAL_PROPERTIES_REMOVED"
	AdditionalPropertiesExtended                    = "ADDITIONAL_PROPERTIES_EXTENDED"
	AdditionalPropertiesNarrowed                    = "ADDITIONAL_PROPERTIES_NARROWED"
	DependencyArrayAdded                            = "DEPENDENCY_ARRAY_ADDED"
	DependencyArrayRemoved                          = "DEPENDENCY_ARRAY_REMOVED"
	DependencyArrayExtended                         = "DEPENDENCY_ARRAY_EXTENDED"
	DependencyArrayNarrowed                         = "DEPENDENCY_ARRAY_NARROWED"
	DependencyArrayChanged                          = "DEPENDENCY_ARRAY_CHANGED"
	DependencySchemaAdded                           = "DEPENDENCY_SCHEMA_ADDED"
	DependencySchemaRemoved                         = "DEPENDENCY_SCHEMA_REMOVED"
	ItemAddedToOpenContentModel                     = "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
	ItemWithEmptySchemaAddedToOpenContentModel      = "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
	ItemAddedToClosedContentModel                   = "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"
	ItemRemovedFromOpenContentModel                 = "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL"
	ItemRemovedFromClosedContentModel               = "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	ItemWithFalseRemovedFromClosedContentModel      = "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL"
	ItemAddedIsCoveredByPartiallyOpenContentModel   = "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	ItemAddedNotCoveredByPartiallyOpenContentModel  = "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	ItemRemovedIsCoveredByPartiallyOpenContentModel = "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	ItemRemovedNotCoveredByPartiallyOpenModel       = "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
	AdditionalItemsAdded                            = "ADDITIONAL_ITEMS_ADDED"
	AdditionalItemsRemoved                          = "ADDITIONAL_ITEMS_REMOVED"
	AdditionalItemsExtended                         = "ADDITIONAL_ITEMS_EXTENDED"
	AdditionalItemsNarrowed                         = "ADDITIONAL_ITEMS_NARROWED"
	UniqueItemsAdded                                = "UNIQUE_ITEMS_ADDED"
	UniqueItemsRemoved                              = "UNIQUE_ITEMS_REMOVED"

	EnumArrayExtended = "ENUM_ARRAY_EXTENDED"
	EnumArrayNarrowed = "ENUM_ARRAY_NARROWED"
	EnumArrayChanged  = "ENUM_ARRAY_CHANGED"

	CombinedTypeExtended          = "COMBINED_TYPE_EXTENDED"
	CombinedTypeChanged           = "COMBINED_TYPE_CHANGED"
	ProductTypeExtended           = "PRODUCT_TYPE_EXTENDED"
	ProductTypeNarrowed           = "PRODUCT_TYPE_NARROWED"
	SumTypeExtended               = "SUM_TYPE_EXTENDED"
	SumTypeNarrowed               = "SUM_TYPE_NARROWED"
	CombinedTypeSubschemasChanged = "COMBINED_TYPE_SUBSCHEMAS_CHANGED"
	NotTypeExtended               = "NOT_TYPE_EXTENDED"
	NotTypeNarrowed               = "NOT_TYPE_NARROWED"
)

// The bounded keywords: NAME_ADDED, NAME_REMOVED, NAME_INCREASED,
// NAME_DECREASED with NAME one of these (and MULTIPLE_OF_EXPANDED,
// _REDUCED, _CHANGED).
var boundNames = map[string]string{
	"maxLength": "MAX_LENGTH", "minLength": "MIN_LENGTH",
	"maximum": "MAXIMUM", "minimum": "MINIMUM",
	"exclusiveMaximum": "EXCLUSIVE_MAXIMUM", "exclusiveMinimum": "EXCLUSIVE_MINIMUM",
	"maxProperties": "MAX_PROPERTIES", "minProperties": "MIN_PROPERTIES",
	"maxItems": "MAX_ITEMS", "minItems": "MIN_ITEMS",
}

// compatible are the difference types that do not break readers, as
// Confluent's SchemaDiff lists them.
var compatible = map[string]bool{}

func init() {
	for _, t := range []string{
		IDChanged, DescriptionChanged, TitleChanged, DefaultChanged, SchemaRemoved, TypeExtended,
		"MAX_LENGTH_INCREASED", "MAX_LENGTH_REMOVED", "MIN_LENGTH_DECREASED", "MIN_LENGTH_REMOVED", "PATTERN_REMOVED",
		"MAXIMUM_INCREASED", "MAXIMUM_REMOVED", "MINIMUM_DECREASED", "MINIMUM_REMOVED",
		"EXCLUSIVE_MAXIMUM_INCREASED", "EXCLUSIVE_MAXIMUM_REMOVED", "EXCLUSIVE_MINIMUM_DECREASED", "EXCLUSIVE_MINIMUM_REMOVED",
		"MULTIPLE_OF_REDUCED", "MULTIPLE_OF_REMOVED",
		RequiredAttributeWithDefaultAdded, RequiredAttributeRemoved, DependencyArrayNarrowed, DependencyArrayRemoved, DependencySchemaRemoved,
		"MAX_PROPERTIES_INCREASED", "MAX_PROPERTIES_REMOVED", "MIN_PROPERTIES_DECREASED", "MIN_PROPERTIES_REMOVED",
		AdditionalPropertiesAdded, AdditionalPropertiesExtended, PropertyWithEmptySchemaAddedToOpenContentModel,
		RequiredPropertyWithDefaultAddedToUnopenModel, OptionalPropertyAddedToUnopenContentModel,
		PropertyWithFalseRemovedFromClosedContentModel, PropertyRemovedFromOpenContentModel,
		PropertyAddedIsCoveredByPartiallyOpenModel, PropertyRemovedIsCoveredByPartiallyOpenModel,
		"MAX_ITEMS_INCREASED", "MAX_ITEMS_REMOVED", "MIN_ITEMS_DECREASED", "MIN_ITEMS_REMOVED", UniqueItemsRemoved,
		AdditionalItemsAdded, AdditionalItemsExtended, ItemWithEmptySchemaAddedToOpenContentModel, ItemAddedToClosedContentModel,
		ItemWithFalseRemovedFromClosedContentModel, ItemRemovedFromOpenContentModel,
		ItemAddedIsCoveredByPartiallyOpenContentModel, ItemRemovedIsCoveredByPartiallyOpenContentModel,
		EnumArrayExtended, CombinedTypeExtended, ProductTypeNarrowed, SumTypeExtended, NotTypeNarrowed,
	} {
		compatible[t] = true
	}
}

// IsCompatible reports whether a difference type is one Confluent accepts.
func IsCompatible(typ string) bool { return compatible[typ] }

// Incompatibility is one difference that breaks readers.
type Incompatibility struct {
	Type string // a Difference.Type name, e.g. PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
	Path string // JSON pointer in the schemas, e.g. "#/properties/price"
}

// String renders the incompatibility as Confluent's verbose compatibility
// answers do.
func (i Incompatibility) String() string {
	return fmt.Sprintf("Found incompatible change: Difference{jsonPath='%s', type=%s}", i.Path, i.Type)
}

// Schema is a JSON Schema document together with the documents its "$ref"s
// may name (a registry subject's references, by reference name).
type Schema struct {
	root any
	docs map[string]any
}

// New returns a Schema for a decoded JSON document (bool or map[string]any,
// as encoding/json decodes; numbers may be float64 or json.Number) and the
// documents it references by name. refs may be nil.
func New(root any, refs map[string]any) *Schema {
	return &Schema{root: root, docs: refs}
}

// Check reports what makes documents valid under writer invalid under
// reader (the reader is Confluent's "update", the writer its "original").
// An empty result means compatible. It never panics and terminates on
// recursive schemas.
func Check(reader, writer *Schema) []Incompatibility {
	var out []Incompatibility
	for _, d := range Diff(reader, writer) {
		if !compatible[d.Type] {
			out = append(out, d)
		}
	}
	return out
}

// Diff lists every difference, compatible ones included.
func Diff(reader, writer *Schema) []Incompatibility {
	if reader == nil || writer == nil {
		return []Incompatibility{{Type: TypeChanged, Path: "#/"}}
	}
	c := &ctx{visited: map[[2]uintptr]bool{}, budget: 1 << 20}
	c.compare(node{writer, "", writer.root}, node{reader, "", reader.root}, "#")
	return c.diffs
}

// node is a schema value inside one of the documents: doc "" is the root
// document, otherwise a reference name.
type node struct {
	s   *Schema
	doc string
	v   any
}

type ctx struct {
	diffs   []Incompatibility
	visited map[[2]uintptr]bool
	budget  int // comparisons left; bounds pathological combinations
	depth   int
}

func (c *ctx) add(p, typ string) {
	if p == "#" {
		p = "#/"
	}
	c.diffs = append(c.diffs, Incompatibility{Type: typ, Path: p})
}

func (c *ctx) sub() *ctx {
	return &ctx{visited: c.visited, budget: c.budget, depth: c.depth}
}

func (c *ctx) merge(s *ctx) {
	c.diffs = append(c.diffs, s.diffs...)
	c.budget = s.budget
}

func (c *ctx) ok() bool {
	for _, d := range c.diffs {
		if !compatible[d.Type] {
			return false
		}
	}
	return true
}

func ptrOf(v any) uintptr {
	if m, ok := v.(map[string]any); ok {
		return reflect.ValueOf(m).Pointer()
	}
	return 0
}

// deref follows "$ref" chains (bounded).
func (n node) deref() (node, bool) {
	followed := false
	for range 64 {
		m, ok := n.v.(map[string]any)
		if !ok {
			return n, followed
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return n, followed
		}
		next, ok := n.resolve(ref)
		if !ok {
			return node{n.s, n.doc, true}, true
		}
		n, followed = next, true
	}
	return node{n.s, n.doc, true}, true
}

func (n node) resolve(ref string) (node, bool) {
	uri, frag, _ := strings.Cut(ref, "#")
	doc, name := n.docValue(n.doc), n.doc
	if uri != "" {
		var ok bool
		if doc, name, ok = n.findDoc(uri); !ok {
			return node{}, false
		}
	}
	if frag == "" {
		return node{n.s, name, doc}, true
	}
	if !strings.HasPrefix(frag, "/") {
		if v := findAnchor(doc, frag, 0); v != nil {
			return node{n.s, name, v}, true
		}
		return node{}, false
	}
	v := doc
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return node{}, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return node{}, false
			}
			v = x[i]
		default:
			return node{}, false
		}
	}
	return node{n.s, name, v}, true
}

func (n node) docValue(name string) any {
	if name == "" {
		return n.s.root
	}
	return n.s.docs[name]
}

// findDoc finds a referenced document by the URI a $ref names: a reference
// name, the $id of the root or of a referenced document, or the last path
// segment of either.
func (n node) findDoc(uri string) (any, string, bool) {
	if d, ok := n.s.docs[uri]; ok {
		return d, uri, true
	}
	if idOf(n.s.root) == uri {
		return n.s.root, "", true
	}
	names := make([]string, 0, len(n.s.docs))
	for k := range n.s.docs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if idOf(n.s.docs[k]) == uri {
			return n.s.docs[k], k, true
		}
	}
	base := path.Base(uri)
	for _, k := range names {
		if path.Base(k) == base || path.Base(idOf(n.s.docs[k])) == base {
			return n.s.docs[k], k, true
		}
	}
	return nil, "", false
}

func idOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		if id, ok := m["$id"].(string); ok {
			return id
		}
		if id, ok := m["id"].(string); ok {
			return id
		}
	}
	return ""
}

func findAnchor(v any, name string, depth int) any {
	if depth > 64 {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if a, _ := x["$anchor"].(string); a == name {
			return x
		}
		if id, _ := x["$id"].(string); id == "#"+name {
			return x
		}
		if id, _ := x["id"].(string); id == "#"+name {
			return x
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "enum" || k == "const" || k == "default" || k == "examples" {
				continue
			}
			if r := findAnchor(x[k], name, depth+1); r != nil {
				return r
			}
		}
	case []any:
		for _, e := range x {
			if r := findAnchor(e, name, depth+1); r != nil {
				return r
			}
		}
	}
	return nil
}

// The kinds of schema, as Confluent's parser classifies them.
const (
	kEmpty = iota
	kFalse
	kCombined
	kEnum
	kNot
	kString
	kNumber
	kBoolean
	kNull
	kObject
	kArray
)

// view is a classified schema.
type view struct {
	kind      int
	m         map[string]any // the keywords (nil for true/false)
	criterion string         // allOf, anyOf, oneOf
	subs      []node         // for combined
	integer   bool
}

var typeKinds = map[string]int{"string": kString, "number": kNumber, "integer": kNumber, "boolean": kBoolean, "null": kNull, "object": kObject, "array": kArray}

var (
	objectWords = []string{"properties", "required", "additionalProperties", "patternProperties", "minProperties", "maxProperties", "dependencies", "dependentRequired", "dependentSchemas", "propertyNames"}
	arrayWords  = []string{"items", "additionalItems", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains"}
	stringWords = []string{"minLength", "maxLength", "pattern"}
	numberWords = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)

func hasAny(m map[string]any, words []string) bool {
	for _, w := range words {
		if _, ok := m[w]; ok {
			return true
		}
	}
	return false
}

func classify(n node) view {
	switch v := n.v.(type) {
	case bool:
		if v {
			return view{kind: kEmpty}
		}
		return view{kind: kFalse}
	case map[string]any:
		return classifyMap(n, v)
	}
	return view{kind: kEmpty}
}

func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(keys, k) {
			out[k] = v
		}
	}
	return out
}

func classifyMap(n node, m map[string]any) view {
	var combos []string
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if _, ok := m[k].([]any); ok {
			combos = append(combos, k)
		}
	}
	if len(combos) > 0 {
		base := without(m, "allOf", "anyOf", "oneOf")
		var parts []node
		if hasAny(base, append(append(append(append([]string{"type", "enum", "const", "not"}, objectWords...), arrayWords...), stringWords...), numberWords...)) {
			parts = append(parts, node{n.s, n.doc, base})
		}
		for _, k := range combos {
			subs := m[k].([]any)
			if len(combos) == 1 && len(parts) == 0 {
				v := view{kind: kCombined, m: m, criterion: k}
				for _, s := range subs {
					v.subs = append(v.subs, node{n.s, n.doc, s})
				}
				return v
			}
			parts = append(parts, node{n.s, n.doc, map[string]any{k: subs}})
		}
		return view{kind: kCombined, m: m, criterion: "allOf", subs: parts}
	}
	if types, ok := m["type"].([]any); ok && len(types) != 1 {
		v := view{kind: kCombined, m: m, criterion: "anyOf"}
		for _, t := range types {
			s := without(m, "type")
			s["type"] = t
			v.subs = append(v.subs, node{n.s, n.doc, s})
		}
		if len(types) == 0 {
			return view{kind: kEmpty, m: m}
		}
		return v
	}
	if _, ok := m["enum"]; ok {
		return view{kind: kEnum, m: m}
	}
	if _, ok := m["const"]; ok {
		return view{kind: kEnum, m: m}
	}
	if _, ok := m["not"]; ok {
		return view{kind: kNot, m: m}
	}
	t, _ := m["type"].(string)
	if types, ok := m["type"].([]any); ok && len(types) == 1 {
		t, _ = types[0].(string)
	}
	if k, ok := typeKinds[t]; ok {
		return view{kind: k, m: m, integer: t == "integer"}
	}
	switch {
	case hasAny(m, objectWords):
		return view{kind: kObject, m: m}
	case hasAny(m, arrayWords):
		return view{kind: kArray, m: m}
	case hasAny(m, stringWords):
		return view{kind: kString, m: m}
	case hasAny(m, numberWords):
		return view{kind: kNumber, m: m}
	}
	return view{kind: kEmpty, m: m}
}

// compare adds the differences between original (the writer) and update
// (the reader) at p.
func (c *ctx) compare(orig, upd node, p string) {
	if orig.v == nil && upd.v == nil {
		return
	}
	if orig.v == nil {
		c.add(p, SchemaAdded)
		return
	}
	if upd.v == nil {
		c.add(p, SchemaRemoved)
		return
	}
	if c.budget--; c.budget < 0 || c.depth > 256 {
		return
	}
	c.depth++
	defer func() { c.depth-- }()
	o, of := orig.deref()
	u, uf := upd.deref()
	if of || uf {
		key := [2]uintptr{ptrOf(o.v), ptrOf(u.v)}
		if key[0] != 0 && key[1] != 0 {
			if c.visited[key] {
				return
			}
			c.visited[key] = true
		}
	}
	ov, uv := classify(o), classify(u)

	if ov.kind != kCombined && uv.kind == kCombined {
		if len(uv.subs) == 1 {
			s := c.sub()
			s.compare(o, uv.subs[0], p)
			if s.ok() {
				c.merge(s)
				return
			}
		} else if uv.criterion == "anyOf" || uv.criterion == "oneOf" {
			for _, b := range uv.subs {
				s := c.sub()
				s.compare(o, b, p)
				if s.ok() {
					c.merge(s)
					c.add(p, SumTypeExtended)
					return
				}
			}
		}
	} else if ov.kind == kCombined && uv.kind != kCombined && len(ov.subs) == 1 {
		s := c.sub()
		s.compare(ov.subs[0], u, p)
		if s.ok() {
			c.merge(s)
			return
		}
	}
	if ov.kind != uv.kind {
		if ov.kind == kFalse || uv.kind == kEmpty {
			return
		}
		c.add(p, TypeChanged)
		return
	}
	if ov.m != nil && uv.m != nil {
		if idOf(ov.m) != idOf(uv.m) {
			c.add(p, IDChanged)
		}
		for _, a := range [][2]string{{"title", TitleChanged}, {"description", DescriptionChanged}, {"default", DefaultChanged}} {
			if !jsonEqual(ov.m[a[0]], uv.m[a[0]]) {
				c.add(p, a[1])
			}
		}
	}
	switch ov.kind {
	case kString:
		c.bound(p, ov.m, uv.m, "maxLength", true)
		c.bound(p, ov.m, uv.m, "minLength", false)
		op, _ := ov.m["pattern"].(string)
		up, _ := uv.m["pattern"].(string)
		switch {
		case op == up:
		case op == "":
			c.add(p+"/pattern", "PATTERN_ADDED")
		case up == "":
			c.add(p+"/pattern", "PATTERN_REMOVED")
		default:
			c.add(p+"/pattern", "PATTERN_CHANGED")
		}
	case kNumber:
		c.compareNumbers(p, ov, uv)
	case kEnum:
		c.compareEnums(p, ov.m, uv.m)
	case kCombined:
		c.compareCombined(p, ov, uv)
	case kNot:
		s := c.sub()
		s.compare(node{u.s, u.doc, uv.m["not"]}, node{o.s, o.doc, ov.m["not"]}, p+"/not")
		c.budget = s.budget
		if s.ok() {
			c.add(p, NotTypeNarrowed)
		} else {
			c.add(p, NotTypeExtended)
		}
	case kObject:
		c.compareObjects(p, o, u, ov.m, uv.m)
	case kArray:
		c.compareArrays(p, o, u, ov.m, uv.m)
	}
}

func jsonEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return canon(a) == canon(b)
}

// canon is a JSON value's canonical text: sorted keys, numbers by value.
func canon(v any) string {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k) + ":" + canon(x[k]))
		}
		return b.String() + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = canon(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

// bound compares a numeric keyword; upper says larger values accept more.
func (c *ctx) bound(p string, om, um map[string]any, key string, upper bool) {
	name := boundNames[key]
	o, ook := number(om[key])
	u, uok := number(um[key])
	switch {
	case !ook && !uok:
	case !ook:
		c.add(p+"/"+key, name+"_ADDED")
	case !uok:
		c.add(p+"/"+key, name+"_REMOVED")
	case o < u:
		c.add(p+"/"+key, name+"_INCREASED")
	case o > u:
		c.add(p+"/"+key, name+"_DECREASED")
	}
	_ = upper
}

func (c *ctx) compareNumbers(p string, ov, uv view) {
	om, um := ov.m, uv.m
	// Draft 4: exclusiveMaximum/Minimum are booleans qualifying maximum/minimum.
	om, um = draft4Exclusive(om), draft4Exclusive(um)
	for _, k := range []string{"maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"} {
		c.bound(p, om, um, k, strings.Contains(k, "aximum"))
	}
	o, ook := number(om["multipleOf"])
	u, uok := number(um["multipleOf"])
	switch {
	case !ook && !uok, ook && uok && o == u:
	case !ook:
		c.add(p+"/multipleOf", "MULTIPLE_OF_ADDED")
	case !uok:
		c.add(p+"/multipleOf", "MULTIPLE_OF_REMOVED")
	case isMultiple(u, o):
		c.add(p+"/multipleOf", "MULTIPLE_OF_EXPANDED")
	case isMultiple(o, u):
		c.add(p+"/multipleOf", "MULTIPLE_OF_REDUCED")
	default:
		c.add(p+"/multipleOf", "MULTIPLE_OF_CHANGED")
	}
	if ov.integer != uv.integer {
		if ov.integer {
			c.add(p+"/type", TypeExtended)
		} else {
			c.add(p+"/type", TypeNarrowed)
		}
	}
}

func isMultiple(a, b float64) bool {
	if b == 0 {
		return false
	}
	q := a / b
	return math.Abs(q-math.Round(q)) < 1e-9
}

func draft4Exclusive(m map[string]any) map[string]any {
	xmax, bmax := m["exclusiveMaximum"].(bool)
	xmin, bmin := m["exclusiveMinimum"].(bool)
	if !bmax && !bmin {
		return m
	}
	out := without(m, "exclusiveMaximum", "exclusiveMinimum")
	if bmax && xmax {
		out["exclusiveMaximum"] = m["maximum"]
		delete(out, "maximum")
	}
	if bmin && xmin {
		out["exclusiveMinimum"] = m["minimum"]
		delete(out, "minimum")
	}
	return out
}

func enumValues(m map[string]any) map[string]bool {
	out := map[string]bool{}
	if e, ok := m["enum"].([]any); ok {
		for _, v := range e {
			out[canon(v)] = true
		}
	} else if cv, ok := m["const"]; ok {
		out[canon(cv)] = true
	}
	return out
}

func (c *ctx) compareEnums(p string, om, um map[string]any) {
	o, u := enumValues(om), enumValues(um)
	sub := func(a, b map[string]bool) bool {
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	switch {
	case sub(o, u) && sub(u, o):
	case sub(o, u):
		c.add(p+"/enum", EnumArrayExtended)
	case sub(u, o):
		c.add(p+"/enum", EnumArrayNarrowed)
	default:
		c.add(p+"/enum", EnumArrayChanged)
	}
}

func (c *ctx) compareCombined(p string, ov, uv view) {
	oc, uc := ov.criterion, uv.criterion
	if oc != uc {
		switch {
		case uc == "anyOf", uc == "oneOf" && len(ov.subs) == 1, uc == "allOf" && len(ov.subs) == 1 && len(uv.subs) == 1:
			c.add(p, CombinedTypeExtended)
		default:
			c.add(p, CombinedTypeChanged)
			return
		}
	}
	os, us := dedupe(ov.subs), dedupe(uv.subs)
	switch {
	case len(os) < len(us) && uc == "allOf":
		c.add(p, ProductTypeExtended)
	case len(os) < len(us):
		c.add(p, SumTypeExtended)
	case len(os) > len(us) && uc == "allOf":
		c.add(p, ProductTypeNarrowed)
	case len(os) > len(us):
		c.add(p, SumTypeNarrowed)
	}
	// Which reader branch reads which writer branch compatibly, then a
	// maximum matching (augmenting paths) over those edges.
	edges := make([][]*ctx, len(os))
	for i, o := range os {
		edges[i] = make([]*ctx, len(us))
		for j, u := range us {
			s := c.sub()
			s.compare(o, u, fmt.Sprintf("%s/%s/%d", p, oc, i))
			c.budget = s.budget
			if s.ok() {
				edges[i][j] = s
			}
		}
	}
	matchU := make([]int, len(us))
	for j := range matchU {
		matchU[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for j := range us {
			if edges[i][j] == nil || seen[j] {
				continue
			}
			seen[j] = true
			if matchU[j] < 0 || try(matchU[j], seen) {
				matchU[j] = i
				return true
			}
		}
		return false
	}
	matched := 0
	for i := range os {
		if try(i, make([]bool, len(us))) {
			matched++
		}
	}
	for j, i := range matchU {
		if i >= 0 {
			c.diffs = append(c.diffs, edges[i][j].diffs...)
		}
	}
	if matched < min(len(os), len(us)) {
		c.add(p, CombinedTypeSubschemasChanged)
	}
}

func dedupe(ns []node) []node {
	seen := map[string]bool{}
	var out []node
	for _, n := range ns {
		k := n.doc + "\x00" + canon(n.v)
		if !seen[k] {
			seen[k] = true
			out = append(out, n)
		}
	}
	return out
}

func props(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	return p
}

func required(m map[string]any) map[string]bool {
	out := map[string]bool{}
	if r, ok := m["required"].([]any); ok {
		for _, v := range r {
			if s, ok := v.(string); ok {
				out[s] = true
			}
		}
	}
	return out
}

// contentModel describes what an object (or tuple) accepts beyond its named
// properties (items): open (anything), a schema (partially open), or
// nothing (closed).
func openModel(m map[string]any, patternKey, additionalKey string) bool {
	if pp, ok := m[patternKey].(map[string]any); ok && len(pp) > 0 {
		return false
	}
	a, ok := m[additionalKey]
	if !ok {
		return true
	}
	b, isBool := a.(bool)
	return isBool && b
}

func permits(m map[string]any, key string) bool {
	b, isBool := m[key].(bool)
	return !isBool || b
}

func additionalSchema(m map[string]any, key string) any {
	if a, ok := m[key].(map[string]any); ok {
		return a
	}
	return nil
}

// partialSchema is the schema a partially open object model gives a
// property name: the first matching patternProperties entry, else the
// additionalProperties schema.
func partialSchema(m map[string]any, name string) any {
	if pp, ok := m["patternProperties"].(map[string]any); ok {
		keys := make([]string, 0, len(pp))
		for k := range pp {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if re, err := regexp.Compile(k); err == nil && re.MatchString(name) {
				return pp[k]
			}
		}
	}
	return additionalSchema(m, "additionalProperties")
}

func isEmptySchema(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case map[string]any:
		return classify(node{v: x}).kind == kEmpty && len(without(x, "title", "description", "$comment", "default", "examples")) == 0
	}
	return false
}

func isFalse(v any) bool { b, ok := v.(bool); return ok && !b }

func hasDefault(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m["default"]
	return ok
}

func sortedKeys(ms ...map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func esc(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func (c *ctx) compareObjects(p string, o, u node, om, um map[string]any) {
	op, up := props(om), props(um)
	oreq, ureq := required(om), required(um)
	// required
	for _, k := range sortedKeys(op) {
		if _, ok := up[k]; !ok {
			continue
		}
		switch {
		case oreq[k] && !ureq[k]:
			c.add(p+"/required/"+esc(k), RequiredAttributeRemoved)
		case !oreq[k] && ureq[k]:
			if hasDefault(up[k]) {
				c.add(p+"/required/"+esc(k), RequiredAttributeWithDefaultAdded)
			} else {
				c.add(p+"/required/"+esc(k), RequiredAttributeAdded)
			}
		}
	}
	// properties
	for _, k := range sortedKeys(op, up) {
		pp := p + "/properties/" + esc(k)
		ov, inO := op[k]
		uv, inU := up[k]
		switch {
		case !inU:
			if openModel(um, "patternProperties", "additionalProperties") {
				c.add(pp, PropertyRemovedFromOpenContentModel)
			} else if ps := partialSchema(um, k); ps != nil {
				s := c.sub()
				s.compare(node{o.s, o.doc, ov}, node{u.s, u.doc, ps}, pp)
				c.merge(s)
				if s.ok() {
					c.add(pp, PropertyRemovedIsCoveredByPartiallyOpenModel)
				} else {
					c.add(pp, PropertyRemovedNotCoveredByPartiallyOpenModel)
				}
			} else if isFalse(ov) {
				c.add(pp, PropertyWithFalseRemovedFromClosedContentModel)
			} else {
				c.add(pp, PropertyRemovedFromClosedContentModel)
			}
		case !inO:
			if openModel(om, "patternProperties", "additionalProperties") {
				if isEmptySchema(uv) {
					c.add(pp, PropertyWithEmptySchemaAddedToOpenContentModel)
				} else {
					c.add(pp, PropertyAddedToOpenContentModel)
				}
				continue
			}
			if ps := partialSchema(om, k); ps != nil {
				s := c.sub()
				s.compare(node{o.s, o.doc, ps}, node{u.s, u.doc, uv}, pp)
				c.merge(s)
				if s.ok() {
					c.add(pp, PropertyAddedIsCoveredByPartiallyOpenModel)
				} else {
					c.add(pp, PropertyAddedNotCoveredByPartiallyOpenModel)
				}
			}
			switch {
			case ureq[k] && hasDefault(uv):
				c.add(pp, RequiredPropertyWithDefaultAddedToUnopenModel)
			case ureq[k]:
				c.add(pp, RequiredPropertyAddedToUnopenContentModel)
			default:
				c.add(pp, OptionalPropertyAddedToUnopenContentModel)
			}
		default:
			c.compare(node{o.s, o.doc, ov}, node{u.s, u.doc, uv}, pp)
		}
	}
	// dependencies (draft 4-7 "dependencies"; 2019-09+ dependentRequired and dependentSchemas)
	oarr, osch := dependencies(om)
	uarr, usch := dependencies(um)
	for _, k := range sortedKeys(anyMap(oarr), anyMap(uarr)) {
		dp := p + "/dependencies/" + esc(k)
		oa, inO := oarr[k]
		ua, inU := uarr[k]
		switch {
		case !inU:
			c.add(dp, DependencyArrayRemoved)
		case !inO:
			c.add(dp, DependencyArrayAdded)
		default:
			sup, sub := subset(oa, ua), subset(ua, oa)
			switch {
			case sup && sub:
			case sup:
				c.add(dp, DependencyArrayExtended)
			case sub:
				c.add(dp, DependencyArrayNarrowed)
			default:
				c.add(dp, DependencyArrayChanged)
			}
		}
	}
	for _, k := range sortedKeys(osch, usch) {
		dp := p + "/dependencies/" + esc(k)
		ov, inO := osch[k]
		uv, inU := usch[k]
		switch {
		case !inU:
			c.add(dp, DependencySchemaRemoved)
		case !inO:
			c.add(dp, DependencySchemaAdded)
		default:
			c.compare(node{o.s, o.doc, ov}, node{u.s, u.doc, uv}, dp)
		}
	}
	// additionalProperties
	ap := p + "/additionalProperties"
	oas, uas := additionalSchema(om, "additionalProperties"), additionalSchema(um, "additionalProperties")
	switch {
	case permits(om, "additionalProperties") != permits(um, "additionalProperties"):
		if permits(um, "additionalProperties") {
			c.add(ap, AdditionalPropertiesAdded)
		} else {
			c.add(ap, AdditionalPropertiesRemoved)
		}
	case oas == nil && uas != nil:
		c.add(ap, AdditionalPropertiesNarrowed)
	case oas != nil && uas == nil:
		c.add(ap, AdditionalPropertiesExtended)
	case oas != nil:
		c.compare(node{o.s, o.doc, oas}, node{u.s, u.doc, uas}, ap)
	}
	c.bound(p, om, um, "maxProperties", true)
	c.bound(p, om, um, "minProperties", false)
}

func anyMap(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func dependencies(m map[string]any) (map[string][]string, map[string]any) {
	arrs, schemas := map[string][]string{}, map[string]any{}
	add := func(d map[string]any) {
		for k, v := range d {
			if a, ok := v.([]any); ok {
				var names []string
				for _, x := range a {
					if s, ok := x.(string); ok {
						names = append(names, s)
					}
				}
				arrs[k] = names
			} else {
				schemas[k] = v
			}
		}
	}
	for _, key := range []string{"dependencies", "dependentRequired", "dependentSchemas"} {
		if d, ok := m[key].(map[string]any); ok {
			add(d)
		}
	}
	return arrs, schemas
}

// tuple returns an array schema's positional item schemas (nil when items
// is one schema for all), and what it accepts after them: its
// additionalItems (items in 2020-12, after prefixItems).
func tuple(m map[string]any) (items []any, all any, additionalKey string, isTuple bool) {
	if pi, ok := m["prefixItems"].([]any); ok {
		return pi, nil, "items", true
	}
	if it, ok := m["items"].([]any); ok {
		return it, nil, "additionalItems", true
	}
	return nil, m["items"], "additionalItems", false
}

func (c *ctx) compareArrays(p string, o, u node, om, um map[string]any) {
	c.bound(p, om, um, "maxItems", true)
	c.bound(p, om, um, "minItems", false)
	ou, _ := om["uniqueItems"].(bool)
	uu, _ := um["uniqueItems"].(bool)
	if ou != uu {
		if uu {
			c.add(p+"/uniqueItems", UniqueItemsAdded)
		} else {
			c.add(p+"/uniqueItems", UniqueItemsRemoved)
		}
	}
	oItems, oAll, oKey, oTuple := tuple(om)
	uItems, uAll, uKey, uTuple := tuple(um)
	if oTuple || uTuple {
		ap := p + "/" + uKey
		oas, uas := additionalSchema(om, oKey), additionalSchema(um, uKey)
		switch {
		case permits(om, oKey) != permits(um, uKey):
			if permits(um, uKey) {
				c.add(ap, AdditionalItemsAdded)
			} else {
				c.add(ap, AdditionalItemsRemoved)
			}
		case oas == nil && uas != nil:
			c.add(ap, AdditionalItemsNarrowed)
		case oas != nil && uas == nil:
			c.add(ap, AdditionalItemsExtended)
		case oas != nil:
			c.compare(node{o.s, o.doc, oas}, node{u.s, u.doc, uas}, ap)
		}
		uOpen := openModel(um, "", uKey)
		oOpen := openModel(om, "", oKey)
		for i := range max(len(oItems), len(uItems)) {
			ip := fmt.Sprintf("%s/items/%d", p, i)
			switch {
			case i >= len(uItems):
				if uOpen {
					c.add(ip, ItemRemovedFromOpenContentModel)
				} else if uas != nil {
					s := c.sub()
					s.compare(node{o.s, o.doc, oItems[i]}, node{u.s, u.doc, uas}, ip)
					c.merge(s)
					if s.ok() {
						c.add(ip, ItemRemovedIsCoveredByPartiallyOpenContentModel)
					} else {
						c.add(ip, ItemRemovedNotCoveredByPartiallyOpenModel)
					}
				} else if isFalse(oItems[i]) {
					c.add(ip, ItemWithFalseRemovedFromClosedContentModel)
				} else {
					c.add(ip, ItemRemovedFromClosedContentModel)
				}
			case i >= len(oItems):
				if oOpen {
					if isEmptySchema(uItems[i]) {
						c.add(ip, ItemWithEmptySchemaAddedToOpenContentModel)
					} else {
						c.add(ip, ItemAddedToOpenContentModel)
					}
				} else if oas != nil {
					s := c.sub()
					s.compare(node{o.s, o.doc, oas}, node{u.s, u.doc, uItems[i]}, ip)
					c.merge(s)
					if s.ok() {
						c.add(ip, ItemAddedIsCoveredByPartiallyOpenContentModel)
					} else {
						c.add(ip, ItemAddedNotCoveredByPartiallyOpenContentModel)
					}
				} else {
					c.add(ip, ItemAddedToClosedContentModel)
				}
			default:
				c.compare(node{o.s, o.doc, oItems[i]}, node{u.s, u.doc, uItems[i]}, ip)
			}
		}
		return
	}
	c.compare(node{o.s, o.doc, oAll}, node{u.s, u.doc, uAll}, p+"/items")
}

// RefCycle reports a "$ref" chain that never reaches a schema (a → b → a):
// such a schema accepts nothing definite, and validators loop on it. It
// returns the JSON pointer-ish path of one "$ref" on the cycle.
func RefCycle(s *Schema) (string, bool) {
	state := map[uintptr]int{} // 1 on the current chain, 2 known to end
	var found string
	var walk func(n node, p string, depth int) bool
	follow := func(n node, p string) bool {
		var chain []uintptr
		cur := n
		for {
			m, ok := cur.v.(map[string]any)
			if !ok {
				break
			}
			ref, ok := m["$ref"].(string)
			if !ok {
				break
			}
			k := ptrOf(m)
			if state[k] == 2 {
				break
			}
			if state[k] == 1 {
				found = p
				return true
			}
			state[k] = 1
			chain = append(chain, k)
			next, ok := cur.resolve(ref)
			if !ok {
				break
			}
			cur = next
		}
		for _, k := range chain {
			state[k] = 2
		}
		return false
	}
	walk = func(n node, p string, depth int) bool {
		if depth > 512 {
			return false
		}
		switch x := n.v.(type) {
		case map[string]any:
			if _, ok := x["$ref"]; ok && follow(n, p) {
				return true
			}
			for _, k := range sortedKeys(x) {
				if k == "enum" || k == "const" || k == "default" || k == "examples" {
					continue
				}
				if walk(node{n.s, n.doc, x[k]}, p+"/"+esc(k), depth+1) {
					return true
				}
			}
		case []any:
			for i, e := range x {
				if walk(node{n.s, n.doc, e}, fmt.Sprintf("%s/%d", p, i), depth+1) {
					return true
				}
			}
		}
		return false
	}
	if walk(node{s, "", s.root}, "#", 0) {
		return found, true
	}
	for _, name := range sortedKeys(s.docs) {
		if walk(node{s, name, s.docs[name]}, name+"#", 0) {
			return found, true
		}
	}
	return "", false
}
