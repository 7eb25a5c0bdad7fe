package registry

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// A stored batch whose records do not match its header (its CRC is right, so
// a broker that did not validate records, such as this one before it did,
// stored it) stops a Kafka consumer for good: franz-go, like the Java client,
// will not move its position past a batch it could not decode in full, so
// the read loop would wait forever and Start would time out on every start.
// skipUnreadable watches for that: when the position stays put for
// stuckAfter while the topic's end is beyond it, it fetches the batch at the
// position itself, and if that batch does not validate, moves the consumer
// to the offset after it, counting the offsets skipped and saying so once.
const stuckAfter = 2 * time.Second

func (r *Registry) skipUnreadable() {
	defer r.wg.Done()
	tick := time.NewTicker(stuckAfter / 2)
	defer tick.Stop()
	// wait grows while the position stays put on good data (an idle topic),
	// so an idle registry asks the broker about once a minute, not every second.
	last, since, wait := int64(-1), time.Now(), stuckAfter
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
		}
		r.mu.RLock()
		pos := r.st.applied
		r.mu.RUnlock()
		if pos != last {
			last, since, wait = pos, time.Now(), stuckAfter
			continue
		}
		if time.Since(since) < wait {
			continue
		}
		next, bad := r.unreadableBatchAt(pos)
		if !bad {
			since, wait = time.Now(), min(2*wait, time.Minute) // idle or slow, not stuck on a bad batch
			continue
		}
		r.log.Warn("skipping an unreadable batch of the schemas topic (its records do not match its header); the schemas in it, if any, are lost",
			"topic", r.cfg.Topic, "from_offset", pos, "to_offset", next-1)
		r.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{r.cfg.Topic: {0: {Epoch: -1, Offset: next}}})
		r.mu.Lock()
		if r.st.applied == pos {
			r.st.skipped += int(next - pos)
			r.st.lastSkip = "unreadable record batch"
			r.st.applied = next
		}
		r.progress.Broadcast()
		r.mu.Unlock()
		last, since, wait = next, time.Now(), stuckAfter
	}
}

// unreadableBatchAt fetches the batch holding offset pos from the topic's
// leader and reports whether it fails validation, and the offset after it.
func (r *Registry) unreadableBatchAt(pos int64) (next int64, bad bool) {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	md, err := r.adm.Metadata(ctx, r.cfg.Topic)
	if err != nil {
		return 0, false
	}
	p, ok := md.Topics[r.cfg.Topic].Partitions[0]
	if !ok || p.Leader < 0 {
		return 0, false
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = -1, 0, 16<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = r.cfg.Topic, r.topicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = 0, pos, 16<<20, -1, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, r.admc.Broker(int(p.Leader)))
	if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, false
	}
	rp := resp.Topics[0].Partitions[0]
	if kerr.ErrorForCode(rp.ErrorCode) != nil {
		return 0, false
	}
	for b := rp.RecordBatches; len(b) >= 61; {
		var h kmsg.RecordBatch
		if err := h.ReadFrom(b); err != nil {
			return 0, false
		}
		size := 12 + int(h.Length)
		if size > len(b) {
			return 0, false // truncated by MaxBytes: not judged
		}
		end := h.FirstOffset + int64(h.LastOffsetDelta) + 1
		if end > pos {
			lim := commitlog.Limits{TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64, LogAppendTime: h.Attributes&0x08 != 0}
			if h.Attributes&0x20 != 0 || commitlog.ValidateRecords(b[:size], lim) == nil {
				return 0, false // a control batch, or a good one: the consumer is not stuck on it
			}
			return end, true
		}
		b = b[size:]
	}
	return 0, false
}
