// Package avrocompat decides whether data written with one Avro schema can be
// read with another, following the "Schema Resolution" section of the Avro
// specification (1.11/1.12), and says why not. The schema registry builds its
// compatibility levels on it: BACKWARD checks Check(new, old), FORWARD
// checks Check(old, new), FULL both.
//
// Rules: primitives match themselves and the promotions int→long, float,
// double; long→float, double; float→double; string↔bytes. Named types
// (records, enums, fixed) match when their full names match, or when the
// reader's aliases contain the writer's full name; unqualified names match
// too (as Java Avro's checker allows). Every reader field must be in the
// writer (by name or by one of the reader field's aliases) with a readable
// type, or have a default. Every writer enum symbol must be in the reader
// unless the reader has a default symbol. Fixed sizes must be equal. A
// writer union is readable when each of its branches is; a reader union
// reads a non-union writer when some branch does.
//
// Logical types are ignored, as Java Avro's SchemaCompatibility ignores
// them: resolution works on the underlying types (a decimal in bytes reads
// as bytes). The package does not check default values against their types
// (the parser does) and does not build the resolved schema.
package avrocompat
