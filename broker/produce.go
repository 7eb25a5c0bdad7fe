package broker

// Produce, key 0, v3-v13 served; v0 advertised as the minimum.
//
// Apache Kafka 4 removed Produce v0-v2 but still advertises min 0, because
// librdkafka turns compression off when a broker's Produce minimum is above 0
// (KAFKA-18659, librdkafka #4956). We do the same: v0-v2 are advertised and
// refused (connection closed) if a client really sends them.
//
// Behaviour: each partition's Records must be exactly one record batch v2; it is
// validated as Kafka's LogValidator does (length, magic, CRC32C, then every
// record: count, lengths, varints, offset deltas, timestamps against
// message.timestamp.before/after.max.ms, keys on compacted topics; compressed
// batches inflate as a stream, bounded to 64 x max.message.bytes), checked for
// its idempotent sequence, and stored verbatim by
// commitlog with only its base offset and leader epoch assigned. Every
// compression codec is stored untouched (zstd needs v7+, as in Kafka). acks=1
// and acks=-1 are answered once an fsync covers the batch (group commit); acks=0
// gets no response, and a failed acks=0 produce closes the connection so that the
// client refreshes metadata, as Kafka does. Unknown topics are auto-created when
// auto-creation is on. Client writes to Kafka's internal topics
// (__consumer_offsets, __transaction_state) are refused with
// INVALID_TOPIC_EXCEPTION, as Kafka does.
// Transactional produce (a TransactionalID): every batch must be
// transactional, of the id's current producer id and epoch, to a partition
// added with AddPartitionsToTxn (INVALID_PRODUCER_ID_MAPPING,
// INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE otherwise); a transactional batch
// without a TransactionalID is TRANSACTIONAL_ID_AUTHORIZATION_FAILED for the
// whole request, as in Kafka (it would open a transaction no coordinator
// closes), and so is one whose principal may not WRITE the transactional id.
// Left out: per-record ErrorRecords, quotas/throttling.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

func init() {
	regKey(0, 3, 13, handleProduce)
	handlers[0].advMin = 0
}

const batchHeaderLen = 61

type producedPartition struct {
	rp  *kmsg.ProduceResponseTopicPartition
	p   *partition
	end int64 // WaitDurable target
}

func handleProduce(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	var global int16
	var globalMsg string
	switch {
	case hasTransactionalRecords(req) && (req.TransactionID == nil || !c.allowed(opWrite, resTxnID, *req.TransactionID)):
		// Kafka's check before any other: transactional batches need WRITE
		// on the request's transactional id.
		global = errTransactionalIDAuth
		if req.TransactionID == nil {
			globalMsg = "transactional batches need the produce request's transactional id"
		} else {
			globalMsg = fmt.Sprintf("not authorized to write with transactional id %q: ask for a WRITE ACL on TRANSACTIONAL_ID %s", *req.TransactionID, *req.TransactionID)
		}
	case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
		global, globalMsg = errInvalidRequiredAcks, fmt.Sprintf("acks=%d: use 0, 1 or -1 (all)", req.Acks)
	}
	// A transactional produce holds its transactional id's lock across its
	// appends, so that none of them can land after the transaction's marker.
	var txn *txnMeta
	if req.TransactionID != nil && global == 0 {
		if txn = b.txns.lockTxn(*req.TransactionID); txn == nil {
			global, globalMsg = errInvalidProducerIDMapping, fmt.Sprintf("unknown transactional id %q: call InitProducerId first", *req.TransactionID)
		}
	}
	now := time.Now()
	var waits []producedPartition
	failed := false
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		topicCode, topicMsg := int16(0), ""
		if global == 0 {
			if req.Version >= 13 {
				if t = b.lookupID(rt.TopicID); t == nil {
					topicCode = errUnknownTopicID
				} else if !c.allowed(opWrite, resTopic, t.name) {
					t, topicCode = nil, errTopicAuthorization
				}
			} else if !c.allowed(opWrite, resTopic, rt.Topic) {
				topicCode = errTopicAuthorization
			} else if validateTopicName(rt.Topic) != nil {
				topicCode = errInvalidTopic
			} else {
				t, topicCode = c.autoCreate(rt.Topic)
			}
			if t != nil && isKafkaInternal(t.name) {
				// Kafka refuses client writes to its internal topics: their
				// records are the broker's own state, replayed on every start.
				topicCode, topicMsg = errInvalidTopic, fmt.Sprintf("cannot append to internal topic %s", t.name)
			}
		}
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j, rpReq := range rt.Partitions {
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rpReq.Partition
			code, msg := global, globalMsg
			if code == 0 {
				code, msg = topicCode, topicMsg
			}
			var p *partition
			if code == 0 {
				if p = b.partitionOf(t, rpReq.Partition); p == nil {
					code, msg = errUnknownTopicOrPartition, fmt.Sprintf("topic %q has no partition %d", t.name, rpReq.Partition)
				}
			}
			if code == 0 {
				code, msg = checkBatch(req.Version, rpReq.Records, p)
			}
			if code == 0 {
				code, msg = checkTxnBatch(rpReq.Records, txn, topicPartition{t.name, rpReq.Partition})
			}
			var checked commitlog.Checked
			if code == 0 {
				checked, code, msg = validateRecords(rpReq.Records, p, now)
			}
			if code == 0 {
				res, err := p.log.AppendChecked(checked) // the request buffer is ours (conn.go reads produce frames into pooled buffers)
				if err != nil {
					code, msg = logErrorCode(err), err.Error()
					if code == errKafkaStorage {
						b.log.Error("append failed", "partition", p.String(), "err", err)
					}
				} else {
					sp.BaseOffset = res.BaseOffset
					sp.LogAppendTime = res.LogAppendTimeMs
					sp.LogStartOffset = res.LogStartOffset
					waits = append(waits, producedPartition{rp: sp, p: p, end: res.LastOffset + 1})
				}
			}
			if code != 0 {
				failed = true
				sp.ErrorCode = code
				sp.BaseOffset = -1
				if req.Version >= 8 && msg != "" {
					sp.ErrorMessage = strp(msg)
				}
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	unlockTxn(txn)
	if req.Acks == 0 {
		// Nobody waits for these writes, but they must still become durable (and
		// so visible to consumers) without waiting for a later acked produce.
		if b.cfg.Fsync.Mode == commitlog.FsyncAlways {
			for _, w := range waits {
				b.acks0.request(w.p.log, w.end)
			}
		}
		if failed {
			return reply{close: true}
		}
		return reply{none: true}
	}
	if len(waits) == 0 || b.cfg.Fsync.Mode != commitlog.FsyncAlways {
		return respond(resp)
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return reply{wait: func() reply {
		ctx, cancel := context.WithDeadline(b.ctx, now.Add(timeout))
		defer cancel()
		waitDurable(ctx, waits)
		return respond(resp)
	}}
}

// waitDurable waits for every produced partition to be fsynced; partitions whose
// fsync fails or times out get an error code instead of their offset.
func waitDurable(ctx context.Context, waits []producedPartition) {
	if len(waits) == 1 {
		setDurableResult(waits[0], waits[0].p.log.WaitDurable(ctx, waits[0].end))
		return
	}
	var wg sync.WaitGroup
	for _, w := range waits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			setDurableResult(w, w.p.log.WaitDurable(ctx, w.end))
		}()
	}
	wg.Wait()
}

func setDurableResult(w producedPartition, err error) {
	if err == nil {
		return
	}
	w.rp.BaseOffset = -1
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		w.rp.ErrorCode = errRequestTimedOut
		w.rp.ErrorMessage = strp("the batch was written but not yet fsynced when the request timed out")
		return
	}
	w.rp.ErrorCode = logErrorCode(err)
	w.rp.ErrorMessage = strp(err.Error())
}

