package avrocompat

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// Incompatibility is one reason a reader cannot read a writer's data.
type Incompatibility struct {
	// Type is the Avro/Confluent SchemaIncompatibilityType: NAME_MISMATCH,
	// FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS,
	// READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH or
	// MISSING_UNION_BRANCH.
	Type string
	// Location is a JSON-pointer-like path in the reader schema, e.g.
	// "/fields/1/type".
	Location string
	Message  string
}

// String renders it as Confluent's verbose compatibility messages do.
func (i Incompatibility) String() string {
	return fmt.Sprintf("{errorType:'%s', description:'%s', additionalInfo:'at %s'}", i.Type, i.Message, i.Location)
}

// Check reports why data written with writer cannot be read with reader
// (Avro schema resolution). An empty result means compatible.
func Check(reader, writer avro.Schema) []Incompatibility {
	c := checker{seen: map[[2]*avro.RecordSchema]bool{}}
	c.check(reader, writer, "")
	return c.out
}

type checker struct {
	out []Incompatibility
	// seen holds named (reader, writer) pairs being or already checked, so
	// recursive types terminate: a pair in progress is assumed compatible
	// (any problem is reported where it is first met).
	seen map[[2]*avro.RecordSchema]bool
}

func (c *checker) add(typ, loc, format string, args ...any) {
	if loc == "" {
		loc = "/"
	}
	c.out = append(c.out, Incompatibility{Type: typ, Location: loc, Message: fmt.Sprintf(format, args...)})
}

func deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// typeName is how messages name a schema's type.
func typeName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

// promotable reports whether a writer primitive can be read as a reader one.
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

// namesMatch applies the spec's name rule, with the reader's aliases.
func namesMatch(reader, writer avro.NamedSchema) bool {
	if reader.FullName() == writer.FullName() || reader.Name() == writer.Name() {
		return true
	}
	for _, a := range reader.Aliases() {
		if a == writer.FullName() || a == writer.Name() {
			return true
		}
	}
	return false
}

// readable reports, without recording anything, whether reader reads writer
// (used to pick union branches).
func readable(reader, writer avro.Schema, seen map[[2]*avro.RecordSchema]bool) bool {
	c := checker{seen: seen}
	c.check(reader, writer, "")
	return len(c.out) == 0
}

func (c *checker) check(reader, writer avro.Schema, loc string) {
	reader, writer = deref(reader), deref(writer)
	// A writer union: every branch must be readable.
	if wu, ok := writer.(*avro.UnionSchema); ok {
		if ru, ok := reader.(*avro.UnionSchema); ok {
			for i, wb := range wu.Types() {
				if !c.unionHas(ru, wb) {
					c.add("MISSING_UNION_BRANCH", loc, "reader union lacking writer type: %s (writer union branch %d)", strings.ToUpper(typeName(deref(wb))), i)
				}
			}
			return
		}
		for _, wb := range wu.Types() {
			c.check(reader, wb, loc)
		}
		return
	}
	// A reader union and a non-union writer: some branch must read it.
	if ru, ok := reader.(*avro.UnionSchema); ok {
		if !c.unionHas(ru, writer) {
			c.add("MISSING_UNION_BRANCH", loc, "reader union lacking writer type: %s", strings.ToUpper(typeName(writer)))
		}
		return
	}
	switch w := writer.(type) {
	case *avro.NullSchema:
		if reader.Type() != avro.Null {
			c.mismatch(reader, writer, loc)
		}
	case *avro.PrimitiveSchema:
		r, ok := reader.(*avro.PrimitiveSchema)
		if !ok || !promotable(r.Type(), w.Type()) {
			c.mismatch(reader, writer, loc)
		}
	case *avro.ArraySchema:
		r, ok := reader.(*avro.ArraySchema)
		if !ok {
			c.mismatch(reader, writer, loc)
			return
		}
		c.check(r.Items(), w.Items(), loc+"/items")
	case *avro.MapSchema:
		r, ok := reader.(*avro.MapSchema)
		if !ok {
			c.mismatch(reader, writer, loc)
			return
		}
		c.check(r.Values(), w.Values(), loc+"/values")
	case *avro.FixedSchema:
		r, ok := reader.(*avro.FixedSchema)
		if !ok {
			c.mismatch(reader, writer, loc)
			return
		}
		if !namesMatch(r, w) {
			c.add("NAME_MISMATCH", loc+"/name", "expected: %s, found: %s", w.FullName(), r.FullName())
			return
		}
		if r.Size() != w.Size() {
			c.add("FIXED_SIZE_MISMATCH", loc+"/size", "expected: %d, found: %d", w.Size(), r.Size())
		}
	case *avro.EnumSchema:
		r, ok := reader.(*avro.EnumSchema)
		if !ok {
			c.mismatch(reader, writer, loc)
			return
		}
		if !namesMatch(r, w) {
			c.add("NAME_MISMATCH", loc+"/name", "expected: %s, found: %s", w.FullName(), r.FullName())
			return
		}
		if r.HasDefault() {
			return
		}
		var missing []string
		for _, s := range w.Symbols() {
			found := false
			for _, rs := range r.Symbols() {
				found = found || rs == s
			}
			if !found {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			c.add("MISSING_ENUM_SYMBOLS", loc+"/symbols", "[%s]", strings.Join(missing, ", "))
		}
	case *avro.RecordSchema:
		r, ok := reader.(*avro.RecordSchema)
		if !ok {
			c.mismatch(reader, writer, loc)
			return
		}
		if !namesMatch(r, w) {
			c.add("NAME_MISMATCH", loc+"/name", "expected: %s, found: %s", w.FullName(), r.FullName())
			return
		}
		key := [2]*avro.RecordSchema{r, w}
		if c.seen[key] {
			return
		}
		c.seen[key] = true
		for i, rf := range r.Fields() {
			floc := fmt.Sprintf("%s/fields/%d", loc, i)
			wf := writerField(w, rf)
			if wf == nil {
				if !rf.HasDefault() {
					c.add("READER_FIELD_MISSING_DEFAULT_VALUE", floc, "the reader's field '%s' has no default value and is missing in the writer", rf.Name())
				}
				continue
			}
			c.check(rf.Type(), wf.Type(), floc+"/type")
		}
	default:
		c.mismatch(reader, writer, loc)
	}
}

// writerField finds the writer's field a reader field reads: by name, or by
// one of the reader field's aliases.
func writerField(w *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == rf.Name() {
			return wf
		}
	}
	for _, a := range rf.Aliases() {
		for _, wf := range w.Fields() {
			if wf.Name() == a {
				return wf
			}
		}
	}
	return nil
}

// unionHas reports whether some branch of a reader union reads writer.
func (c *checker) unionHas(ru *avro.UnionSchema, writer avro.Schema) bool {
	for _, rb := range ru.Types() {
		if readable(rb, writer, c.seen) {
			return true
		}
	}
	return false
}

func (c *checker) mismatch(reader, writer avro.Schema, loc string) {
	c.add("TYPE_MISMATCH", loc, "reader type: %s not compatible with writer type: %s", strings.ToUpper(typeName(reader)), strings.ToUpper(typeName(writer)))
}
