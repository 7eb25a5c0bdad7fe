package broker

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickertape/tickertape/commitlog"
	"github.com/tickertape/tickertape/internal/poll"
)

// A deleted topic's segments are moved out of its directory and deleted at
// --delete-rate; what is left when the broker stops goes on its next start.
func TestDeletedTopicSegmentsGoAtTheDeleteRate(t *testing.T) {
	tb := startBroker(t, func(c *Config) { c.DeleteRate = 1 }) // far slower than the test
	ctx := context.Background()
	adm := tb.admin()
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "gone"); err != nil {
		t.Fatal(err)
	}
	cl := tb.client()
	var recs []*kgo.Record
	for range 100 { // 6.4 MiB: more than one step of the Remover
		value := make([]byte, 64<<10)
		rand.Read(value) // does not compress
		recs = append(recs, &kgo.Record{Topic: "gone", Value: value})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if dr, err := adm.DeleteTopics(ctx, "gone"); err != nil || dr["gone"].Err != nil {
		t.Fatalf("delete: %v %+v", err, dr)
	}
	dropped := func() (names []string) {
		ents, _ := os.ReadDir(tb.cfg.DataDir)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), commitlog.DeletedSuffix) {
				names = append(names, e.Name())
			}
			if strings.HasPrefix(e.Name(), "gone-") && e.IsDir() {
				t.Fatalf("the deleted topic's directory %s is still there", e.Name())
			}
		}
		return names
	}
	if got := dropped(); len(got) != 1 || !strings.HasPrefix(got[0], "gone-0.") {
		t.Fatalf("dropped files after the delete: %v, want the one segment of gone-0", got)
	}
	tb.stop()
	if len(dropped()) != 1 {
		t.Fatal("the stopped broker deleted the segment: nothing left for the restart to prove")
	}
	tb.cfg.DeleteRate = 1 << 40
	tb.start(tb.addr)
	if err := poll.Wait(10*time.Second, func() bool { return len(dropped()) == 0 }); err != nil {
		t.Fatalf("dropped files after the restart: %v", dropped())
	}
}
