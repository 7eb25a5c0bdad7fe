package commitlog

import (
	"fmt"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/batchtest"
)

func TestCompactKeepsLatestPerKey(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	l := openLog(t, dir, func(o *Options) { o.Config.SegmentBytes = 400; o.Now = func() time.Time { return now } })
	// 60 records over 5 keys, in batches of 3, some compressed; key k4's last
	// record is a tombstone.
	want := map[string]string{}
	for i := 0; i < 60; i += 3 {
		var recs []Record
		for j := i; j < i+3; j++ {
			k := fmt.Sprintf("k%d", j%5)
			v := []byte(fmt.Sprintf("v%d", j))
			if j == 59 { // k4
				v = nil
			}
			recs = append(recs, Record{TimestampMs: now.UnixMilli(), Key: []byte(k), Value: v})
			want[k] = string(v)
		}
		mustAppend(t, l, EncodeBatch(now.UnixMilli(), recs))
	}
	mustAppend(t, l, batchtest.Build(batchtest.Spec{ProducerID: -1, TimestampMs: now.UnixMilli(), Codec: batchtest.Zstd, Values: []string{"unkeyed"}}))
	before := readAll(t, l)
	removed, err := l.Compact(24 * time.Hour)
	if err != nil || removed == 0 {
		t.Fatalf("Compact removed %d: %v", removed, err)
	}
	check := func(l *Log) {
		after := readAll(t, l)
		if len(after) != len(before)-removed {
			t.Fatalf("%d records after compaction, %d before, %d removed", len(after), len(before), removed)
		}
		last := map[string]Record{}
		prev := int64(-1)
		for _, r := range after {
			if r.Offset <= prev {
				t.Fatalf("offsets not increasing: %d after %d", r.Offset, prev)
			}
			prev = r.Offset
			if orig := before[r.Offset]; string(orig.Key) != string(r.Key) || string(orig.Value) != string(r.Value) {
				t.Fatalf("record at offset %d changed: %q=%q, was %q=%q", r.Offset, r.Key, r.Value, orig.Key, orig.Value)
			}
			if r.Key != nil {
				last[string(r.Key)] = r
			}
		}
		for k, v := range want {
			if string(last[k].Value) != v || (v == "" && last[k].Value != nil) {
				t.Fatalf("key %s: latest %q, want %q", k, last[k].Value, v)
			}
		}
		found := false
		for _, r := range after {
			found = found || r.Offset == 60 && string(r.Value) == "unkeyed"
		}
		if !found {
			t.Fatalf("the unkeyed record at offset 60 is gone")
		}
	}
	check(l)
	if r := mustAppend(t, l, batch("next")); r.BaseOffset != 61 {
		t.Fatalf("append after compaction at %d", r.BaseOffset)
	}
	before = append(before, Record{Offset: 61, Value: []byte("next")})
	l.Close()
	l2 := openLog(t, dir)
	check(l2)
	// With no delete retention left, the tombstone goes too.
	l2.now = func() time.Time { return now.Add(48 * time.Hour) }
	if _, err := l2.Compact(24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, r := range readAll(t, l2) {
		if string(r.Key) == "k4" {
			t.Fatalf("expired tombstone for k4 still present at offset %d", r.Offset)
		}
	}
}
