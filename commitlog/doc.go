// Package commitlog is tickertape's durable partition log: one Log per
// partition, stored in Apache Kafka's own on-disk layout so that Kafka's tools
// (kafka-dump-log / DumpLogSegments) can read it.
//
// Files in a partition directory:
//
//	00000000000000000000.log        record batches v2, exactly as clients sent them, with
//	                                 BaseOffset and PartitionLeaderEpoch assigned
//	00000000000000000000.index      8-byte big-endian entries (last offset of a batch relative to
//	                                 the segment base, file position of that batch), one each time
//	                                 more than index.interval.bytes were appended since the last
//	                                 entry, exactly as Kafka's LogSegment.append writes them; no
//	                                 preallocation, no trailing zeros
//	00000000000000000000.timeindex  12-byte entries (max timestamp so far, relative last offset of
//	                                 the batch carrying it), written with the offset entries when the
//	                                 timestamp grew, plus a final entry when the segment is sealed
//	tickertape-producers.json       idempotent-producer state snapshot (ours; Kafka's tools ignore it)
//	tickertape-log-start-offset     the log start offset after DeleteRecords or retention
//
// Our state files are written atomically (tmp, fsync, rename, fsync dir).
// Index entries are kept in memory and written at segment roll, Flush and
// Close; they are rebuilt whenever they do not match the log.
//
// What it owns: appending (validation of framing, CRC32C and idempotent
// sequences), reading whole batches, the fsync policy and group commit,
// recovery, segment rolling, retention, DeleteRecords, and record decoding for
// exact timestamp lookups (Records). What it must not touch: record contents.
// Batches are never recompressed; only BaseOffset and PartitionLeaderEpoch
// (outside the CRC) are set, plus MaxTimestamp and the timestamp-type bit with
// a new CRC when the topic uses LogAppendTime. It knows nothing about topics,
// the wire protocol or other partitions, and it never logs in normal operation
// (one warning when recovery cuts a torn tail, one if preallocation fails).
//
// Preallocation (prealloc.go): when turned on, the active segment's file
// is grown ahead of the appends by a background goroutine (zeros written under
// mu, only past the end where no append writes, then pushed to disk), so an
// fdatasync finds the blocks allocated and written and commits no metadata. A
// segment is cut back to its batches when it stops being active (roll,
// Close), as Kafka's trimToValidSize does; a zero tail found by recovery is
// the end of the log, not a tear.
//
// Durability: Append writes with one pwrite and never fsyncs. With FsyncAlways,
// WaitDurable runs an fsync round that covers every append made before it
// started; callers queued behind it re-check and usually find themselves
// covered (group commit). The high watermark is the fsynced end, so readers
// never see data a crash could take back. A segment that stops being active is
// fsynced (in every mode, as Kafka does) by a background goroutine owned by the
// Log, which also writes the producer snapshot taken at the roll; Close and
// Delete wait for it. A failed fsync is sticky: Append, WaitDurable and Flush
// return it until the log is reopened, because the kernel may have dropped the
// dirty pages.
//
// Recovery (Open): every segment's batch framing is checked (length, magic,
// increasing offsets); the last segment's batches are also CRC-checked. The
// first bad byte ends the log: the segment is truncated there, later segments
// are removed, and one slog warning names the directory, segment, offset and
// the bytes cut. Indexes of the last segment are rebuilt; earlier ones are
// rebuilt if missing or different from what the log implies. Producer state is
// the snapshot plus a re-scan of the batches after the offset it covers (all
// batches when there is no usable snapshot).
//
// Lock order: the owner's locks, then flushSem (the fsync token), then mu, then
// rollMu. snapMu is taken under flushSem+mu (Close) or alone (the roll syncer).
// mu is never held during an fsync of segment data, so reads and appends go on
// while an fsync runs; Read and the timestamp lookups release mu before their
// preads (a segment deleted meanwhile reads as ErrOffsetOutOfRange).
package commitlog
