// Package protocompat decides whether messages written with one Protobuf
// schema (a .proto file, linked) can be read with another, by the rules
// Confluent Schema Registry documents for Protobuf, and says why not, one
// Incompatibility per difference, typed with Confluent's Difference.Type
// names and located by a path of message names and field numbers
// ("#/Trade/3"). The registry builds its levels on Check as for Avro:
// BACKWARD is Check(new, old), FORWARD Check(old, new), FULL both.
//
// # Rules
//
// Messages and enums are matched by name (nested ones within their parent),
// fields by number, oneofs by name. Compatible: adding or removing fields
// (unknown fields are skipped, missing ones take defaults), renaming a field
// (the wire has numbers, not names), adding messages, moving or reordering
// messages (the message index in each record is relative to its own schema),
// adding or removing enums and enum values or renumbering them, adding
// oneofs, removing oneofs, adding a field to a oneof, turning a string or
// bytes field repeated or back. Incompatible:
//
//   - PACKAGE_CHANGED (the package is part of every full name);
//   - MESSAGE_REMOVED (a record may name it);
//   - FIELD_KIND_CHANGED: scalar (enums count as scalars), message and map
//     are different kinds;
//   - FIELD_SCALAR_KIND_CHANGED: scalars are grouped by wire encoding, as
//     protobuf's "Updating a message type" allows: int32, int64, uint32,
//     uint64, bool and enums; sint32, sint64; string, bytes; fixed32,
//     sfixed32; fixed64, sfixed64; float; double. A change within a group
//     is compatible;
//   - FIELD_NAMED_TYPE_CHANGED: a message field whose type has another name
//     (relative to its package), or whose type changed incompatibly;
//   - FIELD_NUMERIC_LABEL_CHANGED: a numeric field turned repeated or back;
//   - REQUIRED_FIELD_ADDED, REQUIRED_FIELD_REMOVED (proto2 required);
//   - ONEOF_FIELD_REMOVED, MULTIPLE_FIELDS_MOVED_TO_ONEOF (several existing
//     fields moved into one new oneof), FIELD_MOVED_TO_EXISTING_ONEOF.
//
// Map fields are compared as maps (key and value types), never as their
// generated entry messages. proto3 optional fields are plain fields here (their
// synthetic oneofs are ignored). Recursive messages terminate: each pair is
// compared once.
//
// It does not compare options, services, extensions or reserved ranges, as
// Confluent does not.
package protocompat

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The difference types, named as Confluent's Protobuf Difference.Type.
const (
	PackageChanged             = "PACKAGE_CHANGED"
	MessageAdded               = "MESSAGE_ADDED"
	MessageRemoved             = "MESSAGE_REMOVED"
	MessageMoved               = "MESSAGE_MOVED"
	EnumAdded                  = "ENUM_ADDED"
	EnumRemoved                = "ENUM_REMOVED"
	EnumConstAdded             = "ENUM_CONST_ADDED"
	EnumConstChanged           = "ENUM_CONST_CHANGED"
	EnumConstRemoved           = "ENUM_CONST_REMOVED"
	FieldAdded                 = "FIELD_ADDED"
	FieldRemoved               = "FIELD_REMOVED"
	FieldNameChanged           = "FIELD_NAME_CHANGED"
	FieldKindChanged           = "FIELD_KIND_CHANGED"
	FieldScalarKindChanged     = "FIELD_SCALAR_KIND_CHANGED"
	FieldNamedTypeChanged      = "FIELD_NAMED_TYPE_CHANGED"
	FieldNumericLabelChanged   = "FIELD_NUMERIC_LABEL_CHANGED"
	FieldStringOrBytesLabel    = "FIELD_STRING_OR_BYTES_LABEL_CHANGED"
	RequiredFieldAdded         = "REQUIRED_FIELD_ADDED"
	RequiredFieldRemoved       = "REQUIRED_FIELD_REMOVED"
	OneofAdded                 = "ONEOF_ADDED"
	OneofRemoved               = "ONEOF_REMOVED"
	OneofFieldAdded            = "ONEOF_FIELD_ADDED"
	OneofFieldRemoved          = "ONEOF_FIELD_REMOVED"
	MultipleFieldsMovedToOneof = "MULTIPLE_FIELDS_MOVED_TO_ONEOF"
	FieldMovedToExistingOneof  = "FIELD_MOVED_TO_EXISTING_ONEOF"
)

