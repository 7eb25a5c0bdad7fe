// Package commitlog is tickertape's durable partition log: one Log per
// partition, stored in Apache Kafka's own on-disk layout so that Kafka's tools
// can read it.
//
// Files in a partition directory:
//
//	00000000000000000000.log        record batches v2, exactly as clients sent them,
//	                                 with base offset and leader epoch assigned
//	00000000000000000000.index      8-byte entries: last offset of a batch (relative), its file position
//	00000000000000000000.timeindex  12-byte entries: max timestamp, last offset (relative); increasing
//	tickertape-producers.json       idempotent-producer state snapshot (ours; Kafka's tools ignore it)
//	tickertape-log-start-offset     the log start offset after DeleteRecords or retention
//
// What it owns: appending (validation of framing, CRC32C and idempotent
// sequences), reading whole batches, the fsync policy and group commit,
// recovery, segment rolling, retention, and record decoding for exact
// timestamp lookups (Records). What it must not touch: record contents.
// Batches are never recompressed; only BaseOffset and PartitionLeaderEpoch
// (outside the CRC) are set, plus MaxTimestamp and the timestamp-type bit with
// a new CRC when the topic uses LogAppendTime.
//
// Durability: Append writes with one pwrite and never fsyncs. With FsyncAlways,
// WaitDurable runs an fsync round that covers every append made before it
// started; callers queued behind it re-check and usually find themselves
// covered (group commit). The high watermark is the fsynced end, so readers
// never see data a crash could take back. Recovery checks the framing of every
// segment and the CRC of every batch of the last one, truncates a torn tail
// with one warning, and rebuilds the indexes, which are never trusted blindly.
//
// Lock order: the owner's locks, then flushSem (the fsync token), then mu.
// mu is never held during an fsync of the data files, so reads and appends go
// on while an fsync runs.
package commitlog
