package registry_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

const (
	tradeV1         = `{"type":"record","name":"Trade","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"}]}`
	tradeV1Reworded = `{ "namespace": "t", "name": "Trade", "type": "record",
	  "fields": [ {"type": "long", "name": "id"}, {"name": "price", "type": "string"} ] }`
	tradeV2 = `{"type":"record","name":"Trade","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"},{"name":"side","type":"string","default":"buy"}]}`
	// Incompatible with v2 under BACKWARD: a new field without a default.
	tradeV3Bad = `{"type":"record","name":"Trade","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"price","type":"string"},{"name":"side","type":"string","default":"buy"},{"name":"qty","type":"string"}]}`
)

func avroSchema(s string) sr.Schema { return sr.Schema{Schema: s, Type: sr.TypeAvro} }

func TestRegisterLookupAndRead(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()

	ss, err := cl.CreateSchema(ctx, "trades-value", avroSchema(tradeV1))
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID != 1 || ss.Version != 1 {
		t.Fatalf("first schema: id %d version %d", ss.ID, ss.Version)
	}
	// The same schema again, and reworded, and under another subject: one id.
	for _, c := range []struct{ subject, schema string }{{"trades-value", tradeV1}, {"trades-value", tradeV1Reworded}, {"other-value", tradeV1Reworded}} {
		id, err := cl.RegisterSchema(ctx, c.subject, avroSchema(c.schema), -1, -1)
		if err != nil || id != 1 {
			t.Fatalf("register %s again: id %d, %v", c.subject, id, err)
		}
	}
	if vs, _ := cl.SubjectVersions(ctx, "trades-value"); !slices.Equal(vs, []int{1}) {
		t.Fatalf("re-registering made versions %v", vs)
	}
	// Evolve compatibly (BACKWARD, the default).
	ss2, err := cl.CreateSchema(ctx, "trades-value", avroSchema(tradeV2))
	if err != nil || ss2.ID != 2 || ss2.Version != 2 {
		t.Fatalf("v2: %+v %v", ss2, err)
	}

	// Reads through the client.
	s, err := cl.SchemaByID(ctx, 2)
	if err != nil || s.Schema != tradeV2 {
		t.Fatalf("schema 2: %q %v", s.Schema, err)
	}
	if txt, err := cl.SchemaTextByID(ctx, 1); err != nil || txt != tradeV1 {
		t.Fatalf("schema text 1: %q %v", txt, err)
	}
	latest, err := cl.SchemaByVersion(ctx, "trades-value", -1)
	if err != nil || latest.Version != 2 || latest.ID != 2 || latest.Subject != "trades-value" {
		t.Fatalf("latest: %+v %v", latest, err)
	}
	if subs, err := cl.SubjectsByID(ctx, 1); err != nil || !slices.Equal(subs, []string{"other-value", "trades-value"}) {
		t.Fatalf("subjects of id 1: %v %v", subs, err)
	}
	if svs, err := cl.SchemaVersionsByID(ctx, 1); err != nil || len(svs) != 2 || svs[0].Subject != "other-value" || svs[1].Version != 1 {
		t.Fatalf("versions of id 1: %+v %v", svs, err)
	}
	if subs, err := cl.Subjects(ctx); err != nil || !slices.Equal(subs, []string{"other-value", "trades-value"}) {
		t.Fatalf("subjects: %v %v", subs, err)
	}
	found, err := cl.LookupSchema(ctx, "trades-value", avroSchema(tradeV1Reworded))
	if err != nil || found.ID != 1 || found.Version != 1 {
		t.Fatalf("lookup: %+v %v", found, err)
	}
	all, err := cl.AllSchemas(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("all schemas: %+v %v", all, err)
	}

	// Plain HTTP for the shapes the client does not show.
	var raw map[string]any
	if st := ts.call("GET", "/subjects/trades-value/versions/latest", nil, &raw); st != 200 || raw["subject"] != "trades-value" || raw["version"] != float64(2) || raw["id"] != float64(2) || raw["schema"] != tradeV2 {
		t.Fatalf("GET latest: %d %v", st, raw)
	}
	if _, ok := raw["schemaType"]; ok {
		t.Fatalf("AVRO versions must not carry schemaType: %v", raw)
	}
	var rawSchema map[string]any
	if st := ts.call("GET", "/subjects/trades-value/versions/1/schema", nil, &rawSchema); st != 200 || rawSchema["name"] != "Trade" {
		t.Fatalf("GET .../schema: %d %v", st, rawSchema)
	}
	// ?subject= is a context hint, not a filter (deserializers send their
	// TopicNameStrategy subject whatever strategy registered the schema).
	var byID map[string]any
	if st := ts.call("GET", "/schemas/ids/1?subject=some-other-value", nil, &byID); st != 200 || byID["schema"] != tradeV1 {
		t.Fatalf("GET /schemas/ids/1?subject=...: %d %v", st, byID)
	}
	var types []string
	if ts.call("GET", "/schemas/types", nil, &types); !slices.Equal(types, []string{"JSON", "PROTOBUF", "AVRO"}) {
		t.Fatalf("types %v", types)
	}
	var root map[string]any
	if st := ts.call("GET", "/", nil, &root); st != 200 || len(root) != 0 {
		t.Fatalf("GET /: %d %v", st, root)
	}
	var md struct {
		Scope struct {
			Clusters map[string]string `json:"clusters"`
		} `json:"scope"`
	}
	if ts.call("GET", "/v1/metadata/id", nil, &md); md.Scope.Clusters["kafka-cluster"] != ts.s.Broker.ClusterID() {
		t.Fatalf("metadata id: %+v", md)
	}
	var prefixed []string
	if ts.call("GET", "/subjects?subjectPrefix=trad", nil, &prefixed); !slices.Equal(prefixed, []string{"trades-value"}) {
		t.Fatalf("subjectPrefix: %v", prefixed)
	}
	var latestOnly []map[string]any
	if ts.call("GET", "/schemas?latestOnly=true", nil, &latestOnly); len(latestOnly) != 2 {
		t.Fatalf("latestOnly: %v", latestOnly)
	}
}

