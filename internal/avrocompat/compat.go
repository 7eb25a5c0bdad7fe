package avrocompat

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// The incompatibility types, named as Avro's (and Confluent's)
// SchemaIncompatibilityType names them.
const (
	NameMismatch                   = "NAME_MISMATCH"
	FixedSizeMismatch              = "FIXED_SIZE_MISMATCH"
	MissingEnumSymbols             = "MISSING_ENUM_SYMBOLS"
	ReaderFieldMissingDefaultValue = "READER_FIELD_MISSING_DEFAULT_VALUE"
	TypeMismatch                   = "TYPE_MISMATCH"
	MissingUnionBranch             = "MISSING_UNION_BRANCH"
)

// Incompatibility is one reason a reader cannot read a writer's data.
type Incompatibility struct {
	// Type is the Avro/Confluent SchemaIncompatibilityType: NAME_MISMATCH,
	// FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS,
	// READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH or
	// MISSING_UNION_BRANCH (see the constants).
	Type string
	// Location is a JSON-pointer-like path in the reader schema, e.g.
	// "/fields/1/type"; "/" is the reader schema itself. A path goes through
	// named references as if the named type were written out where it is
	// used, and through a union by the index of the reader's branch that
	// was chosen ("/fields/0/type/1/...").
	Location string
	// Message says what is wrong in words, naming the field, type or
	// symbols concerned.
	Message string
}

// String renders the incompatibility on one line, in the shape of
// Confluent's verbose compatibility messages.
func (i Incompatibility) String() string {
	return fmt.Sprintf("{errorType:'%s', description:'%s', additionalInfo:'at %s'}", i.Type, i.Message, i.Location)
}

// Check reports why data written with writer cannot be read with reader
// (Avro schema resolution). An empty result means compatible.
//
// Check never panics, whatever the schemas (nil included), and terminates
// on recursive schemas; its work grows with the product of the numbers of
// record types in the two schemas, never exponentially.
func Check(reader, writer avro.Schema) []Incompatibility {
	c := checker{visited: map[[2]*avro.RecordSchema]bool{}}
	c.check(reader, writer, "")
	return c.out
}

type checker struct {
	out []Incompatibility
	// visited holds the (reader, writer) record pairs already checked or
	// being checked. A pair's incompatibilities are reported where it is
	// first met, so meeting it again, recursively or elsewhere, adds
	// nothing. This is sound because no decision depends on a nested
	// check's outcome: union branches are chosen by the spec's shallow
	// "match", never by trying deep resolutions and discarding failures.
	visited map[[2]*avro.RecordSchema]bool
}

func (c *checker) add(typ, loc, format string, args ...any) {
	if loc == "" {
		loc = "/"
	}
	c.out = append(c.out, Incompatibility{Type: typ, Location: loc, Message: fmt.Sprintf(format, args...)})
}

// check resolves writer against reader, at loc in the reader schema.
func (c *checker) check(reader, writer avro.Schema, loc string) {
	reader, writer = deref(reader), deref(writer)
	if reader == nil || writer == nil {
		c.mismatch(reader, writer, loc)
		return
	}

	// Writer union: whichever branch the data holds must resolve.
	if wu, ok := writer.(*avro.UnionSchema); ok {
		ru, readerIsUnion := reader.(*avro.UnionSchema)
		for i, wb := range wu.Types() {
			if readerIsUnion {
				c.readUnion(ru, deref(wb), loc, i)
			} else {
				c.check(reader, wb, loc)
			}
		}
		return
	}
	// Reader union, writer not: the chosen branch must resolve.
	if ru, ok := reader.(*avro.UnionSchema); ok {
		c.readUnion(ru, writer, loc, -1)
		return
	}

	rt, wt := kind(reader), kind(writer)
	if isPrimitive(rt) && isPrimitive(wt) {
		if !promotable(rt, wt) {
			c.mismatch(reader, writer, loc)
		}
		return
	}
	if rt != wt {
		c.mismatch(reader, writer, loc)
		return
	}

	switch w := writer.(type) {
	case *avro.ArraySchema:
		if r, ok := reader.(*avro.ArraySchema); ok {
			c.check(r.Items(), w.Items(), loc+"/items")
			return
		}
	case *avro.MapSchema:
		if r, ok := reader.(*avro.MapSchema); ok {
			c.check(r.Values(), w.Values(), loc+"/values")
			return
		}
	case *avro.FixedSchema:
		if r, ok := reader.(*avro.FixedSchema); ok {
			c.checkName(r, w, loc)
			if r.Size() != w.Size() {
				c.add(FixedSizeMismatch, loc+"/size", "the reader's fixed %s has size %d, the writer's %s size %d", r.FullName(), r.Size(), w.FullName(), w.Size())
			}
			return
		}
	case *avro.EnumSchema:
		if r, ok := reader.(*avro.EnumSchema); ok {
			c.checkName(r, w, loc)
			c.checkSymbols(r, w, loc)
			return
		}
	case *avro.RecordSchema:
		if r, ok := reader.(*avro.RecordSchema); ok {
			c.checkRecord(r, w, loc)
			return
		}
	}
	// A schema type this package does not know.
	c.mismatch(reader, writer, loc)
}

