// Package jsoncompat decides whether a JSON Schema (the reader, the newer
// schema under BACKWARD) accepts every document another (the writer) accepts,
// by the rules Confluent Schema Registry documents for JSON Schema, and says
// why not, one Incompatibility per difference, typed with Confluent's
// Difference.Type names and located by a JSON pointer ("#/properties/a").
// The registry builds its compatibility levels on Check exactly as for Avro:
// BACKWARD is Check(new, old), FORWARD is Check(old, new), FULL both.
//
// # Rules
//
// Schemas are classified the way Confluent's parser (everit) sees them:
// true and {} are the empty schema, false the false schema; a "$ref" is
// followed (to a definition in the same document, or to a referenced
// subject's document by the reference's name); "type" with several types,
// and the keywords allOf, anyOf and oneOf, are combined schemas; "enum",
// "const" and "not" are their own kinds; otherwise the (single or inferred)
// type decides: string, number (integer is a number that requires an
// integer), boolean, null, object, array. Then:
//
//   - A schema of another kind is TYPE_CHANGED, unless the writer is false
//     or the reader is empty (both accept more than before). A non-combined
//     writer read by an anyOf/oneOf is SUM_TYPE_EXTENDED when one branch
//     accepts it; a singleton combination is compared as its branch.
//   - Numbers: integer → number is TYPE_EXTENDED, number → integer
//     TYPE_NARROWED; maximum, minimum, exclusiveMaximum, exclusiveMinimum and
//     multipleOf are _ADDED, _REMOVED, _INCREASED/_DECREASED (or
//     MULTIPLE_OF_EXPANDED/_REDUCED/_CHANGED): loosening is compatible,
//     tightening is not. Strings: maxLength, minLength and pattern likewise.
//   - Objects: a property the reader removes is compatible when the reader
//     has an open content model (no additionalProperties false or schema, no
//     patternProperties), covered by the reader's partially open model when
//     that model's schema accepts it, and incompatible in a closed one
//     (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL) unless it was false. A
//     property the reader adds is incompatible when the writer's model is
//     open (the writer may have written anything under that name), unless
//     its schema is empty; in a closed writer model it is compatible unless
//     it is required without a default
//     (REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL). Making an existing
//     property required is REQUIRED_ATTRIBUTE_ADDED (compatible with a
//     default); dropping required is compatible. additionalProperties: allowing
//     them is compatible, forbidding them is not; a schema for them replacing
//     none is _NARROWED, the reverse _EXTENDED. maxProperties, minProperties
//     and dependencies as for numbers: loosening only.
//   - Arrays: items compared item by item; tuples (items as a list, or
//     prefixItems) with the same content-model rules as properties;
//     maxItems, minItems, uniqueItems and additionalItems loosening only.
//   - Enums: the reader's values a superset (ENUM_ARRAY_EXTENDED) is
//     compatible, a subset or another set is not. const is an enum of one.
//   - Combined: the same criterion, or one that accepts more (allOf/oneOf →
//     anyOf, singleton → oneOf) is compatible; more anyOf/oneOf branches
//     (SUM_TYPE_EXTENDED) or fewer allOf branches (PRODUCT_TYPE_NARROWED)
//     are; then the writer's and reader's branches must pair up compatibly
//     (a maximum matching covering the smaller side), or it is
//     COMBINED_TYPE_SUBSCHEMAS_CHANGED.
//   - not: compared with the roles swapped.
//   - $id, title, description and default changes are noted, and compatible.
//
// Recursive schemas terminate: each pair of referenced definitions is
// compared once.
//
// # What it does not do
//
// It does not validate documents (the registry compiles schemas with
// santhosh-tekuri/jsonschema for that), does not follow "$dynamicRef" or
// "$recursiveRef" (they are treated as the empty schema), and does not compare
// if/then/else, contains, propertyNames or format (as Confluent does not).
package jsoncompat
