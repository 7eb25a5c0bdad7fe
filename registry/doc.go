// Package registry is a schema registry that speaks the Confluent Schema
// Registry REST API (Avro schemas), so that existing serializers and
// registry clients work against it unchanged.
//
// Its state lives in a compacted Kafka topic (_schemas) in Confluent's
// record format (JSON keys with keytype SCHEMA, CONFIG, MODE,
// DELETE_SUBJECT or NOOP, JSON values, tombstones for hard deletes), so the
// same registry runs against the embedded broker or any Kafka cluster, and
// a topic written by Confluent Schema Registry or Karapace can be read (and
// the other way round).
//
// Every instance replays the topic into a deterministic state machine
// (state.go) and answers reads from it. Writes run on one instance, elected
// through a consumer group with a protocol of its own (election.go); the
// others forward writes to it over HTTP (forward.go). A write is answered
// only once its record is acknowledged by all in-sync replicas and read
// back, so the next read anywhere on the leader sees it.
//
// Schema identity (one id for the same schema, whatever its formatting or
// subject) is the parsed schema's full normalized JSON plus its references;
// see identity in avro.go for why Parsing Canonical Form alone is not used.
// Compatibility follows the Avro specification through internal/avrocompat.
//
// Not here yet: JSON Schema and Protobuf, schema contexts, metadata and rule
// sets, authentication.
package registry