// readUnion resolves a non-union writer schema (wi >= 0: the writer union's
// branch wi) against the reader union ru.
func (c *checker) readUnion(ru *avro.UnionSchema, writer avro.Schema, loc string, wi int) {
	i := chooseBranch(ru, writer)
	if i < 0 {
		where := ""
		if wi >= 0 {
			where = fmt.Sprintf(" (the writer union's branch %d)", wi)
		}
		c.add(MissingUnionBranch, loc, "reader union lacking writer type: %s%s", typeName(writer), where)
		return
	}
	c.check(ru.Types()[i], writer, loc+"/"+strconv.Itoa(i))
}

// chooseBranch returns the index of the reader union's branch that reads a
// non-union writer schema, or -1. The spec says: the first branch that
// matches. A branch of the writer's very type (and, for a named type, full
// name) is preferred to an earlier one that only matches by unqualified
// name, alias or promotion, as Avro's own resolvers do; otherwise a schema
// with a union of a.R and b.R could not read its own b.R data.
func chooseBranch(ru *avro.UnionSchema, writer avro.Schema) int {
	writer = deref(writer)
	if writer == nil {
		return -1
	}
	for i, b := range ru.Types() {
		if b = deref(b); b != nil && exactMatch(b, writer) {
			return i
		}
	}
	for i, b := range ru.Types() {
		if b = deref(b); b != nil && matches(b, writer) {
			return i
		}
	}
	return -1
}

// exactMatch reports whether reader matches writer and is of its very type
// and, for a named type, full name.
func exactMatch(reader, writer avro.Schema) bool {
	if kind(reader) != kind(writer) || !matches(reader, writer) {
		return false
	}
	if r, ok := reader.(avro.NamedSchema); ok {
		w, ok := writer.(avro.NamedSchema)
		return ok && r.FullName() == w.FullName()
	}
	return true
}

// matches is the spec's "match": the shallow test that picks a union
// branch before resolving it recursively. Named types match by name, fixed
// also by size; arrays and maps by their items' and values' match;
// primitives by type or promotion; a union matches anything.
func matches(reader, writer avro.Schema) bool {
	reader, writer = deref(reader), deref(writer)
	if reader == nil || writer == nil {
		return false
	}
	rt, wt := kind(reader), kind(writer)
	if rt == avro.Union || wt == avro.Union {
		return true
	}
	if isPrimitive(rt) && isPrimitive(wt) {
		return promotable(rt, wt)
	}
	if rt != wt {
		return false
	}
	switch r := reader.(type) {
	case *avro.ArraySchema:
		w, ok := writer.(*avro.ArraySchema)
		return ok && matches(r.Items(), w.Items())
	case *avro.MapSchema:
		w, ok := writer.(*avro.MapSchema)
		return ok && matches(r.Values(), w.Values())
	case *avro.FixedSchema:
		w, ok := writer.(*avro.FixedSchema)
		return ok && namesMatch(r, w) && r.Size() == w.Size()
	case avro.NamedSchema:
		w, ok := writer.(avro.NamedSchema)
		return ok && namesMatch(r, w)
	}
	return false
}

// namesMatch is the spec's name rule for named types: the unqualified names
// are equal, or one of the reader's aliases (full names, as hamba/avro
// qualifies them with the reader's namespace) is the writer's full name.
// The writer's aliases play no part.
func namesMatch(reader, writer avro.NamedSchema) bool {
	if reader.Name() == writer.Name() {
		return true
	}
	for _, a := range reader.Aliases() {
		if a == writer.FullName() {
			return true
		}
	}
	return false
}

func (c *checker) checkName(reader, writer avro.NamedSchema, loc string) {
	if !namesMatch(reader, writer) {
		c.add(NameMismatch, loc+"/name", "the reader's %s %s matches neither the writer's name %s nor, by its aliases, the writer's full name", kind(reader), reader.FullName(), writer.FullName())
	}
}

