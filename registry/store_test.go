package registry_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tickertape/tickertape/internal/poll"
	"github.com/tickertape/tickertape/registry"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readSchemasTopic returns every record of _schemas.
func readSchemasTopic(t *testing.T, ts *testStack) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(ts.s.KafkaAddr()), kgo.ConsumeTopics("_schemas"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		out = append(out, fs.Records()...)
	}
	return out
}

// TestSchemasTopicFormat checks the bytes in _schemas: Confluent's key order
// and value fields, so that Confluent Schema Registry or Karapace can read a
// topic we wrote (and we theirs).
func TestSchemasTopicFormat(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	if _, err := cl.CreateSchema(ctx, "fmt-value", avroSchema(tradeV1)); err != nil {
		t.Fatal(err)
	}
	ts.call("PUT", "/config/fmt-value", map[string]string{"compatibility": "FULL"}, nil)
	ts.call("PUT", "/config", map[string]string{"compatibility": "NONE"}, nil)
	ts.call("PUT", "/mode/fmt-value", map[string]string{"mode": "READONLY"}, nil)
	ts.call("DELETE", "/mode/fmt-value", nil, nil)
	ts.call("DELETE", "/subjects/fmt-value", nil, nil)
	recs := readSchemasTopic(t, ts)
	keys := map[string]string{}
	for _, r := range recs {
		keys[string(r.Key)] = string(r.Value)
	}
	want := map[string]func(v string) bool{
		`{"keytype":"SCHEMA","subject":"fmt-value","version":1,"magic":1}`: func(v string) bool {
			var sv map[string]any
			json.Unmarshal([]byte(v), &sv)
			return sv["subject"] == "fmt-value" && sv["version"] == float64(1) && sv["id"] == float64(1) && sv["schema"] == tradeV1 && sv["deleted"] == true
		},
		`{"keytype":"CONFIG","subject":"fmt-value","magic":0}`: func(v string) bool { return v == `{"compatibilityLevel":"FULL"}` },
		`{"keytype":"CONFIG","subject":null,"magic":0}`:        func(v string) bool { return v == `{"compatibilityLevel":"NONE"}` },
		`{"keytype":"MODE","subject":"fmt-value","magic":0}`:   func(v string) bool { return v == "" }, // deleted: tombstone last
		`{"keytype":"DELETE_SUBJECT","subject":"fmt-value","magic":0}`: func(v string) bool {
			return v == `{"subject":"fmt-value","version":1}`
		},
	}
	for k, ok := range want {
		v, found := keys[k]
		if !found {
			t.Fatalf("no record with key %s; keys: %v", k, keys)
		}
		if !ok(v) {
			t.Fatalf("record %s has value %s", k, v)
		}
	}
}

// TestForeignRecordsAreSkipped writes records another implementation (or a
// bug) might leave in _schemas; the registry skips them and keeps working.
func TestForeignRecordsAreSkipped(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	pcl, err := kgo.NewClient(kgo.SeedBrokers(ts.s.KafkaAddr()), kgo.DefaultProduceTopic("_schemas"))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	for _, r := range []*kgo.Record{
		{Key: []byte(`not json`), Value: []byte(`{}`)},
		{Key: []byte(`{"keytype":"WHAT","magic":0}`), Value: []byte(`{}`)},
		{Key: []byte(`{"keytype":"SCHEMA","subject":"x","version":1,"magic":1}`), Value: []byte(`{"subject":"x"`)},
		{Key: []byte(`{"keytype":"SCHEMA","subject":"x","version":1,"magic":1}`), Value: []byte(`{"subject":"x","version":1,"id":40,"schema":"not avro","deleted":false}`)},
		{Key: []byte(`{"keytype":"NOOP","magic":0}`)},
	} {
		if err := pcl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ts.restart()
	cl := ts.client()
	// The unparseable schema is still served by id (it is someone's data)...
	if s, err := cl.SchemaTextByID(ctx, 40); err != nil || s != "not avro" {
		t.Fatalf("foreign schema 40: %q %v", s, err)
	}
	// ...and ids continue above it.
	ss, err := cl.CreateSchema(ctx, "y", avroSchema(`"long"`))
	if err != nil || ss.ID != 41 {
		t.Fatalf("register after foreign records: %+v %v", ss, err)
	}
}

// TestSecondInstanceForwardsWrites runs a second registry against the same
// broker: it answers reads itself and forwards writes to the leader.
func TestSecondInstanceForwardsWrites(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	srv := httptest.NewUnstartedServer(nil)
	second, err := registry.New(registry.Config{
		Brokers:       []string{ts.s.KafkaAddr()},
		AdvertisedURL: "http://" + srv.Listener.Addr().String(),
		Logger:        quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	srv.Config.Handler = second.Handler()
	srv.Start()
	defer srv.Close()

	// A write through the second instance lands once, via the leader.
	var idResp map[string]int
	if st := call(t, srv.URL, "POST", "/subjects/fwd/versions", map[string]string{"schema": tradeV1}, &idResp); st != 200 || idResp["id"] != 1 {
		t.Fatalf("forwarded registration: %d %v", st, idResp)
	}
	// The instance written through reads it back at once (read-your-writes);
	// the other one, which may be the leader or may since have lost the
	// election to the second, serves it once it has read the topic that far.
	var v map[string]any
	if st := call(t, srv.URL, "GET", "/subjects/fwd/versions/1", nil, &v); st != 200 || v["id"] != float64(1) {
		t.Fatalf("the instance written through: %d %v", st, v)
	}
	poll.Until(t, 10*time.Second, "the other instance to serve the forwarded write", func() bool {
		var v map[string]any
		return call(t, ts.s.RegistryURL(), "GET", "/subjects/fwd/versions/1", nil, &v) == 200 && v["id"] == float64(1)
	})
	// Errors come back from the leader unchanged.
	var e apiError
	if st := call(t, srv.URL, "POST", "/subjects/fwd/versions", map[string]string{"schema": tradeV3Bad}, &e); st != 409 || e.Code != 409 {
		t.Fatalf("forwarded incompatible registration: %d %+v", st, e)
	}
}
