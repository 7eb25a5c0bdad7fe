// Package avroparse parses Avro schema text from outside (registry requests,
// schemas fetched from a registry, files) with hamba/avro, turning a panic of
// the parser on a malformed schema into an error: hamba/avro v2.31.0 panics,
// for example, on a field whose type is an empty union with a default (found
// by the registry's FuzzSchema). A server must answer such input with an
// error, not crash.
package avroparse

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// Parse is avro.ParseWithCache(text, "", cache) that never panics.
func Parse(text string, cache *avro.SchemaCache) (s avro.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("avro: the schema is malformed (the parser failed: %v)", r)
		}
	}()
	return avro.ParseWithCache(text, "", cache)
}
