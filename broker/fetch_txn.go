package broker

// read_committed Fetch: data up to the last stable offset (LSO) only, with
// the aborted transactions whose records may be in what is returned, taken
// from the partition's aborted-transaction index (commitlog's .txnindex).
// The client drops the records of those transactions and skips the markers.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

// readCommitted is readPartition for read_committed consumers.
func (b *Broker) readCommitted(p *partition, rp *kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, limit int, notFirst bool, regs *[]*fileRegion) int {
	hw := p.log.HighWatermark()
	lso := min(p.log.LastStableOffset(), hw)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, lso, p.log.StartOffset()
	sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	if limit <= 0 || rp.FetchOffset >= lso && rp.FetchOffset <= hw {
		return 0
	}
	// Cut at the LSO: a batch starting at or after it is not decided yet.
	data, n, end, err := readBatches(p, rp.FetchOffset, limit, lso, regs)
	if err != nil {
		sp.ErrorCode = logErrorCode(err)
		if sp.ErrorCode == errKafkaStorage {
			b.log.Error("read failed", "partition", p.String(), "offset", rp.FetchOffset, "err", err)
		}
		return 0
	}
	if n == 0 || notFirst && n > limit {
		dropRegion(regs, data)
		return 0
	}
	for _, a := range p.log.AbortedTxns(rp.FetchOffset, end) {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		sp.AbortedTransactions = append(sp.AbortedTransactions, at)
	}
	sp.RecordBatches = data
	return n
}

// checkTxnBatch applies the transaction rules of Produce to one batch; txn
// (locked) is the request's transactional id, or nil.
func checkTxnBatch(records []byte, txn *txnMeta, tp topicPartition) (int16, string) {
	info, _ := commitlog.Info(records)
	switch {
	case txn == nil && info.Transactional:
		return errInvalidRecord, "a transactional batch needs the produce request's transactional id"
	case txn == nil:
		return 0, ""
	case !info.Transactional:
		return errInvalidRecord, "a produce request with a transactional id must carry transactional batches"
	case info.ProducerID != txn.pid:
		return errInvalidProducerIDMapping, fmt.Sprintf("producer id %d is not the one of transactional id %q", info.ProducerID, txn.id)
	case info.ProducerEpoch != txn.epoch:
		return errInvalidProducerEpoch, fmt.Sprintf("producer epoch %d is not the current epoch %d of %q: a newer producer fenced this one", info.ProducerEpoch, txn.epoch, txn.id)
	case txn.state != txnOngoing || !txn.parts[tp]:
		return errInvalidTxnState, fmt.Sprintf("%s-%d was not added to the transaction: call AddPartitionsToTxn first", tp.topic, tp.partition)
	}
	return 0, ""
}