var compatible = map[string]bool{
	MessageAdded: true, MessageMoved: true, EnumAdded: true, EnumRemoved: true,
	EnumConstAdded: true, EnumConstChanged: true, EnumConstRemoved: true,
	FieldAdded: true, FieldRemoved: true, FieldNameChanged: true, FieldStringOrBytesLabel: true,
	OneofAdded: true, OneofRemoved: true, OneofFieldAdded: true,
}

// IsCompatible reports whether a difference type is one Confluent accepts.
func IsCompatible(typ string) bool { return compatible[typ] }

// Incompatibility is one difference that breaks readers.
type Incompatibility struct {
	Type string // a Difference.Type name, e.g. FIELD_SCALAR_KIND_CHANGED
	Path string // "#/Message/Nested/3": message names, then a field number or oneof name
}

// String renders the incompatibility as Confluent's verbose compatibility
// answers do.
func (i Incompatibility) String() string {
	return fmt.Sprintf("Found incompatible change: Difference{fullPath='%s', type=%s}", i.Path, i.Type)
}

// Check reports why messages written with writer cannot be read with
// reader (Confluent's "update" is the reader, its "original" the writer).
// An empty result means compatible. It never panics on linked descriptors
// and terminates on recursive messages.
func Check(reader, writer protoreflect.FileDescriptor) []Incompatibility {
	var out []Incompatibility
	for _, d := range Diff(reader, writer) {
		if !compatible[d.Type] {
			out = append(out, d)
		}
	}
	return out
}

// Diff lists every difference, compatible ones included.
func Diff(reader, writer protoreflect.FileDescriptor) []Incompatibility {
	if reader == nil || writer == nil {
		return []Incompatibility{{Type: PackageChanged, Path: "#/"}}
	}
	c := &ctx{visited: map[[2]protoreflect.FullName]bool{}}
	if reader.Package() != writer.Package() {
		c.add("#/", PackageChanged)
	}
	c.compareTypes("#", writer.Messages(), reader.Messages(), writer.Enums(), reader.Enums())
	return c.diffs
}

type ctx struct {
	diffs   []Incompatibility
	visited map[[2]protoreflect.FullName]bool
}

func (c *ctx) add(p, typ string) { c.diffs = append(c.diffs, Incompatibility{Type: typ, Path: p}) }

func (c *ctx) ok(from int) bool {
	for _, d := range c.diffs[from:] {
		if !compatible[d.Type] {
			return false
		}
	}
	return true
}

func (c *ctx) compareTypes(p string, om, um protoreflect.MessageDescriptors, oe, ue protoreflect.EnumDescriptors) {
	type indexed struct {
		d protoreflect.MessageDescriptor
		i int
	}
	index := func(ms protoreflect.MessageDescriptors) (map[string]indexed, []string) {
		out, names := map[string]indexed{}, []string{}
		n := 0
		for i := range ms.Len() {
			m := ms.Get(i)
			if m.IsMapEntry() {
				continue
			}
			out[string(m.Name())] = indexed{m, n}
			names = append(names, string(m.Name()))
			n++
		}
		return out, names
	}
	o, onames := index(om)
	u, unames := index(um)
	for _, name := range union(onames, unames) {
		mp := p + "/" + name
		ov, inO := o[name]
		uv, inU := u[name]
		switch {
		case !inU:
			c.add(mp, MessageRemoved)
		case !inO:
			c.add(mp, MessageAdded)
		default:
			c.compareMessages(mp, ov.d, uv.d)
			if ov.i != uv.i {
				c.add(mp, MessageMoved)
			}
		}
	}
	enames := func(es protoreflect.EnumDescriptors) (map[string]protoreflect.EnumDescriptor, []string) {
		out, names := map[string]protoreflect.EnumDescriptor{}, []string{}
		for i := range es.Len() {
			out[string(es.Get(i).Name())] = es.Get(i)
			names = append(names, string(es.Get(i).Name()))
		}
		return out, names
	}
	oen, on := enames(oe)
	uen, un := enames(ue)
	for _, name := range union(on, un) {
		ep := p + "/" + name
		ov, inO := oen[name]
		uv, inU := uen[name]
		switch {
		case !inU:
			c.add(ep, EnumRemoved)
		case !inO:
			c.add(ep, EnumAdded)
		default:
			c.compareEnums(ep, ov, uv)
		}
	}
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (c *ctx) compareEnums(p string, o, u protoreflect.EnumDescriptor) {
	ov, uv := o.Values(), u.Values()
	for i := range ov.Len() {
		v := ov.Get(i)
		w := uv.ByName(v.Name())
		switch {
		case w == nil:
			c.add(p+"/"+string(v.Name()), EnumConstRemoved)
		case w.Number() != v.Number():
			c.add(p+"/"+string(v.Name()), EnumConstChanged)
		}
	}
	for i := range uv.Len() {
		if ov.ByName(uv.Get(i).Name()) == nil {
			c.add(p+"/"+string(uv.Get(i).Name()), EnumConstAdded)
		}
	}
}

// realOneof is the field's oneof unless it is a proto3 optional's
// synthetic one.
func realOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return od
	}
	return nil
}

