package broker

// InitProducerID, key 22, v0-v5.
//
// Behaviour: an idempotent producer (no transactional id) always gets a fresh
// producer id with epoch 0, as in Kafka. Ids are handed out from blocks whose
// upper bound is persisted in the catalogue before any id of the block is used,
// so an id is never reused after a restart or a crash.
// A transactional id is handed to the transaction coordinator (txn_apis.go):
// its producer id is kept across calls and its epoch bumped.
// Authorization as Kafka's: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), or without one IDEMPOTENT_WRITE on
// the cluster or WRITE on some topic (CLUSTER_AUTHORIZATION_FAILED).

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(22, 0, 5, handleInitProducerID) }

const producerIDBlock = 1000

// producerIDs allocates producer ids; guarded by Broker.mu.
type producerIDs struct {
	b     *Broker
	next  int64
	until int64 // persisted: ids below it may have been handed out
}

func (p *producerIDs) close() error { return nil }

// allocate returns a new producer id. Broker.mu must be held.
func (p *producerIDs) allocate() (int64, error) {
	if p.next >= p.until {
		p.until = p.next + producerIDBlock
		if err := p.b.saveCatalogueLocked(); err != nil {
			p.until = p.next
			return -1, fmt.Errorf("persist producer id block: %w", err)
		}
	}
	id := p.next
	p.next++
	return id, nil
}

func handleInitProducerID(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		if !c.allowed(opWrite, resTxnID, *req.TransactionalID) {
			resp.ErrorCode = errTransactionalIDAuth
			return respond(resp)
		}
		return b.txns.initTxnProducer(req, resp)
	}
	if !c.mayWriteIdempotently() {
		resp.ErrorCode = errClusterAuthorization
		return respond(resp)
	}
	b.mu.Lock()
	id, err := b.pids.allocate()
	b.mu.Unlock()
	if err != nil {
		b.log.Error("allocating a producer id failed", "err", err)
		resp.ErrorCode = errKafkaStorage
		return respond(resp)
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return respond(resp)
}
