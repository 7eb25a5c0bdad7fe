package broker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/internal/batchtest"
)

// makeBatch encodes an uncompressed record batch v2 as a client would.
func makeBatch(t testing.TB, pid int64, epoch int16, seq int32, values []string) []byte {
	t.Helper()
	return makeBatchAt(pid, epoch, seq, time.Now().UnixMilli(), values)
}

func makeBatchAt(pid int64, epoch int16, seq int32, tsMs int64, values []string) []byte {
	return batchtest.Build(batchtest.Spec{ProducerID: pid, Epoch: epoch, Sequence: seq, TimestampMs: tsMs, Values: values})
}

// produceRaw sends one batch in a hand-built Produce request.
func produceRaw(t *testing.T, tb *testBroker, topic string, partition int32, batch []byte, acks int16) *kmsg.ProduceResponse {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	if t := tb.b.lookup(topic); t != nil {
		rt.TopicID = t.id // v13+ names topics by id
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	cl := tb.client()
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("produce request: %v", err)
	}
	return resp
}

func initProducerID(t *testing.T, tb *testBroker) int64 {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	resp, err := req.RequestWith(testCtx(t), tb.client())
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %d", err, resp.ErrorCode)
	}
	return resp.ProducerID
}

// rawConn is a bare TCP connection for sending hand-made frames.
type rawConn struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, tb *testBroker) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", tb.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc}
}

func (rc *rawConn) sendFrame(body []byte) {
	rc.t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := rc.nc.Write(append(frame, body...)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// request encodes a request with a v1 or v2 header.
func requestBody(req kmsg.Request, version int16, corrID int32) []byte {
	req.SetVersion(version)
	var b []byte
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corrID))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	return req.AppendTo(b)
}

// readFrame returns the next response frame body, or an error if the broker closed.
func (rc *rawConn) readFrame() ([]byte, error) {
	var sz [4]byte
	if _, err := readFull(rc.nc, sz[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(sz[:]))
	_, err := readFull(rc.nc, body)
	return body, err
}

func readFull(nc net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := nc.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	if body, err := rc.readFrame(); err == nil {
		rc.t.Fatalf("expected the broker to close the connection, got a %d-byte response", len(body))
	}
}

// stillServes checks that the broker answers a fresh client.
func stillServes(t *testing.T, tb *testBroker) {
	t.Helper()
	cl := tb.client(kgo.DefaultProduceTopic("alive"))
	if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("still here")}).FirstErr(); err != nil {
		t.Fatalf("broker stopped serving: %v", err)
	}
}