func (c *ctx) compareMessages(p string, o, u protoreflect.MessageDescriptor) {
	key := [2]protoreflect.FullName{o.FullName(), u.FullName()}
	if c.visited[key] {
		return
	}
	c.visited[key] = true
	of, uf := o.Fields(), u.Fields()
	// Top-level (not in a real oneof) fields by number.
	otop, utop := map[protoreflect.FieldNumber]protoreflect.FieldDescriptor{}, map[protoreflect.FieldNumber]protoreflect.FieldDescriptor{}
	oneofOf := func(fs protoreflect.FieldDescriptors) map[protoreflect.FieldNumber]string {
		m := map[protoreflect.FieldNumber]string{}
		for i := range fs.Len() {
			if od := realOneof(fs.Get(i)); od != nil {
				m[fs.Get(i).Number()] = string(od.Name())
			}
		}
		return m
	}
	oOneof, uOneof := oneofOf(of), oneofOf(uf)
	for i := range of.Len() {
		if _, in := oOneof[of.Get(i).Number()]; !in {
			otop[of.Get(i).Number()] = of.Get(i)
		}
	}
	for i := range uf.Len() {
		if _, in := uOneof[uf.Get(i).Number()]; !in {
			utop[uf.Get(i).Number()] = uf.Get(i)
		}
	}
	// Oneofs of the reader: fields moved in from the top level.
	uos := u.Oneofs()
	for i := range uos.Len() {
		od := uos.Get(i)
		if od.IsSynthetic() {
			continue
		}
		moved, existing := 0, 0
		for j := range od.Fields().Len() {
			n := od.Fields().Get(j).Number()
			if _, ok := otop[n]; ok {
				delete(otop, n)
				moved++
			} else if _, ok := oOneof[n]; ok {
				existing++
			}
		}
		op := p + "/" + string(od.Name())
		if moved > 1 {
			c.add(op, MultipleFieldsMovedToOneof)
		} else if moved == 1 && existing > 0 {
			c.add(op, FieldMovedToExistingOneof)
		}
	}
	// Oneofs by name.
	oos := o.Oneofs()
	var onames, unames []string
	for i := range oos.Len() {
		if !oos.Get(i).IsSynthetic() {
			onames = append(onames, string(oos.Get(i).Name()))
		}
	}
	for i := range uos.Len() {
		if !uos.Get(i).IsSynthetic() {
			unames = append(unames, string(uos.Get(i).Name()))
		}
	}
	for _, name := range union(onames, unames) {
		op := p + "/" + name
		ood, uod := oos.ByName(protoreflect.Name(name)), uos.ByName(protoreflect.Name(name))
		switch {
		case uod == nil || uod.IsSynthetic():
			c.add(op, OneofRemoved)
		case ood == nil || ood.IsSynthetic():
			c.add(op, OneofAdded)
		default:
			for j := range ood.Fields().Len() {
				f := ood.Fields().Get(j)
				g := uod.Fields().ByNumber(f.Number())
				if g == nil {
					c.add(op+"/"+strconv.Itoa(int(f.Number())), OneofFieldRemoved)
				} else {
					c.compareFields(op+"/"+strconv.Itoa(int(f.Number())), f, g)
				}
			}
			for j := range uod.Fields().Len() {
				g := uod.Fields().Get(j)
				if ood.Fields().ByNumber(g.Number()) == nil {
					c.add(op+"/"+strconv.Itoa(int(g.Number())), OneofFieldAdded)
				}
			}
		}
	}
	// Top-level fields by number, in number order.
	for _, n := range numbers(otop, utop) {
		fp := p + "/" + strconv.Itoa(int(n))
		f, inO := otop[n]
		g, inU := utop[n]
		switch {
		case !inU:
			if f.Cardinality() == protoreflect.Required {
				c.add(fp, RequiredFieldRemoved)
			} else {
				c.add(fp, FieldRemoved)
			}
		case !inO:
			if g.Cardinality() == protoreflect.Required {
				c.add(fp, RequiredFieldAdded)
			} else {
				c.add(fp, FieldAdded)
			}
		default:
			c.compareFields(fp, f, g)
		}
	}
	// Fields whose oneof membership changed are still compared by number.
	for i := range of.Len() {
		f := of.Get(i)
		g := uf.ByNumber(f.Number())
		if g == nil {
			continue
		}
		on, oin := oOneof[f.Number()]
		un, uin := uOneof[f.Number()]
		if (!oin && !uin) || (oin && uin && on == un) {
			continue
		}
		c.compareFields(p+"/"+strconv.Itoa(int(f.Number())), f, g)
	}
	c.compareTypes(p, o.Messages(), u.Messages(), o.Enums(), u.Enums())
}

