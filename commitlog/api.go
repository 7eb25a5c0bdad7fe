package commitlog

// This file is the contract the broker codes against. Bodies are filled in by the
// commitlog implementation; signatures and documented behaviour must not change
// without updating broker/.

import (
	"errors"
	"log/slog"
	"time"
)

// FsyncMode says when appended data is forced to stable storage.
type FsyncMode int

const (
	// FsyncAlways: WaitDurable blocks until an fsync covers the offset (group commit:
	// concurrent waiters share one fsync). The high watermark only covers fsynced data.
	FsyncAlways FsyncMode = iota
	// FsyncInterval: the owner calls Flush every Interval; WaitDurable returns at once and
	// the high watermark is the end of the log.
	FsyncInterval
	// FsyncNever: only segment rolls and Close sync; WaitDurable returns at once.
	FsyncNever
)

// FsyncPolicy is the parsed form of --fsync=always|interval=<dur>|never.
type FsyncPolicy struct {
	Mode     FsyncMode
	Interval time.Duration // only for FsyncInterval
}

// Config holds the per-partition settings that come from topic configs.
// Zero values are replaced by DefaultConfig's values in Open and SetConfig
// (use -1 for "unlimited" where Kafka does).
type Config struct {
	SegmentBytes       int64 // segment.bytes, default 1 GiB
	SegmentMs          int64 // segment.ms, default 7 days
	RetentionMs        int64 // retention.ms, default 7 days, -1 = forever
	RetentionBytes     int64 // retention.bytes, default -1 (unlimited)
	IndexIntervalBytes int32 // index.interval.bytes, default 4096
	LogAppendTime      bool  // message.timestamp.type=LogAppendTime
}

// Options configure Open.
type Options struct {
	Dir         string // the partition directory, <data-dir>/<topic>-<partition>; created if missing
	Config      Config
	Fsync       FsyncPolicy
	LeaderEpoch int32            // written into every appended batch's PartitionLeaderEpoch
	Logger      *slog.Logger     // nil = slog.Default()
	Now         func() time.Time // nil = time.Now
	// OnFsync, if set, is called after every fsync round of the partition's
	// data (group commit or interval flush) with what it covered; it must be
	// quick (it runs before waiting producers are released).
	OnFsync func(FsyncRound)
	// Preallocate says how the active segment's file is grown ahead of the
	// appends (prealloc.go); the zero value is PreallocOff.
	Preallocate Prealloc
	// Remover, if set, deletes the segment files retention drops in the
	// background at a bounded rate (remover.go); without it they are deleted
	// at once, under the log's lock.
	Remover *Remover
}

// FsyncRound describes one fsync round: how long the fsyncs took and how
// many records (offsets) and bytes became durable by it.
type FsyncRound struct {
	Duration time.Duration
	Records  int64
	Bytes    int64
}

// AppendResult describes where a batch landed.
type AppendResult struct {
	BaseOffset      int64 // offset assigned to the batch's first record (the original one for a duplicate)
	LastOffset      int64
	LogAppendTimeMs int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset  int64
	Duplicate       bool // an idempotent retry of a batch already in the log; nothing was written
}

// Errors returned by Append and Read. Each maps to one Kafka error code in broker/.
var (
	ErrCorruptBatch         = errors.New("commitlog: corrupt record batch")         // CORRUPT_MESSAGE (2)
	ErrInvalidRecord        = errors.New("commitlog: invalid record batch")         // INVALID_RECORD (87)
	ErrOutOfOrderSequence   = errors.New("commitlog: out of order sequence number") // OUT_OF_ORDER_SEQUENCE_NUMBER (45)
	ErrInvalidProducerEpoch = errors.New("commitlog: invalid producer epoch")       // INVALID_PRODUCER_EPOCH (47)
	ErrOffsetOutOfRange     = errors.New("commitlog: offset out of range")          // OFFSET_OUT_OF_RANGE (1)
	ErrClosed               = errors.New("commitlog: log closed")
)