func TestCompatibilityRules(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	for _, s := range []string{tradeV1, tradeV2} {
		if _, err := cl.CreateSchema(ctx, "c", avroSchema(s)); err != nil {
			t.Fatal(err)
		}
	}
	// An incompatible change is refused with 409 and the state is unchanged.
	e := ts.wantError("POST", "/subjects/c/versions", map[string]string{"schema": tradeV3Bad}, 409, 409)
	if !strings.Contains(e.Message, "qty") {
		t.Fatalf("409 message does not name the field: %s", e.Message)
	}
	if vs, _ := cl.SubjectVersions(ctx, "c"); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions after a refused registration: %v", vs)
	}
	var res struct {
		IsCompatible bool     `json:"is_compatible"`
		Messages     []string `json:"messages"`
	}
	if st := ts.call("POST", "/compatibility/subjects/c/versions/latest?verbose=true", map[string]string{"schema": tradeV3Bad}, &res); st != 200 || res.IsCompatible || len(res.Messages) == 0 {
		t.Fatalf("compat verbose: %d %+v", st, res)
	}
	if r, err := cl.CheckCompatibility(ctx, "c", 1, avroSchema(tradeV2)); err != nil || !r.Is {
		t.Fatalf("v2 against v1: %+v %v", r, err)
	}
	// Against all versions (no version in the path).
	if r, err := cl.CheckCompatibility(ctx, "c", -2, avroSchema(tradeV3Bad)); err != nil || r.Is {
		t.Fatalf("v3 against all: %+v %v", r, err)
	}
	// FORWARD: removing a field without a default breaks old readers... the
	// reverse direction of BACKWARD. Dropping "price" (no default in v2) is
	// BACKWARD-compatible but not FORWARD-compatible.
	dropPrice := `{"type":"record","name":"Trade","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"side","type":"string","default":"buy"}]}`
	if r, _ := cl.CheckCompatibility(ctx, "c", -1, avroSchema(dropPrice)); !r.Is {
		t.Fatalf("dropping a field must be BACKWARD compatible: %+v", r)
	}
	for _, c := range []struct {
		level string
		want  bool
	}{{"FORWARD", false}, {"FULL", false}, {"NONE", true}, {"BACKWARD_TRANSITIVE", true}} {
		if st := ts.call("PUT", "/config/c", map[string]string{"compatibility": c.level}, nil); st != 200 {
			t.Fatalf("PUT config %s: %d", c.level, st)
		}
		if r, _ := cl.CheckCompatibility(ctx, "c", -1, avroSchema(dropPrice)); r.Is != c.want {
			t.Fatalf("%s: compatible=%v, want %v (%v)", c.level, r.Is, c.want, r.Messages)
		}
	}
	// FULL_TRANSITIVE checks every version: a change compatible with the
	// latest but not with v1 is refused.
	if st := ts.call("PUT", "/config/c", map[string]string{"compatibility": "full_transitive"}, nil); st != 200 {
		t.Fatal("PUT full_transitive")
	}
	var cfg map[string]string
	if ts.call("GET", "/config/c", nil, &cfg); cfg["compatibilityLevel"] != "FULL_TRANSITIVE" {
		t.Fatalf("config: %v", cfg)
	}
	priceDefault := `{"type":"record","name":"Trade","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"price","type":"string","default":"0"},{"name":"side","type":"string","default":"buy"}]}`
	if _, err := cl.CreateSchema(ctx, "c", avroSchema(priceDefault)); err != nil {
		t.Fatalf("full-compatible change refused: %v", err)
	}
}