func numbers(a, b map[protoreflect.FieldNumber]protoreflect.FieldDescriptor) []protoreflect.FieldNumber {
	seen := map[protoreflect.FieldNumber]bool{}
	var out []protoreflect.FieldNumber
	for _, m := range []map[protoreflect.FieldNumber]protoreflect.FieldDescriptor{a, b} {
		for n := range m {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (c *ctx) compareFields(p string, f, g protoreflect.FieldDescriptor) {
	if f.Name() != g.Name() {
		c.add(p, FieldNameChanged)
	}
	if !f.IsMap() && !g.IsMap() && f.IsList() != g.IsList() {
		switch {
		case f.Kind() == protoreflect.StringKind || f.Kind() == protoreflect.BytesKind:
			c.add(p, FieldStringOrBytesLabel)
		case kindOf(f) == "scalar":
			c.add(p, FieldNumericLabelChanged)
		}
	}
	c.compareTypes2(p, f, g)
}

func kindOf(f protoreflect.FieldDescriptor) string {
	switch {
	case f.IsMap():
		return "map"
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		return "message"
	}
	return "scalar"
}

// scalarGroup groups the scalar kinds whose encodings read each other.
func scalarGroup(k protoreflect.Kind) string {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.BoolKind, protoreflect.EnumKind:
		return "varint"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "zigzag"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "bytes"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "fixed32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "fixed64"
	case protoreflect.FloatKind:
		return "float"
	case protoreflect.DoubleKind:
		return "double"
	}
	return k.String()
}

func (c *ctx) compareTypes2(p string, f, g protoreflect.FieldDescriptor) {
	fk, gk := kindOf(f), kindOf(g)
	if fk != gk {
		c.add(p, FieldKindChanged)
		return
	}
	switch fk {
	case "scalar":
		if scalarGroup(f.Kind()) != scalarGroup(g.Kind()) {
			c.add(p, FieldScalarKindChanged)
		}
	case "map":
		c.compareTypes2(p, f.MapKey(), g.MapKey())
		c.compareTypes2(p, f.MapValue(), g.MapValue())
	case "message":
		om, um := f.Message(), g.Message()
		if localName(om) != localName(um) {
			c.add(p, FieldNamedTypeChanged)
			return
		}
		mark := len(c.diffs)
		c.compareMessages("#/"+localName(om), om, um)
		if !c.ok(mark) {
			c.add(p, FieldNamedTypeChanged)
		}
	}
}

// localName is a message's full name without its file's package.
func localName(m protoreflect.MessageDescriptor) string {
	full := string(m.FullName())
	if pkg := string(m.ParentFile().Package()); pkg != "" {
		return strings.TrimPrefix(full, pkg+".")
	}
	return full
}
