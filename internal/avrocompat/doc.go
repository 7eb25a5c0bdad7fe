// Package avrocompat decides whether data written with one Avro schema can be
// read with another, by the "Schema Resolution" section of the Avro
// specification (1.11 and 1.12), and says why not, one Incompatibility per
// problem, typed with Avro's SchemaIncompatibilityType names and located by a
// JSON-pointer-like path in the reader schema. The schema registry builds its
// compatibility levels on Check: BACKWARD is Check(new, old), FORWARD is
// Check(old, new), FULL both, and the _TRANSITIVE levels repeat them against
// every earlier version.
//
// # Rules
//
//   - Primitives read themselves and the promotions int → long, float,
//     double; long → float, double; float → double; string → bytes; bytes →
//     string. Nothing narrows: a long does not read as an int.
//   - Records, enums and fixed match when their unqualified names are equal
//     or one of the reader's aliases is the writer's full name (aliases are
//     qualified with the reader's namespace; the writer's aliases play no
//     part). Fixed sizes must be equal.
//   - Every reader field must be in the writer, by its name or else by one
//     of its aliases (the writer's field aliases play no part), with a type
//     that resolves, or have a default. Writer fields the reader lacks are
//     skipped.
//   - Every writer enum symbol must be a reader symbol, unless the reader
//     enum has a default.
//   - Arrays resolve their items, maps their values.
//   - A writer union resolves when each of its branches does. A reader union
//     reads a (writer branch's) schema through the branch the spec selects:
//     the first branch that matches, matching being the spec's shallow test
//     (named types by name and aliases, fixed also by size, arrays and maps
//     by their items and values, primitives by type or promotion); that
//     branch must then resolve. No matching branch is MISSING_UNION_BRANCH.
//     A branch of the writer's own type and full name is preferred to an
//     earlier one that only matches by unqualified name, alias or
//     promotion, as Avro's resolvers do; without that, a union of a.R and
//     b.R could not read its own b.R data.
//   - Recursive types (a linked list) are handled: each pair of reader and
//     writer records is checked once, and its problems reported where it is
//     first met.
//
// # Logical types
//
// Logical types are ignored, as Java Avro's SchemaCompatibility (and so
// Confluent's registry) ignores them: resolution works on the underlying
// types, so a date (int) reads as a timestamp-millis (long) by promotion, and
// decimals with different precisions or scales are compatible, although the
// spec says two decimals match only if their scales and precisions do. A
// decimal in fixed and one in bytes do not match (fixed and bytes never do).
//
// # Where it differs from Java Avro's checker
//
// Java's SchemaCompatibility, and hamba/avro's SchemaCompatibility after it,
// accept a reader union when any branch fully resolves; this package follows
// the spec's selected branch instead, so it is stricter exactly when an
// earlier branch matches by name or alias but does not resolve while a later
// one would. Java throws when a reader field matches several writer fields
// (by its name and an alias, or by two aliases), and its decoder would
// rename two writer fields alike; this package reports NAME_MISMATCH there
// (except for a writer field that a reader field of that name reads: an
// alias naming a sibling field breaks the spec's uniqueness rule, but must
// not stop a schema from reading itself).
//
// # What it does not do
//
// It does not validate schemas or default values (the parser does that), does
// not build the resolved schema or read data, does not apply the writer's
// aliases, does not check field order, sort order or documentation (none of
// which affect resolution), and knows nothing of Protobuf or JSON Schema.
package avrocompat