func TestConfigAndMode(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	var cfg map[string]string
	if ts.call("GET", "/config", nil, &cfg); cfg["compatibilityLevel"] != "BACKWARD" {
		t.Fatalf("default global config %v", cfg)
	}
	ts.wantError("PUT", "/config", map[string]string{"compatibility": "SIDEWAYS"}, 422, 42203)
	ts.wantError("GET", "/config/nope", nil, 404, 40408)
	if ts.call("GET", "/config/nope?defaultToGlobal=true", nil, &cfg); cfg["compatibilityLevel"] != "BACKWARD" {
		t.Fatalf("defaultToGlobal: %v", cfg)
	}
	if r := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}); r[0].Err != nil || r[0].Level != sr.CompatFull {
		t.Fatalf("set global: %+v", r[0])
	}
	if r := cl.Compatibility(ctx); r[0].Err != nil || r[0].Level != sr.CompatFull {
		t.Fatalf("get global: %+v", r[0])
	}
	if st := ts.call("DELETE", "/config", nil, &cfg); st != 200 || cfg["compatibilityLevel"] != "FULL" {
		t.Fatalf("DELETE /config: %d %v", st, cfg)
	}
	if ts.call("GET", "/config", nil, &cfg); cfg["compatibilityLevel"] != "BACKWARD" {
		t.Fatalf("global config after delete: %v", cfg)
	}

	// Modes: READONLY refuses writes and keeps state.
	if _, err := cl.CreateSchema(ctx, "m", avroSchema(tradeV1)); err != nil {
		t.Fatal(err)
	}
	var mode map[string]string
	ts.wantError("PUT", "/mode", map[string]string{"mode": "SLEEPY"}, 422, 42204)
	if st := ts.call("PUT", "/mode/m", map[string]string{"mode": "READONLY"}, &mode); st != 200 || mode["mode"] != "READONLY" {
		t.Fatalf("PUT mode: %d %v", st, mode)
	}
	ts.wantError("POST", "/subjects/m/versions", map[string]string{"schema": tradeV2}, 422, 42205)
	ts.wantError("DELETE", "/subjects/m/versions/1", nil, 422, 42205)
	if vs, _ := cl.SubjectVersions(ctx, "m"); !slices.Equal(vs, []int{1}) {
		t.Fatalf("versions in read-only subject: %v", vs)
	}
	if ts.call("GET", "/mode/m", nil, &mode); mode["mode"] != "READONLY" {
		t.Fatalf("subject mode: %v", mode)
	}
	ts.wantError("GET", "/mode/other", nil, 404, 40409)
	if ts.call("GET", "/mode/other?defaultToGlobal=true", nil, &mode); mode["mode"] != "READWRITE" {
		t.Fatalf("mode defaultToGlobal: %v", mode)
	}
	if st := ts.call("DELETE", "/mode/m", nil, &mode); st != 200 || mode["mode"] != "READONLY" {
		t.Fatalf("DELETE mode: %d %v", st, mode)
	}
	if _, err := cl.CreateSchema(ctx, "m", avroSchema(tradeV2)); err != nil {
		t.Fatalf("write after leaving read-only: %v", err)
	}

	// IMPORT: refused while subjects exist unless forced; then explicit ids.
	ts.wantError("PUT", "/mode", map[string]string{"mode": "IMPORT"}, 422, 42205)
	ts.wantError("POST", "/subjects/imp/versions", map[string]any{"schema": tradeV1, "id": 100, "version": 1}, 422, 42205)
	if st := ts.call("PUT", "/mode/imp?force=true", map[string]string{"mode": "IMPORT"}, nil); st != 200 {
		t.Fatalf("PUT IMPORT: %d", st)
	}
	var idResp map[string]int
	if st := ts.call("POST", "/subjects/imp/versions", map[string]any{"schema": `"string"`, "id": 100, "version": 7}, &idResp); st != 200 || idResp["id"] != 100 {
		t.Fatalf("import: %d %v", st, idResp)
	}
	got, err := cl.SchemaByVersion(ctx, "imp", 7)
	if err != nil || got.ID != 100 {
		t.Fatalf("imported version: %+v %v", got, err)
	}
	// An imported id is never handed out again.
	ts.call("DELETE", "/mode/imp", nil, nil)
	ss, err := cl.CreateSchema(ctx, "after-import", avroSchema(`"int"`))
	if err != nil || ss.ID != 101 {
		t.Fatalf("id after import: %+v %v", ss, err)
	}
}

