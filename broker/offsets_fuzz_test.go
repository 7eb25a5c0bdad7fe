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
		co.applyRecord(key, value)
		co.applyRecord(offsetKey("ok", "t", 0), offsetValue(committedOffset{offset: 7, commitMs: time.Now().UnixMilli()}))
		if g := co.groups["ok"]; g == nil || g.offsets[topicPartition{"t", 0}].offset != 7 {
			t.Fatal("a valid record after a malformed one was not applied")
		}
	})
}