func (c *checker) checkSymbols(reader, writer *avro.EnumSchema, loc string) {
	if reader.HasDefault() {
		return // unknown writer symbols read as the reader's default
	}
	have := make(map[string]bool, len(reader.Symbols()))
	for _, s := range reader.Symbols() {
		have[s] = true
	}
	var missing []string
	for _, s := range writer.Symbols() {
		if !have[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.add(MissingEnumSymbols, loc+"/symbols", "the reader's enum %s lacks the writer's symbols [%s] and has no default", reader.FullName(), strings.Join(missing, ", "))
	}
}

func (c *checker) checkRecord(reader, writer *avro.RecordSchema, loc string) {
	key := [2]*avro.RecordSchema{reader, writer}
	if c.visited[key] {
		return
	}
	c.visited[key] = true
	c.checkName(reader, writer, loc)
	wfs := make(map[string]*avro.Field, len(writer.Fields()))
	for _, wf := range writer.Fields() {
		if wf != nil {
			wfs[wf.Name()] = wf
		}
	}
	rnames := make(map[string]bool, len(reader.Fields()))
	for _, rf := range reader.Fields() {
		if rf != nil {
			rnames[rf.Name()] = true
		}
	}
	for i, rf := range reader.Fields() {
		if rf == nil {
			continue
		}
		floc := loc + "/fields/" + strconv.Itoa(i)
		wf, also := writerField(wfs, rnames, rf)
		if wf == nil {
			if !rf.HasDefault() {
				c.add(ReaderFieldMissingDefaultValue, floc, "reader's field '%s' has no default value and is missing in the writer", rf.Name())
			}
			continue
		}
		if len(also) > 0 {
			c.add(NameMismatch, floc, "reader's field '%s' matches more than one writer field: '%s' and, by its aliases, '%s'", rf.Name(), wf.Name(), strings.Join(also, "', '"))
		}
		c.check(rf.Type(), wf.Type(), floc+"/type")
	}
}

// writerField finds the writer's field that a reader field reads: the one
// of the same name, else the first one named by the reader field's aliases
// (the writer's field aliases play no part). also lists the other writer
// fields its aliases name: the spec leaves such a reader field ambiguous
// (Java Avro throws). A writer field that a reader field of its name reads
// is not counted: an alias naming a sibling field breaks the spec's
// uniqueness rule, but must not stop a schema from reading itself.
func writerField(wfs map[string]*avro.Field, rnames map[string]bool, rf *avro.Field) (wf *avro.Field, also []string) {
	wf = wfs[rf.Name()]
	for _, a := range rf.Aliases() {
		f := wfs[a]
		switch {
		case f == nil || f == wf || slices.Contains(also, a):
		case wf == nil:
			wf = f
		case !rnames[a]:
			also = append(also, a)
		}
	}
	return wf, also
}

func (c *checker) mismatch(reader, writer avro.Schema, loc string) {
	c.add(TypeMismatch, loc, "reader type: %s not compatible with writer type: %s", typeName(reader), typeName(writer))
}

// deref follows named references to the named schema, and turns typed nil
// pointers into a nil interface, so that nothing below calls a method on a
// nil schema.
func deref(s avro.Schema) avro.Schema {
	for range 8 { // the parser never builds a reference to a reference
		if isNil(s) {
			return nil
		}
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
	return nil
}

func isNil(s avro.Schema) bool {
	if s == nil {
		return true
	}
	switch v := reflect.ValueOf(s); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// kind is a schema's type, with "error" (a protocol's record) as record.
func kind(s avro.Schema) avro.Type {
	if t := s.Type(); t != avro.Error {
		return t
	}
	return avro.Record
}

func isPrimitive(t avro.Type) bool {
	switch t {
	case avro.Null, avro.Boolean, avro.Int, avro.Long, avro.Float, avro.Double, avro.Bytes, avro.String:
		return true
	}
	return false
}

// promotable reports whether a writer primitive reads as a reader one: the
// same type, or a promotion the spec allows.
func promotable(reader, writer avro.Type) bool {
	if reader == writer {
		return true
	}
	switch writer {
	case avro.Int:
		return reader == avro.Long || reader == avro.Float || reader == avro.Double
	case avro.Long:
		return reader == avro.Float || reader == avro.Double
	case avro.Float:
		return reader == avro.Double
	case avro.String:
		return reader == avro.Bytes
	case avro.Bytes:
		return reader == avro.String
	}
	return false
}

// typeName is how messages name a schema: "INT", "RECORD t.Trade".
func typeName(s avro.Schema) string {
	s = deref(s)
	if s == nil {
		return "NONE"
	}
	t := strings.ToUpper(string(kind(s)))
	if n, ok := s.(avro.NamedSchema); ok {
		return t + " " + n.FullName()
	}
	return t
}