// validateRecords walks every record of the batch as Kafka's log validator
// does (see commitlog.ValidateRecords), with the topic's timestamp bounds.
func validateRecords(records []byte, p *partition, now time.Time) (commitlog.Checked, int16, string) {
	maxBytes := p.topic.maxMessageBytes.Load()
	c, err := commitlog.CheckRecords(records, commitlog.Limits{
		NowMs:                now.UnixMilli(),
		TimestampBeforeMaxMs: p.topic.tsBeforeMaxMs.Load(),
		TimestampAfterMaxMs:  p.topic.tsAfterMaxMs.Load(),
		LogAppendTime:        p.topic.logAppendTime.Load(),
		KeyRequired:          p.topic.compactAfterMs.Load() >= 0,
		MaxInflatedBytes:     maxInflated(maxBytes),
	})
	if err != nil {
		return c, logErrorCode(err), err.Error()
	}
	return c, 0, ""
}

// inflationFactor bounds what a compressed batch may inflate to, relative to
// max.message.bytes (compressible market data rarely passes 10x).
const inflationFactor = 64

func maxInflated(maxMessageBytes int64) int64 {
	return min(max(inflationFactor*maxMessageBytes, 1<<20), 256<<20)
}

// checkBatch applies the request-level rules Kafka checks before appending.
func checkBatch(version int16, records []byte, p *partition) (int16, string) {
	if len(records) < batchHeaderLen {
		return errCorruptMessage, fmt.Sprintf("records are %d bytes, shorter than a record batch header", len(records))
	}
	if magic := records[16]; magic != 2 {
		return errInvalidRecord, fmt.Sprintf("record batch magic %d: produce v3+ needs record batch v2 (magic 2)", magic)
	}
	batchLen := int64(binary.BigEndian.Uint32(records[8:12])) + 12
	if batchLen != int64(len(records)) {
		if batchLen < int64(len(records)) {
			return errInvalidRecord, "produce requests must contain exactly one record batch per partition"
		}
		return errCorruptMessage, "record batch length is larger than the records sent"
	}
	cfg := p.log.Config()
	if maxBytes := p.topic.maxMessageBytes.Load(); int64(len(records)) > maxBytes {
		return errMessageTooLarge, fmt.Sprintf("record batch is %d bytes, over max.message.bytes=%d", len(records), maxBytes)
	}
	if int64(len(records)) > cfg.SegmentBytes {
		return errRecordListTooLarge, fmt.Sprintf("record batch is %d bytes, over segment.bytes=%d", len(records), cfg.SegmentBytes)
	}
	attrs := binary.BigEndian.Uint16(records[21:23])
	switch codec := attrs & 0x07; {
	case codec > 4:
		return errUnsupportedCompression, fmt.Sprintf("unknown compression codec %d", codec)
	case codec == 4 && version < 7:
		return errUnsupportedCompression, "zstd needs produce v7 or newer"
	}
	return 0, ""
}

// hasTransactionalRecords is Kafka's RequestUtils.hasTransactionalRecords:
// does some partition's first batch belong to a transaction?
func hasTransactionalRecords(req *kmsg.ProduceRequest) bool {
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			if info, ok := commitlog.Info(req.Topics[i].Partitions[j].Records); ok && info.Transactional {
				return true
			}
		}
	}
	return false
}
