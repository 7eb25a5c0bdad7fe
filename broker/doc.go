// Package broker is tickertape's embedded, single-node Kafka broker: it speaks the
// Kafka wire protocol (through franz-go's kmsg) to any unmodified Kafka client and
// keeps every partition in a commitlog.Log.
//
// What it owns: the listener and per-connection request loops, the topic catalogue
// (names, topic IDs, partition counts, topic configs) persisted in the data
// directory, producer-id allocation, and one file per API family that registers
// the versions it serves. ApiVersions is built from those registrations, so what
// we advertise cannot drift from what we handle.
//
// What it must not touch: record contents. Client batches are validated (CRC,
// framing, idempotent sequence) and stored verbatim by commitlog; the broker never
// decompresses or re-encodes them on the produce or fetch path.
//
// Invariants a reader needs:
//   - Responses on one connection go back in request order. Requests are decoded
//     and their side effects applied one at a time, in order, by the connection's
//     reader; a handler may return a deferred response (produce waiting for fsync,
//     fetch long-polling) that the connection's writer waits for in order.
//   - Acked means durable: acks=1/all produce responses are written only after
//     commitlog.WaitDurable covers the batch; consumers never see offsets at or
//     above a partition's high watermark.
//   - Lock order: Broker.mu (topic catalogue) before any commitlog lock. Handlers
//     take Broker.mu only to look partitions up and never hold it while waiting.
package broker