func TestDeletes(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	for _, s := range []string{tradeV1, tradeV2} {
		if _, err := cl.CreateSchema(ctx, "d", avroSchema(s)); err != nil {
			t.Fatal(err)
		}
	}
	ts.wantError("DELETE", "/subjects/d/versions/1?permanent=true", nil, 404, 40407)
	var v int
	if st := ts.call("DELETE", "/subjects/d/versions/1", nil, &v); st != 200 || v != 1 {
		t.Fatalf("soft delete: %d %d", st, v)
	}
	ts.wantError("DELETE", "/subjects/d/versions/1", nil, 404, 40406)
	ts.wantError("GET", "/subjects/d/versions/1", nil, 404, 40402)
	var view map[string]any
	if st := ts.call("GET", "/subjects/d/versions/1?deleted=true", nil, &view); st != 200 || view["id"] != float64(1) {
		t.Fatalf("deleted=true: %d %v", st, view)
	}
	if vs, _ := cl.SubjectVersions(ctx, "d"); !slices.Equal(vs, []int{2}) {
		t.Fatalf("versions after soft delete: %v", vs)
	}
	var all []int
	if ts.call("GET", "/subjects/d/versions?deleted=true", nil, &all); !slices.Equal(all, []int{1, 2}) {
		t.Fatalf("versions deleted=true: %v", all)
	}
	if st := ts.call("DELETE", "/subjects/d/versions/1?permanent=true", nil, &v); st != 200 || v != 1 {
		t.Fatalf("hard delete: %d %d", st, v)
	}
	if ts.call("GET", "/subjects/d/versions?deleted=true", nil, &all); !slices.Equal(all, []int{2}) {
		t.Fatalf("versions after hard delete: %v", all)
	}
	// Schema ids stay readable.
	if _, err := cl.SchemaByID(ctx, 1); err != nil {
		t.Fatalf("id 1 after hard delete of its version: %v", err)
	}

	// Subjects.
	ts.wantError("DELETE", "/subjects/d?permanent=true", nil, 404, 40405)
	vs, err := cl.DeleteSubject(ctx, "d", sr.SoftDelete)
	if err != nil || !slices.Equal(vs, []int{2}) {
		t.Fatalf("soft delete subject: %v %v", vs, err)
	}
	ts.wantError("DELETE", "/subjects/d", nil, 404, 40404)
	ts.wantError("GET", "/subjects/d/versions", nil, 404, 40401)
	var subs []string
	if ts.call("GET", "/subjects", nil, &subs); len(subs) != 0 {
		t.Fatalf("subjects after soft delete: %v", subs)
	}
	if ts.call("GET", "/subjects?deleted=true", nil, &subs); !slices.Equal(subs, []string{"d"}) {
		t.Fatalf("subjects deleted=true: %v", subs)
	}
	// Registering again continues the version numbers.
	ss, err := cl.CreateSchema(ctx, "d", avroSchema(tradeV1))
	if err != nil || ss.Version != 3 || ss.ID != 1 {
		t.Fatalf("re-register after soft delete: %+v %v", ss, err)
	}
	if _, err := cl.DeleteSubject(ctx, "d", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if vs, err := cl.DeleteSubject(ctx, "d", sr.HardDelete); err != nil || !slices.Equal(vs, []int{2, 3}) {
		t.Fatalf("hard delete subject: %v %v", vs, err)
	}
	if ts.call("GET", "/subjects?deleted=true", nil, &subs); len(subs) != 0 {
		t.Fatalf("subjects after hard delete: %v", subs)
	}
	// Ids are never reused: a new schema after everything is gone gets 3.
	ss, err = cl.CreateSchema(ctx, "d", avroSchema(`"bytes"`))
	if err != nil || ss.ID != 3 || ss.Version != 1 {
		t.Fatalf("after hard delete: %+v %v", ss, err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	ids := map[string]int{}
	for i := range 5 {
		subject := fmt.Sprintf("s%d", i)
		ss, err := cl.CreateSchema(ctx, subject, avroSchema(fmt.Sprintf(`{"type":"fixed","name":"F%d","size":%d}`, i, i+1)))
		if err != nil {
			t.Fatal(err)
		}
		ids[subject] = ss.ID
	}
	cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, "s1")
	if _, err := cl.DeleteSubject(ctx, "s2", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	ts.restart()
	cl = ts.client()
	for subject, id := range ids {
		if subject == "s2" {
			continue
		}
		ss, err := cl.SchemaByVersion(ctx, subject, 1)
		if err != nil || ss.ID != id {
			t.Fatalf("%s after restart: %+v %v", subject, ss, err)
		}
	}
	ts.wantError("GET", "/subjects/s2/versions/1", nil, 404, 40401)
	if r := cl.Compatibility(ctx, "s1"); r[0].Level != sr.CompatNone {
		t.Fatalf("subject config after restart: %+v", r[0])
	}
	ss, err := cl.CreateSchema(ctx, "new", avroSchema(`"string"`))
	if err != nil || ss.ID != 6 {
		t.Fatalf("first id after restart: %+v %v", ss, err)
	}
}

func TestReferences(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	money := `{"type":"record","name":"Money","namespace":"m","fields":[{"name":"units","type":"string"}]}`
	if _, err := cl.CreateSchema(ctx, "money", avroSchema(money)); err != nil {
		t.Fatal(err)
	}
	order := sr.Schema{
		Type:       sr.TypeAvro,
		Schema:     `{"type":"record","name":"Order","namespace":"o","fields":[{"name":"price","type":"m.Money"}]}`,
		References: []sr.SchemaReference{{Name: "m.Money", Subject: "money", Version: 1}},
	}
	ss, err := cl.CreateSchema(ctx, "order", order)
	if err != nil {
		t.Fatalf("register with a reference: %v", err)
	}
	got, err := cl.SchemaByID(ctx, ss.ID)
	if err != nil || len(got.References) != 1 || got.References[0].Subject != "money" {
		t.Fatalf("references not returned: %+v %v", got, err)
	}
	var by []int
	if st := ts.call("GET", "/subjects/money/versions/1/referencedby", nil, &by); st != 200 || !slices.Equal(by, []int{ss.ID}) {
		t.Fatalf("referencedby: %d %v", st, by)
	}
	ts.wantError("DELETE", "/subjects/money/versions/1", nil, 422, 42206)
	// Without the reference, the type is unknown.
	ts.wantError("POST", "/subjects/order2/versions", map[string]string{"schema": order.Schema}, 422, 42201)
	// A reference to a missing subject.
	ts.wantError("POST", "/subjects/order3/versions", map[string]any{"schema": order.Schema, "references": []map[string]any{{"name": "m.Money", "subject": "nope", "version": 1}}}, 422, 42201)
}

func TestBadInput(t *testing.T) {
	ts := startStack(t)
	ctx := testCtx(t)
	cl := ts.client()
	if _, err := cl.CreateSchema(ctx, "b", avroSchema(tradeV1)); err != nil {
		t.Fatal(err)
	}
	ts.wantError("POST", "/subjects/b/versions", `{"schema": `, 400, 400)
	ts.wantError("POST", "/subjects/b/versions", `{"schema": 12}`, 422, 422)
	ts.wantError("POST", "/subjects/b/versions", map[string]string{"schema": `{"type":"record","name":"X"}`}, 422, 42201)
	ts.wantError("POST", "/subjects/b/versions", map[string]string{"schema": `not json`}, 422, 42201)
	ts.wantError("POST", "/subjects/b/versions", map[string]string{"schema": ""}, 422, 42201)
	ts.wantError("POST", "/subjects/b/versions", map[string]string{"schema": tradeV1, "schemaType": "PROTOBUF"}, 422, 42201)
	for _, v := range []string{"0", "abc", "999999999999", "-2", "1.5"} {
		ts.wantError("GET", "/subjects/b/versions/"+v, nil, 422, 42202)
	}
	ts.wantError("GET", "/subjects/b/versions/9", nil, 404, 40402)
	ts.wantError("GET", "/subjects/nope/versions/1", nil, 404, 40401)
	ts.wantError("GET", "/subjects/nope/versions", nil, 404, 40401)
	ts.wantError("GET", "/schemas/ids/999", nil, 404, 40403)
	ts.wantError("GET", "/schemas/ids/abc", nil, 404, 404)
	ts.wantError("POST", "/subjects/nope", map[string]string{"schema": tradeV1}, 404, 40401)
	ts.wantError("POST", "/subjects/b", map[string]string{"schema": tradeV2}, 404, 40403)
	ts.wantError("GET", "/no/such/endpoint", nil, 404, 404)
	big := `{"schema":"` + strings.Repeat("x", 17<<20) + `"}`
	ts.wantError("POST", "/subjects/b/versions", big, 413, 413)
	// Nothing above changed the state.
	if vs, _ := cl.SubjectVersions(ctx, "b"); !slices.Equal(vs, []int{1}) {
		t.Fatalf("versions after bad input: %v", vs)
	}
	var subs []string
	if ts.call("GET", "/subjects?deleted=true", nil, &subs); !slices.Equal(subs, []string{"b"}) {
		t.Fatalf("subjects after bad input: %v", subs)
	}

	// Many goroutines registering the same new schema get one id.
	var wg sync.WaitGroup
	ids := make([]int, 16)
	errs := make([]error, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = cl.RegisterSchema(ctx, "b", avroSchema(tradeV2), -1, -1)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent registration %d: id %d (first %d): %v", i, ids[i], ids[0], errs[i])
		}
	}
	if vs, _ := cl.SubjectVersions(ctx, "b"); !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("versions after concurrent registration: %v", vs)
	}

	// The client sees Confluent's error codes.
	_, err := cl.SchemaByID(ctx, 12345)
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.ErrorCode != 40403 || re.StatusCode != http.StatusNotFound {
		t.Fatalf("client error for a missing id: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	ts := startStack(t)
	// Written with the namespace split off and keys in an odd order.
	messy := `{"fields":[{"type":"long","name":"id"}],"name":"Trade","namespace":"n","type":"record"}`
	var idResp map[string]int
	if st := ts.call("POST", "/subjects/norm/versions?normalize=true", map[string]string{"schema": messy}, &idResp); st != 200 {
		t.Fatalf("register normalized: %d", st)
	}
	var v map[string]any
	ts.call("GET", "/subjects/norm/versions/1", nil, &v)
	if stored := v["schema"].(string); !strings.HasPrefix(stored, `{"name":"n.Trade","type":"record"`) {
		t.Fatalf("normalized schema stored as %s", stored)
	}
	// The same schema without normalize is still the same schema: same id.
	var id2 map[string]int
	ts.call("POST", "/subjects/norm2/versions", map[string]string{"schema": messy}, &id2)
	if id2["id"] != idResp["id"] {
		t.Fatalf("same schema, normalized or not: ids %d and %d", idResp["id"], id2["id"])
	}
	// A new schema without normalize is kept as written (compacted).
	other := `{"fields": [{"type": "string", "name": "x"}], "name": "Other", "type": "record"}`
	ts.call("POST", "/subjects/raw/versions", map[string]string{"schema": other}, nil)
	ts.call("GET", "/subjects/raw/versions/1", nil, &v)
	if v["schema"] != `{"fields":[{"type":"string","name":"x"}],"name":"Other","type":"record"}` {
		t.Fatalf("schema registered without normalize stored as %s", v["schema"])
	}
}
