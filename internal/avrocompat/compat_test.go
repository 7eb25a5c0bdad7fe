package avrocompat

import (
	"testing"

	"github.com/hamba/avro/v2"
)

// Cases derived from the Avro specification's "Schema Resolution" rules.
// want is "" for compatible, else the first incompatibility's Type.
var cases = []struct {
	name, reader, writer, want string
}{
	// Primitives and promotions.
	{"same int", `"int"`, `"int"`, ""},
	{"int to long", `"long"`, `"int"`, ""},
	{"int to float", `"float"`, `"int"`, ""},
	{"int to double", `"double"`, `"int"`, ""},
	{"long to float", `"float"`, `"long"`, ""},
	{"long to double", `"double"`, `"long"`, ""},
	{"float to double", `"double"`, `"float"`, ""},
	{"string to bytes", `"bytes"`, `"string"`, ""},
	{"bytes to string", `"string"`, `"bytes"`, ""},
	{"long to int fails", `"int"`, `"long"`, "TYPE_MISMATCH"},
	{"double to float fails", `"float"`, `"double"`, "TYPE_MISMATCH"},
	{"float to long fails", `"long"`, `"float"`, "TYPE_MISMATCH"},
	{"int to string fails", `"string"`, `"int"`, "TYPE_MISMATCH"},
	{"boolean to int fails", `"int"`, `"boolean"`, "TYPE_MISMATCH"},
	{"null to null", `"null"`, `"null"`, ""},
	{"null to int fails", `"int"`, `"null"`, "TYPE_MISMATCH"},
	// Logical types resolve on their underlying types.
	{"decimal bytes to bytes", `"bytes"`, `{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}`, ""},
	{"timestamp-micros to long", `"long"`, `{"type":"long","logicalType":"timestamp-micros"}`, ""},
	{"decimal fixed to bytes fails", `"bytes"`, `{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":18,"scale":2}`, "TYPE_MISMATCH"},
	// Records.
	{"record same", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, ""},
	{"record field promoted", `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, ""},
	{"record field narrowed fails", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`, "TYPE_MISMATCH"},
	{"reader adds field with default", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, ""},
	{"reader adds field without default fails", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	{"writer has extra field", `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}`, ""},
	{"record name mismatch", `{"type":"record","name":"S","fields":[]}`, `{"type":"record","name":"R","fields":[]}`, "NAME_MISMATCH"},
	{"record reader alias", `{"type":"record","name":"S","aliases":["R"],"fields":[]}`, `{"type":"record","name":"R","fields":[]}`, ""},
	{"record namespaced alias", `{"type":"record","name":"S","namespace":"n","aliases":["m.R"],"fields":[]}`, `{"type":"record","name":"R","namespace":"m","fields":[]}`, ""},
	{"record unqualified names match", `{"type":"record","name":"R","namespace":"a","fields":[]}`, `{"type":"record","name":"R","namespace":"b","fields":[]}`, ""},
	{"field alias", `{"type":"record","name":"R","fields":[{"name":"price","aliases":["px"],"type":"string"}]}`, `{"type":"record","name":"R","fields":[{"name":"px","type":"string"}]}`, ""},
	{"field renamed without alias fails", `{"type":"record","name":"R","fields":[{"name":"price","type":"string"}]}`, `{"type":"record","name":"R","fields":[{"name":"px","type":"string"}]}`, "READER_FIELD_MISSING_DEFAULT_VALUE"},
	{"record vs int fails", `{"type":"record","name":"R","fields":[]}`, `"int"`, "TYPE_MISMATCH"},
	{"nested record field fails", `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"x","type":"int"}]}}]}`, `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"x","type":"string"}]}}]}`, "TYPE_MISMATCH"},
	{"nested record added default", `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":0}]}}]}`, `{"type":"record","name":"R","fields":[{"name":"in","type":{"type":"record","name":"I","fields":[{"name":"x","type":"int"}]}}]}`, ""},
	{"recursive list", `{"type":"record","name":"L","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","L"]}]}`, `{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}`, ""},
	{"recursive list narrowed fails", `{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}`, `{"type":"record","name":"L","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","L"]}]}`, "TYPE_MISMATCH"},
	// Enums.
	{"enum same", `{"type":"enum","name":"E","symbols":["A","B"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum reader adds symbol", `{"type":"enum","name":"E","symbols":["A","B","C"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum writer adds symbol fails", `{"type":"enum","name":"E","symbols":["A"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, "MISSING_ENUM_SYMBOLS"},
	{"enum writer adds symbol, reader default", `{"type":"enum","name":"E","symbols":["A","U"],"default":"U"}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, ""},
	{"enum name mismatch", `{"type":"enum","name":"F","symbols":["A"]}`, `{"type":"enum","name":"E","symbols":["A"]}`, "NAME_MISMATCH"},
	{"enum vs string fails", `"string"`, `{"type":"enum","name":"E","symbols":["A"]}`, "TYPE_MISMATCH"},
	// Fixed.
	{"fixed same", `{"type":"fixed","name":"F","size":4}`, `{"type":"fixed","name":"F","size":4}`, ""},
	{"fixed size mismatch", `{"type":"fixed","name":"F","size":8}`, `{"type":"fixed","name":"F","size":4}`, "FIXED_SIZE_MISMATCH"},
	{"fixed name mismatch", `{"type":"fixed","name":"G","size":4}`, `{"type":"fixed","name":"F","size":4}`, "NAME_MISMATCH"},
	{"fixed vs bytes fails", `"bytes"`, `{"type":"fixed","name":"F","size":4}`, "TYPE_MISMATCH"},
	// Arrays and maps.
	{"array promoted items", `{"type":"array","items":"long"}`, `{"type":"array","items":"int"}`, ""},
	{"array narrowed items fails", `{"type":"array","items":"int"}`, `{"type":"array","items":"long"}`, "TYPE_MISMATCH"},
	{"map promoted values", `{"type":"map","values":"double"}`, `{"type":"map","values":"float"}`, ""},
	{"map vs array fails", `{"type":"map","values":"int"}`, `{"type":"array","items":"int"}`, "TYPE_MISMATCH"},
	{"array of records added default", `{"type":"array","items":{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}}`, `{"type":"array","items":{"type":"record","name":"R","fields":[]}}`, ""},
	// Unions.
	{"union same", `["null","string"]`, `["null","string"]`, ""},
	{"union reader superset", `["null","string","int"]`, `["null","string"]`, ""},
	{"union writer superset fails", `["null","string"]`, `["null","string","int"]`, "MISSING_UNION_BRANCH"},
	{"union branch promoted", `["null","long"]`, `["null","int"]`, ""},
	{"non-union writer into union", `["null","string"]`, `"string"`, ""},
	{"non-union writer promoted into union", `["null","double"]`, `"int"`, ""},
	{"non-union writer missing from union fails", `["null","string"]`, `"int"`, "MISSING_UNION_BRANCH"},
	{"union writer into non-union, all branches readable", `"long"`, `["int","long"]`, ""},
	{"union writer into non-union fails", `"string"`, `["null","string"]`, "TYPE_MISMATCH"},
	{"optional field made required fails", `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"]}]}`, "TYPE_MISMATCH"},
	{"required field made optional", `{"type":"record","name":"R","fields":[{"name":"a","type":["null","string"],"default":null}]}`, `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`, ""},
	{"union of records by name", `["null",{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]},{"type":"record","name":"B","fields":[]}]`, `[{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]},"null"]`, ""},
	{"union record branch incompatible fails", `["null",{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}]`, `["null",{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}]`, "MISSING_UNION_BRANCH"},
}

func parse(t testing.TB, s string) avro.Schema {
	t.Helper()
	sch, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return sch
}

func TestSpecCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Check(parse(t, c.reader), parse(t, c.writer))
			switch {
			case c.want == "" && len(got) > 0:
				t.Fatalf("want compatible, got %v", got)
			case c.want != "" && len(got) == 0:
				t.Fatalf("want %s, got compatible", c.want)
			case c.want != "" && got[0].Type != c.want:
				t.Fatalf("want %s, got %v", c.want, got)
			}
			for _, i := range got {
				if i.Message == "" || i.Location == "" || i.String() == "" {
					t.Fatalf("incomplete incompatibility %+v", i)
				}
			}
		})
	}
}

// TestHambaDisagreements logs the cases where hamba/avro's own checker
// differs from the specification (why this package exists). It does not fail.
func TestHambaDisagreements(t *testing.T) {
	hc := avro.NewSchemaCompatibility()
	n := 0
	for _, c := range cases {
		err := hc.Compatible(parse(t, c.reader), parse(t, c.writer))
		if (err == nil) != (c.want == "") {
			n++
			t.Logf("hamba/avro disagrees on %q: its answer %v, the spec's %q", c.name, err, c.want)
		}
	}
	t.Logf("%d of %d cases differ", n, len(cases))
}

func FuzzCheck(f *testing.F) {
	for _, c := range cases[:20] {
		f.Add(c.reader, c.writer)
	}
	f.Fuzz(func(t *testing.T, reader, writer string) {
		r, err := avro.ParseWithCache(reader, "", &avro.SchemaCache{})
		if err != nil {
			return
		}
		w, err := avro.ParseWithCache(writer, "", &avro.SchemaCache{})
		if err != nil {
			return
		}
		Check(r, w)
		if inc := Check(r, r); len(inc) > 0 {
			t.Fatalf("%s not compatible with itself: %v", reader, inc)
		}
	})
}
