package broker

// Fetch, key 1, v4-v18.
//
// Behaviour: returns whole stored record batches (never split, recompressed or
// down-converted) up to each partition's high watermark, honouring
// PartitionMaxBytes and the response-wide MaxBytes with KIP-74's rule (the first
// batch found is returned even if it is bigger). Long polls: when fewer than
// MinBytes are ready the request waits, up to MaxWaitMillis, for any requested
// partition's high watermark to move. Topic IDs are used from v13. Fetch sessions
// (KIP-227) are answered sessionless: every request is a full fetch and the
// session id returned is 0, which clients accept; a request naming a session id
// gets FETCH_SESSION_ID_NOT_FOUND so the client starts over with a full fetch.
// read_committed (IsolationLevel 1) reads up to the last stable offset and
// gets the aborted transactions of the range it read (fetch_txn.go);
// read_uncommitted reads up to the high watermark, as before.
// On PLAINTEXT and SASL_PLAINTEXT connections the batches are sent from the
// segment files with sendfile (fetch_sendfile.go); TLS connections copy them.
// Left out: follower fetching (replica ids), preferred read replicas, diverging
// epoch detection (we have a single leader epoch per partition).

import (
	"math"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { regKey(1, 4, 18, handleFetch) }

const defaultFetchMaxBytes = 50 << 20

func handleFetch(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.FetchRequest)
	if req.SessionID != 0 || (req.SessionEpoch != 0 && req.SessionEpoch != -1) {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = errFetchSessionIDNotFound
		return respond(resp)
	}
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	resp, regs, ready, wake := b.fetchOnce(c, req)
	if ready || req.MaxWaitMillis <= 0 {
		return reply{resp: resp, regions: regs}
	}
	closeRegions(regs)
	return reply{wait: func() reply {
		for {
			cases := make([]reflect.SelectCase, 0, len(wake)+2)
			timer := time.NewTimer(time.Until(deadline))
			cases = append(cases,
				reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
				reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.closed)})
			for _, ch := range wake {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
			}
			chosen, _, _ := reflect.Select(cases)
			timer.Stop()
			resp, regs, ready, wake = b.fetchOnce(c, req)
			if ready || chosen < 2 || !time.Now().Before(deadline) {
				return reply{resp: resp, regions: regs}
			}
			closeRegions(regs)
		}
	}}
}

// fetchOnce builds a fetch response from what is readable now. ready reports
// whether it should be sent at once (MinBytes reached or an error to report);
// wake holds the channels that signal new data for the requested partitions,
// taken before reading so that no append is missed. On a connection that
// sends with sendfile, regs holds the file regions whose marks stand in for
// records in resp (fetch_sendfile.go); the caller owns them.
func (b *Broker) fetchOnce(c *conn, req *kmsg.FetchRequest) (resp *kmsg.FetchResponse, regs []*fileRegion, ready bool, wake []<-chan struct{}) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	var regp *[]*fileRegion
	if c.sendfile != nil {
		regp = &regs
	}
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = defaultFetchMaxBytes
	}
	total := 0
	hasErr := false
	missing := errUnknownTopicOrPartition
	if req.Version >= 13 {
		missing = errUnknownTopicID
	}
	topicOf := func(rt *kmsg.FetchRequestTopic) (*topic, []kmsg.FetchRequestTopicPartition, kmsg.FetchResponseTopic) {
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		if req.Version >= 13 {
			return b.lookupID(rt.TopicID), rt.Partitions, st
		}
		return b.lookup(rt.Topic), rt.Partitions, st
	}
	at := func(rp *kmsg.FetchRequestTopicPartition) (int32, int32) { return rp.Partition, rp.CurrentLeaderEpoch }
	answer := func(rp *kmsg.FetchRequestTopicPartition, p *partition, code int16) kmsg.FetchResponseTopicPartition {
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.Partition, sp.ErrorCode = rp.Partition, code
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
		// Kafka sends an empty, never a null, record set: librdkafka rejects a
		// null one as "invalid MessageSetSize -1".
		sp.RecordBatches = []byte{}
		if p != nil {
			wake = append(wake, p.log.Changed())
			if req.IsolationLevel == 1 {
				total += b.readCommitted(p, rp, &sp, min(int(rp.PartitionMaxBytes), maxBytes-total), total > 0, regp)
			} else {
				total += b.readPartition(p, rp, &sp, min(int(rp.PartitionMaxBytes), maxBytes-total), total > 0, regp)
			}
		}
		if sp.ErrorCode != 0 {
			hasErr = true
		}
		return sp
	}
	add := func(st *kmsg.FetchResponseTopic, sp kmsg.FetchResponseTopicPartition) {
		st.Partitions = append(st.Partitions, sp)
	}
	resp.Topics = answerPartitions(c, opRead, req.Topics, missing, topicOf, at, answer, add)
	return resp, regs, hasErr || total >= int(req.MinBytes) || total > 0 && total >= maxBytes, wake
}

// readPartition fills sp from p: offsets, and up to limit bytes of batches
// from the fetch offset (the first batch of a response whole even if over
// the limit, KIP-74, unless notFirst). It returns the bytes it added. regs
// is non-nil when the batches may go as a file region (readBatches).
func (b *Broker) readPartition(p *partition, rp *kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, limit int, notFirst bool, regs *[]*fileRegion) int {
	hw := p.log.HighWatermark()
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, p.log.StartOffset()
	if limit <= 0 || rp.FetchOffset == hw {
		return 0
	}
	data, n, _, err := readBatches(p, rp.FetchOffset, limit, math.MaxInt64, regs)
	if err != nil {
		sp.ErrorCode = logErrorCode(err)
		if sp.ErrorCode == errKafkaStorage {
			b.log.Error("read failed", "partition", p.String(), "offset", rp.FetchOffset, "err", err)
		}
		return 0
	}
	if notFirst && n > limit {
		dropRegion(regs, data)
		return 0
	}
	sp.RecordBatches = data
	return n
}
