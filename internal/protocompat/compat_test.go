package protocompat

import (
	"context"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoreflect"
)

type compatCase struct {
	name           string
	writer, reader string // the old (original) and new (update) .proto
	compatible     bool
	first          string // the first incompatibility's type, when not compatible
	at             string // and its path, when given
}

func p3(body string) string { return "syntax = \"proto3\";\npackage t;\n" + body }
func p2(body string) string { return "syntax = \"proto2\";\npackage t;\n" + body }

// cases are derived from the rules Confluent documents for Protobuf
// ("Schema Evolution and Compatibility", the Protobuf serdes page) and from
// protobuf's own "Updating a message type": each rule once compatible and
// once not. The reader is the new schema, the writer the old one.
var cases = []compatCase{
	{name: "identical", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { int64 a = 1; }`), compatible: true},
	{name: "field added", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { int64 a = 1; string b = 2; }`), compatible: true},
	{name: "field removed", writer: p3(`message M { int64 a = 1; string b = 2; }`), reader: p3(`message M { int64 a = 1; }`), compatible: true},
	{name: "field renamed", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { int64 price = 1; }`), compatible: true},
	{name: "field number changed (removed and added)", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { int64 a = 2; }`), compatible: true},

	// Scalar kinds.
	{name: "scalar: int32 to int64", writer: p3(`message M { int32 a = 1; }`), reader: p3(`message M { int64 a = 1; }`), compatible: true},
	{name: "scalar: uint64 to bool", writer: p3(`message M { uint64 a = 1; }`), reader: p3(`message M { bool a = 1; }`), compatible: true},
	{name: "scalar: int32 to sint32", writer: p3(`message M { int32 a = 1; }`), reader: p3(`message M { sint32 a = 1; }`), first: FieldScalarKindChanged, at: "#/M/1"},
	{name: "scalar: sint32 to sint64", writer: p3(`message M { sint32 a = 1; }`), reader: p3(`message M { sint64 a = 1; }`), compatible: true},
	{name: "scalar: string to bytes", writer: p3(`message M { string a = 1; }`), reader: p3(`message M { bytes a = 1; }`), compatible: true},
	{name: "scalar: string to int64", writer: p3(`message M { string a = 1; }`), reader: p3(`message M { int64 a = 1; }`), first: FieldScalarKindChanged},
	{name: "scalar: fixed32 to sfixed32", writer: p3(`message M { fixed32 a = 1; }`), reader: p3(`message M { sfixed32 a = 1; }`), compatible: true},
	{name: "scalar: fixed32 to fixed64", writer: p3(`message M { fixed32 a = 1; }`), reader: p3(`message M { fixed64 a = 1; }`), first: FieldScalarKindChanged},
	{name: "scalar: fixed64 to sfixed64", writer: p3(`message M { fixed64 a = 1; }`), reader: p3(`message M { sfixed64 a = 1; }`), compatible: true},
	{name: "scalar: float to double", writer: p3(`message M { float a = 1; }`), reader: p3(`message M { double a = 1; }`), first: FieldScalarKindChanged},
	{name: "scalar: enum to int32", writer: p3(`enum E { A = 0; } message M { E a = 1; }`), reader: p3(`enum E { A = 0; } message M { int32 a = 1; }`), compatible: true},
	{name: "scalar: enum to string", writer: p3(`enum E { A = 0; } message M { E a = 1; }`), reader: p3(`enum E { A = 0; } message M { string a = 1; }`), first: FieldScalarKindChanged},

	// Kinds.
	{name: "kind: scalar to message", writer: p3(`message N {} message M { int64 a = 1; }`), reader: p3(`message N {} message M { N a = 1; }`), first: FieldKindChanged, at: "#/M/1"},
	{name: "kind: map to message", writer: p3(`message N {} message M { map<string,int64> a = 1; }`), reader: p3(`message N {} message M { N a = 1; }`), first: FieldKindChanged},
	{name: "map: value widened within its group", writer: p3(`message M { map<string,int32> a = 1; }`), reader: p3(`message M { map<string,int64> a = 1; }`), compatible: true},
	{name: "map: value changed", writer: p3(`message M { map<string,int32> a = 1; }`), reader: p3(`message M { map<string,string> a = 1; }`), first: FieldScalarKindChanged},
	{name: "map: key changed", writer: p3(`message M { map<string,int32> a = 1; }`), reader: p3(`message M { map<sint32,int32> a = 1; }`), first: FieldScalarKindChanged},

	// Labels.
	{name: "label: string turned repeated", writer: p3(`message M { string a = 1; }`), reader: p3(`message M { repeated string a = 1; }`), compatible: true},
	{name: "label: int64 turned repeated", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { repeated int64 a = 1; }`), first: FieldNumericLabelChanged},
	{name: "label: proto3 optional added", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { optional int64 a = 1; }`), compatible: true},
	{name: "required: optional field added (proto2)", writer: p2(`message M { optional int64 a = 1; }`), reader: p2(`message M { optional int64 a = 1; optional string b = 2; }`), compatible: true},
	{name: "required: required field added (proto2)", writer: p2(`message M { optional int64 a = 1; }`), reader: p2(`message M { optional int64 a = 1; required string b = 2; }`), first: RequiredFieldAdded, at: "#/M/2"},
	{name: "required: optional field removed (proto2)", writer: p2(`message M { optional int64 a = 1; optional string b = 2; }`), reader: p2(`message M { optional int64 a = 1; }`), compatible: true},
	{name: "required: required field removed (proto2)", writer: p2(`message M { optional int64 a = 1; required string b = 2; }`), reader: p2(`message M { optional int64 a = 1; }`), first: RequiredFieldRemoved},

	// Messages.
	{name: "message: added", writer: p3(`message M {}`), reader: p3(`message M {} message N {}`), compatible: true},
	{name: "message: removed", writer: p3(`message M {} message N {}`), reader: p3(`message M {}`), first: MessageRemoved, at: "#/N"},
	{name: "message: moved (reordered)", writer: p3(`message M {} message N {}`), reader: p3(`message N {} message M {}`), compatible: true},
	{name: "message: renamed", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message Trade { int64 a = 1; }`), first: MessageRemoved},
	{name: "message: nested field widened", writer: p3(`message M { message N { int32 v = 1; } N n = 1; }`), reader: p3(`message M { message N { int64 v = 1; } N n = 1; }`), compatible: true},
	{name: "message: nested field changed", writer: p3(`message M { message N { int32 v = 1; } N n = 1; }`), reader: p3(`message M { message N { string v = 1; } N n = 1; }`), first: FieldScalarKindChanged, at: "#/M.N/1"},
	{name: "message: field's type renamed", writer: p3(`message A { int64 v = 1; } message M { A a = 1; }`), reader: p3(`message A { int64 v = 1; } message B { int64 v = 1; } message M { B a = 1; }`), first: FieldNamedTypeChanged, at: "#/M/1"},
	{name: "message: field's type in another package, same local name", writer: "syntax = \"proto3\";\npackage t;\nmessage A { int64 v = 1; } message M { A a = 1; }", reader: "syntax = \"proto3\";\npackage t;\nmessage A { int64 v = 1; string w = 2; } message M { A a = 1; }", compatible: true},
	{name: "package: changed", writer: "syntax = \"proto3\";\npackage a;\nmessage M {}", reader: "syntax = \"proto3\";\npackage b;\nmessage M {}", first: PackageChanged},
	{name: "package: none to none", writer: "syntax = \"proto3\";\nmessage M { int32 a = 1; }", reader: "syntax = \"proto3\";\nmessage M { int64 a = 1; }", compatible: true},

	// Enums.
	{name: "enum: value added", writer: p3(`enum E { A = 0; }`), reader: p3(`enum E { A = 0; B = 1; }`), compatible: true},
	{name: "enum: value removed", writer: p3(`enum E { A = 0; B = 1; }`), reader: p3(`enum E { A = 0; }`), compatible: true},
	{name: "enum: value renumbered", writer: p3(`enum E { A = 0; B = 1; }`), reader: p3(`enum E { A = 0; B = 2; }`), compatible: true},
	{name: "enum: removed", writer: p3(`enum E { A = 0; } message M {}`), reader: p3(`message M {}`), compatible: true},
	{name: "enum: field's enum to message", writer: p3(`enum E { A = 0; } message N {} message M { E a = 1; }`), reader: p3(`enum E { A = 0; } message N {} message M { N a = 1; }`), first: FieldKindChanged},

	// Oneofs.
	{name: "oneof: added with new fields", writer: p3(`message M { int64 a = 1; }`), reader: p3(`message M { int64 a = 1; oneof o { string b = 2; int64 c = 3; } }`), compatible: true},
	{name: "oneof: removed with its fields", writer: p3(`message M { int64 a = 1; oneof o { string b = 2; } }`), reader: p3(`message M { int64 a = 1; }`), compatible: true},
	{name: "oneof: field added", writer: p3(`message M { oneof o { string b = 2; } }`), reader: p3(`message M { oneof o { string b = 2; int64 c = 3; } }`), compatible: true},
	{name: "oneof: field removed", writer: p3(`message M { oneof o { string b = 2; int64 c = 3; } }`), reader: p3(`message M { oneof o { string b = 2; } }`), first: OneofFieldRemoved, at: "#/M/o/3"},
	{name: "oneof: field's type changed", writer: p3(`message M { oneof o { string b = 2; } }`), reader: p3(`message M { oneof o { int64 b = 2; } }`), first: FieldScalarKindChanged, at: "#/M/o/2"},
	{name: "oneof: one field moved into a new oneof", writer: p3(`message M { string a = 1; }`), reader: p3(`message M { oneof o { string a = 1; int64 b = 2; } }`), compatible: true},
	{name: "oneof: two fields moved into a new oneof", writer: p3(`message M { string a = 1; int64 b = 2; }`), reader: p3(`message M { oneof o { string a = 1; int64 b = 2; } }`), first: MultipleFieldsMovedToOneof, at: "#/M/o"},
	{name: "oneof: field moved into an existing oneof", writer: p3(`message M { string a = 1; oneof o { int64 b = 2; } }`), reader: p3(`message M { oneof o { string a = 1; int64 b = 2; } }`), first: FieldMovedToExistingOneof},
	{name: "oneof: field moved in with its type changed", writer: p3(`message M { string a = 1; }`), reader: p3(`message M { oneof o { int64 a = 1; } }`), first: FieldScalarKindChanged},

	// Recursion.
	{name: "recursive: widened", writer: p3(`message L { int32 v = 1; L next = 2; }`), reader: p3(`message L { int64 v = 1; L next = 2; }`), compatible: true},
	{name: "recursive: changed", writer: p3(`message L { int32 v = 1; L next = 2; }`), reader: p3(`message L { string v = 1; L next = 2; }`), first: FieldScalarKindChanged, at: "#/L/1"},

	// Well-known types.
	{name: "well-known: Timestamp kept", writer: "syntax = \"proto3\";\npackage t;\nimport \"google/protobuf/timestamp.proto\";\nmessage M { google.protobuf.Timestamp at = 1; }", reader: "syntax = \"proto3\";\npackage t;\nimport \"google/protobuf/timestamp.proto\";\nmessage M { google.protobuf.Timestamp at = 1; string s = 2; }", compatible: true},
	{name: "well-known: Timestamp to Duration", writer: "syntax = \"proto3\";\npackage t;\nimport \"google/protobuf/timestamp.proto\";\nmessage M { google.protobuf.Timestamp at = 1; }", reader: "syntax = \"proto3\";\npackage t;\nimport \"google/protobuf/duration.proto\";\nmessage M { google.protobuf.Duration at = 1; }", first: FieldNamedTypeChanged},
}

func compile(t testing.TB, src string, deps map[string]string) protoreflect.FileDescriptor {
	t.Helper()
	files := map[string]string{"main.proto": src}
	for k, v := range deps {
		files[k] = v
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(files)})}
	fs, err := c.Compile(context.Background(), "main.proto")
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return fs[0]
}

func TestCases(t *testing.T) {
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			r, w := compile(t, c.reader, nil), compile(t, c.writer, nil)
			got := Check(r, w)
			if c.compatible {
				if len(got) > 0 {
					t.Fatalf("want compatible, got %v", got)
				}
				return
			}
			if len(got) == 0 {
				t.Fatalf("want %s, got compatible (differences %v)", c.first, Diff(r, w))
			}
			if got[0].Type != c.first || (c.at != "" && got[0].Path != c.at) {
				t.Fatalf("first %v, want %s at %q (all %v)", got[0], c.first, c.at, got)
			}
		})
	}
}

func TestSelfCompatible(t *testing.T) {
	for _, c := range cases {
		for _, s := range []string{c.reader, c.writer} {
			f := compile(t, s, nil)
			if got := Check(f, f); len(got) > 0 {
				t.Errorf("%s does not read itself: %v", s, got)
			}
		}
	}
}

// A message type imported from another file (a registry reference) is
// compared through the import.
func TestImportedTypes(t *testing.T) {
	main := "syntax = \"proto3\";\npackage t;\nimport \"price.proto\";\nmessage M { Price p = 1; }"
	old := compile(t, main, map[string]string{"price.proto": p3(`message Price { int32 units = 1; }`)})
	widened := compile(t, main, map[string]string{"price.proto": p3(`message Price { int64 units = 1; }`)})
	changed := compile(t, main, map[string]string{"price.proto": p3(`message Price { string units = 1; }`)})
	if got := Check(widened, old); len(got) > 0 {
		t.Fatalf("widened: %v", got)
	}
	got := Check(changed, old)
	if len(got) != 2 || got[0].Type != FieldScalarKindChanged || got[1].Type != FieldNamedTypeChanged || got[1].Path != "#/M/1" {
		t.Fatalf("changed: %v", got)
	}
	if !strings.Contains(got[1].String(), "Difference{fullPath='#/M/1', type=FIELD_NAMED_TYPE_CHANGED}") {
		t.Fatalf("message %q", got[1].String())
	}
}
