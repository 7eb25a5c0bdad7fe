package avroparse

import (
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// The schema FuzzSchema found: hamba/avro panics on it; Parse returns an
// error, and a valid schema still parses.
func TestParseTurnsAParserPanicIntoAnError(t *testing.T) {
	bad := `{"type":"record","nAme":"A","fields":[{"nAme":"A","tYpe":[],"defAult":null}]}`
	if _, err := Parse(bad, &avro.SchemaCache{}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("Parse of a schema the parser panics on: %v", err)
	}
	s, err := Parse(`{"type":"record","name":"A","fields":[{"name":"a","type":["null","long"],"default":null}]}`, &avro.SchemaCache{})
	if err != nil || s.Type() != avro.Record {
		t.Fatalf("a valid schema: %v %v", s, err)
	}
}
