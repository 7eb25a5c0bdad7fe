package broker

import (
	"testing"
	"time"
)

// FuzzOffsetsRecord feeds arbitrary keys and values, as read back from
// __consumer_offsets, to the replay decoder: malformed records are skipped,
// never a panic, and well-formed ones keep working afterwards.
func FuzzOffsetsRecord(f *testing.F) {
	f.Add(offsetKey("g", "t", 3), offsetValue(committedOffset{offset: 42, leaderEpoch: 1, metadata: "m", commitMs: 1}))
	f.Add(groupKey("g"), []byte{0, 3, 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0, 0, 0, 7})
	f.Add(offsetKey("g", "t", 3), []byte(nil))
	f.Add([]byte{0, 9, 1, 2}, []byte{1})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		co := &coordinator{groups: map[string]*group{}}
		co.applyRecord(key, value, 0)
		co.applyRecord(offsetKey("ok", "t", 0), offsetValue(committedOffset{offset: 7, commitMs: time.Now().UnixMilli()}), 1)
		if g := co.groups["ok"]; g == nil || g.offsets[topicPartition{"t", 0}].offset != 7 {
			t.Fatal("a valid record after a malformed one was not applied")
		}
	})
}

// FuzzTxnStateRecord feeds __transaction_state records to the replay: none
// may panic, and a record it accepts must encode back to an equal state.
func FuzzTxnStateRecord(f *testing.F) {
	t := &txnMeta{id: "tx", pid: 7, epoch: 3, timeoutMs: 60000, state: txnOngoing,
		parts: map[topicPartition]bool{{"a", 0}: true, {"a", 2}: true}, startMs: 5, updateMs: 6}
	f.Add(txnKey("tx"), t.value())
	f.Add(txnKey("tx"), []byte(nil))
	f.Add([]byte{0, 1, 0}, []byte{0, 0, 1})
	f.Fuzz(func(tt *testing.T, key, value []byte) {
		tc := newTxnCoordinator(&Broker{})
		tc.applyRecord(key, value)
		for _, got := range tc.txns {
			again := newTxnCoordinator(&Broker{})
			again.applyRecord(txnKey(got.id), got.value())
			back := again.txns[got.id]
			if back == nil || back.pid != got.pid || back.epoch != got.epoch || back.state != got.state || len(back.parts) != len(got.parts) {
				tt.Fatalf("state %+v did not survive a round trip: %+v", got, back)
			}
		}
	})
}
