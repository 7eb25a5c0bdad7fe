package serde

import (
	"encoding/binary"
	"fmt"

	"github.com/hamba/avro/v2"
)

// validate walks an Avro payload with its writer's schema without building
// anything, and fails fast on lengths that the remaining bytes cannot hold.
// Decoding with a resolved reader schema skips the writer's removed fields
// element by element, so a corrupt array length there would cost minutes of
// CPU; validating first bounds every record's cost by its size. It also
// catches trailing garbage.
func validate(s avro.Schema, b []byte) error {
	v := validator{b: b}
	v.walk(s, 0)
	if v.err == nil && v.pos != len(v.b) {
		v.err = fmt.Errorf("%d bytes left over after the record", len(v.b)-v.pos)
	}
	return v.err
}

type validator struct {
	b   []byte
	pos int
	err error
}

const maxDepth = 256

func (v *validator) fail(format string, args ...any) {
	if v.err == nil {
		v.err = fmt.Errorf(format, args...)
	}
}

func (v *validator) varint() int64 {
	if v.err != nil {
		return 0
	}
	n, k := binary.Varint(v.b[v.pos:])
	if k <= 0 {
		v.fail("bad varint at byte %d", v.pos)
		return 0
	}
	v.pos += k
	return n
}

func (v *validator) skip(n int64) {
	if v.err != nil {
		return
	}
	if n < 0 || n > int64(len(v.b)-v.pos) {
		v.fail("length %d at byte %d is longer than the %d bytes left", n, v.pos, len(v.b)-v.pos)
		return
	}
	v.pos += int(n)
}

// minSize is the fewest bytes a value of s takes (0 for null and for types
// made only of nulls).
func minSize(s avro.Schema, depth int) int {
	if depth > 8 {
		return 0
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		return 0
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float:
			return 4
		case avro.Double:
			return 8
		}
		return 1
	case *avro.FixedSchema:
		return s.Size()
	case *avro.RecordSchema:
		n := 0
		for _, f := range s.Fields() {
			n += minSize(f.Type(), depth+1)
		}
		return n
	case *avro.RefSchema:
		return minSize(s.Schema(), depth+1)
	}
	return 1 // enums, unions, arrays, maps: at least one varint
}

func (v *validator) walk(s avro.Schema, depth int) {
	if v.err != nil {
		return
	}
	if depth > maxDepth {
		v.fail("values nest deeper than %d levels", maxDepth)
		return
	}
	switch s := s.(type) {
	case *avro.NullSchema:
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Boolean:
			v.skip(1)
		case avro.Int, avro.Long:
			v.varint()
		case avro.Float:
			v.skip(4)
		case avro.Double:
			v.skip(8)
		case avro.String, avro.Bytes:
			v.skip(v.varint())
		default:
			v.fail("unsupported type %s", s.Type())
		}
	case *avro.FixedSchema:
		v.skip(int64(s.Size()))
	case *avro.EnumSchema:
		if i := v.varint(); v.err == nil && (i < 0 || i >= int64(len(s.Symbols()))) {
			v.fail("enum index %d out of range", i)
		}
	case *avro.UnionSchema:
		i := v.varint()
		if v.err == nil && (i < 0 || i >= int64(len(s.Types()))) {
			v.fail("union branch %d out of range", i)
			return
		}
		if v.err == nil {
			v.walk(s.Types()[i], depth+1)
		}
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			v.walk(f.Type(), depth+1)
		}
	case *avro.RefSchema:
		v.walk(s.Schema(), depth+1)
	case *avro.ArraySchema:
		v.blocks(func() { v.walk(s.Items(), depth+1) }, minSize(s.Items(), 0))
	case *avro.MapSchema:
		v.blocks(func() { v.skip(v.varint()); v.walk(s.Values(), depth+1) }, 1+minSize(s.Values(), 0))
	default:
		v.fail("unsupported schema %T", s)
	}
}

// blocks walks array or map blocks: a count (negative: followed by a byte
// size), then that many items, until a zero count.
func (v *validator) blocks(item func(), min int) {
	total := 0
	for v.err == nil {
		n := v.varint()
		if v.err != nil || n == 0 {
			return
		}
		if n < 0 {
			n = -n
			v.varint() // block size in bytes
		}
		left := int64(len(v.b) - v.pos)
		if n < 0 || (min > 0 && n > left/int64(min)) || (min == 0 && int64(total)+n > 1<<20) {
			v.fail("block of %d items at byte %d cannot fit in the %d bytes left", n, v.pos, left)
			return
		}
		total += int(n)
		for i := int64(0); i < n && v.err == nil; i++ {
			item()
		}
	}
}
