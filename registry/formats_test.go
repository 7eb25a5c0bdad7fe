package registry_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	jsonTradeV1 = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Trade","type":"object","properties":{"id":{"type":"integer"},"price":{"type":"string"}},"required":["id"],"additionalProperties":false}`
	// v2 adds an optional property to a closed content model: compatible.
	jsonTradeV2 = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Trade","type":"object","properties":{"id":{"type":"integer"},"price":{"type":"string"},"side":{"type":"string"}},"required":["id"],"additionalProperties":false}`
	// v3 changes a type: incompatible.
	jsonTradeV3Bad = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Trade","type":"object","properties":{"id":{"type":"string"},"price":{"type":"string"},"side":{"type":"string"}},"required":["id"],"additionalProperties":false}`

	protoTradeV1 = "syntax = \"proto3\";\npackage tickertape.market;\n\nimport \"google/protobuf/timestamp.proto\";\n\nmessage Trade {\n  int64 id = 1;\n  string price = 2;\n  google.protobuf.Timestamp at = 3;\n}\n"
	// Reworded: comments, spacing and option order aside, the same file.
	protoTradeV1Reworded = "// a trade\nsyntax=\"proto3\"; package tickertape.market; import \"google/protobuf/timestamp.proto\";\nmessage Trade { int64 id = 1; string price = 2; /* when */ google.protobuf.Timestamp at = 3; }"
	protoTradeV2         = "syntax = \"proto3\";\npackage tickertape.market;\nimport \"google/protobuf/timestamp.proto\";\nmessage Trade {\n  int64 id = 1;\n  string price = 2;\n  google.protobuf.Timestamp at = 3;\n  string side = 4;\n}\n"
	protoTradeV3Bad      = "syntax = \"proto3\";\npackage tickertape.market;\nimport \"google/protobuf/timestamp.proto\";\nmessage Trade {\n  string id = 1;\n  string price = 2;\n  google.protobuf.Timestamp at = 3;\n  string side = 4;\n}\n"
)

type regBody = map[string]any

func (ts *testStack) register(subject string, body regBody) int {
	ts.t.Helper()
	var out struct {
		ID int `json:"id"`
	}
	if st := ts.call("POST", "/subjects/"+subject+"/versions", body, &out); st != 200 || out.ID == 0 {
		ts.t.Fatalf("register %s: %d %+v", subject, st, out)
	}
	return out.ID
}

type compatAnswer struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages"`
}

// Every endpoint with each of the new formats: register, re-register and
// reword (one id), look up, read by id and by version, evolve compatibly,
// refuse an incompatible change (with Confluent's incompatibility type in
// the messages), check compatibility, delete, and survive a restart.
func TestFormatsEndToEnd(t *testing.T) {
	for _, f := range []struct {
		typ                          string
		v1, v1Reworded, v2, v3Bad    string
		incompatibleType, messagePat string
	}{
		{typ: "JSON", v1: jsonTradeV1, v1Reworded: strings.ReplaceAll(jsonTradeV1, `,"required":["id"]`, `,  "required" : [ "id" ]`), v2: jsonTradeV2, v3Bad: jsonTradeV3Bad, incompatibleType: "TYPE_CHANGED", messagePat: "jsonPath='#/properties/id'"},
		{typ: "PROTOBUF", v1: protoTradeV1, v1Reworded: protoTradeV1Reworded, v2: protoTradeV2, v3Bad: protoTradeV3Bad, incompatibleType: "FIELD_SCALAR_KIND_CHANGED", messagePat: "fullPath='#/Trade/1'"},
	} {
		t.Run(f.typ, func(t *testing.T) {
			ts := startStack(t)
			subject := "trades-" + strings.ToLower(f.typ)
			id1 := ts.register(subject, regBody{"schema": f.v1, "schemaType": f.typ})
			if again := ts.register(subject, regBody{"schema": f.v1Reworded, "schemaType": f.typ}); again != id1 {
				t.Fatalf("reworded schema got id %d, want %d", again, id1)
			}
			// The same text as another type is another schema.
			if f.typ == "JSON" {
				ts.wantError("POST", "/subjects/"+subject+"/versions", regBody{"schema": f.v1}, 422, 42201)
			}
			var found struct {
				ID, Version int
				SchemaType  string
			}
			if st := ts.call("POST", "/subjects/"+subject, regBody{"schema": f.v1Reworded, "schemaType": f.typ}, &found); st != 200 || found.ID != id1 || found.Version != 1 || found.SchemaType != f.typ {
				t.Fatalf("lookup: %d %+v", st, found)
			}
			ts.wantError("POST", "/subjects/"+subject, regBody{"schema": f.v2, "schemaType": f.typ}, 404, 40403)

			var byID struct {
				SchemaType string `json:"schemaType"`
				Schema     string `json:"schema"`
			}
			if st := ts.call("GET", fmt.Sprintf("/schemas/ids/%d", id1), nil, &byID); st != 200 || byID.SchemaType != f.typ || byID.Schema == "" {
				t.Fatalf("by id: %d %+v", st, byID)
			}
			var c compatAnswer
			if st := ts.call("POST", "/compatibility/subjects/"+subject+"/versions/latest?verbose=true", regBody{"schema": f.v2, "schemaType": f.typ}, &c); st != 200 || !c.IsCompatible {
				t.Fatalf("v2 compatibility: %d %+v", st, c)
			}
			id2 := ts.register(subject, regBody{"schema": f.v2, "schemaType": f.typ})
			if id2 == id1 {
				t.Fatal("v2 got v1's id")
			}
			if st := ts.call("POST", "/compatibility/subjects/"+subject+"/versions/latest?verbose=true", regBody{"schema": f.v3Bad, "schemaType": f.typ}, &c); st != 200 || c.IsCompatible {
				t.Fatalf("v3 compatibility: %d %+v", st, c)
			}
			if !strings.Contains(strings.Join(c.Messages, "\n"), "type="+f.incompatibleType) || !strings.Contains(strings.Join(c.Messages, "\n"), f.messagePat) {
				t.Fatalf("v3 messages %q, want %s at %s", c.Messages, f.incompatibleType, f.messagePat)
			}
			e := ts.wantError("POST", "/subjects/"+subject+"/versions", regBody{"schema": f.v3Bad, "schemaType": f.typ}, 409, 409)
			if !strings.Contains(e.Message, f.incompatibleType) {
				t.Fatalf("409 message %q", e.Message)
			}
			// FORWARD: the old schema must read the new; removing a field the
			// old one requires fails for JSON, renumbering is fine for both.
			var v struct {
				SchemaType string `json:"schemaType"`
				Version    int    `json:"version"`
			}
			if st := ts.call("GET", "/subjects/"+subject+"/versions/latest", nil, &v); st != 200 || v.SchemaType != f.typ || v.Version != 2 {
				t.Fatalf("latest: %d %+v", st, v)
			}
			var all []struct {
				SchemaType string `json:"schemaType"`
			}
			if ts.call("GET", "/schemas", nil, &all); len(all) != 2 || all[0].SchemaType != f.typ {
				t.Fatalf("GET /schemas: %+v", all)
			}
			// The raw-schema, versions and subjects endpoints by id and version.
			for _, path := range []string{fmt.Sprintf("/schemas/ids/%d/schema", id2), "/subjects/" + subject + "/versions/2/schema"} {
				status, _, body := raw(t, "GET", ts.s.RegistryURL()+path, nil, nil)
				if status != 200 || body != f.v2 && !(f.typ == "JSON" && strings.Contains(body, `"side"`)) {
					t.Fatalf("%s: %d %q", path, status, body)
				}
			}
			var uses []struct {
				Subject string
				Version int
			}
			if ts.call("GET", fmt.Sprintf("/schemas/ids/%d/versions", id1), nil, &uses); len(uses) != 1 || uses[0].Subject != subject {
				t.Fatalf("versions of id %d: %+v", id1, uses)
			}
			var subs []string
			if ts.call("GET", fmt.Sprintf("/schemas/ids/%d/subjects", id2), nil, &subs); len(subs) != 1 || subs[0] != subject {
				t.Fatalf("subjects of id %d: %v", id2, subs)
			}
			var refs []int
			if st := ts.call("GET", "/subjects/"+subject+"/versions/1/referencedby", nil, &refs); st != 200 || len(refs) != 0 {
				t.Fatalf("referencedby: %d %v", st, refs)
			}
			// FULL_TRANSITIVE: the old schemas must also read the new one.
			if st := ts.call("PUT", "/config/"+subject, regBody{"compatibility": "FULL_TRANSITIVE"}, nil); st != 200 {
				t.Fatal(st)
			}
			if st := ts.call("POST", "/compatibility/subjects/"+subject+"/versions?verbose=true", regBody{"schema": f.v3Bad, "schemaType": f.typ}, &c); st != 200 || c.IsCompatible {
				t.Fatalf("FULL_TRANSITIVE: %d %+v", st, c)
			}
			if st := ts.call("DELETE", "/config/"+subject, nil, nil); st != 200 {
				t.Fatal(st)
			}
			if st := ts.call("DELETE", "/subjects/"+subject+"/versions/2", nil, nil); st != 200 {
				t.Fatalf("delete: %d", st)
			}
			ts.restart()
			var deleted struct {
				SchemaType string `json:"schemaType"`
			}
			if st := ts.call("GET", "/subjects/"+subject+"/versions/2?deleted=true", nil, &deleted); st != 200 || deleted.SchemaType != f.typ {
				t.Fatalf("soft-deleted version after restart: %d %+v", st, deleted)
			}
			if again := ts.register(subject, regBody{"schema": f.v1, "schemaType": f.typ}); again != id1 {
				t.Fatalf("after restart: id %d, want %d", again, id1)
			}
			// The whole subject: soft, then hard.
			if st := ts.call("DELETE", "/subjects/"+subject, nil, nil); st != 200 {
				t.Fatalf("delete subject: %d", st)
			}
			if st := ts.call("DELETE", "/subjects/"+subject+"?permanent=true", nil, nil); st != 200 {
				t.Fatalf("hard delete subject: %d", st)
			}
			ts.wantError("GET", "/subjects/"+subject+"/versions", nil, 404, 40401)
			if st := ts.call("GET", fmt.Sprintf("/schemas/ids/%d", id1), nil, &byID); st != 200 || byID.SchemaType != f.typ {
				t.Fatalf("by id after hard delete: %d %+v", st, byID)
			}
		})
	}
}

func TestProtobufFormats(t *testing.T) {
	ts := startStack(t)
	custom := "syntax = \"proto3\";\npackage p;\nimport \"google/protobuf/descriptor.proto\";\nextend google.protobuf.FieldOptions { string unit = 50001; }\nmessage M { string price = 1 [(unit) = \"USD\", deprecated = true]; }\n"
	// normalize: the canonical text, which parses to the same schema.
	var norm struct {
		ID int `json:"id"`
	}
	if st := ts.call("POST", "/subjects/p0/versions?normalize=true", regBody{"schema": custom, "schemaType": "PROTOBUF"}, &norm); st != 200 {
		t.Fatalf("normalized register: %d", st)
	}
	var canonical struct {
		Schema string `json:"schema"`
	}
	if st := ts.call("GET", "/subjects/p0/versions/1", nil, &canonical); st != 200 || canonical.Schema == custom || !strings.Contains(canonical.Schema, "(p.unit) = \"USD\"") {
		t.Fatalf("normalized text: %q", canonical.Schema)
	}
	id := ts.register("p", regBody{"schema": custom, "schemaType": "PROTOBUF"})
	if id != norm.ID {
		t.Fatalf("the written text got id %d, its normalized form %d", id, norm.ID)
	}
	if again := ts.register("p3", regBody{"schema": canonical.Schema, "schemaType": "PROTOBUF"}); again != id {
		t.Fatalf("normalized text registers as id %d, want %d", again, id)
	}
	var got struct {
		Schema string `json:"schema"`
	}
	if st := ts.call("GET", fmt.Sprintf("/schemas/ids/%d?format=serialized", id), nil, &got); st != 200 {
		t.Fatalf("serialized: %d", st)
	}
	raw, err := base64.StdEncoding.DecodeString(got.Schema)
	if err != nil {
		t.Fatalf("not base64: %q", got.Schema)
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil || fdp.GetPackage() != "p" || len(fdp.MessageType) != 1 || fdp.MessageType[0].GetName() != "M" || !slices.Contains(fdp.Dependency, "google/protobuf/descriptor.proto") {
		t.Fatalf("descriptor: %v %v", &fdp, err)
	}
	if st := ts.call("GET", fmt.Sprintf("/schemas/ids/%d?format=ignore_extensions", id), nil, &got); st != 200 || strings.Contains(got.Schema, "unit") || !strings.Contains(got.Schema, "deprecated = true") || !strings.Contains(got.Schema, "message M {") {
		t.Fatalf("ignore_extensions: %d %q", st, got.Schema)
	}
	if st := ts.call("GET", "/subjects/p/versions/1?format=serialized", nil, &got); st != 200 || base64.StdEncoding.EncodeToString(raw) != got.Schema {
		t.Fatalf("serialized by version: %d %q", st, got.Schema)
	}
	// A serialized descriptor (what confluent-kafka-python registers) is
	// the same schema, and is stored as .proto text.
	if again := ts.register("p4", regBody{"schema": got.Schema, "schemaType": "PROTOBUF"}); again != id {
		t.Fatalf("serialized descriptor registers as id %d, want %d", again, id)
	}
	fdp.Name = proto.String("other.proto")
	fdp.MessageType[0].Name = proto.String("N")
	b, _ := proto.Marshal(&fdp)
	nid := ts.register("p5", regBody{"schema": base64.StdEncoding.EncodeToString(b), "schemaType": "PROTOBUF"})
	// As protobuf's Python runtime serializes a descriptor built by hand:
	// no json_name at all.
	py := "ChNpbnRlcm9wL3F1b3RlLnByb3RvEgdpbnRlcm9wIhIKBU90aGVyEgkKAXgYASABKAkiNQoHUHlRdW90ZRIOCgZzeW1ib2wYASABKAkSDQoFcHJpY2UYAiABKAkSCwoDc2VxGAMgASgDYgZwcm90bzM="
	pyID := ts.register("p6", regBody{"schema": py, "schemaType": "PROTOBUF"})
	if again := ts.register("p7", regBody{"schema": "syntax = \"proto3\";\npackage interop;\nmessage Other { string x = 1; }\nmessage PyQuote { string symbol = 1; string price = 2; int64 seq = 3; }", "schemaType": "PROTOBUF"}); again != pyID {
		t.Fatalf("the same file as text: id %d, as a Python descriptor %d", again, pyID)
	}
	if st := ts.call("GET", "/subjects/p5/versions/1", nil, &got); st != 200 || !strings.Contains(got.Schema, "message N {") || nid == id {
		t.Fatalf("descriptor stored as %q (id %d)", got.Schema, nid)
	}
}

// References across subjects, for each format: a JSON Schema $ref and a
// .proto import each name another subject's schema; a reference to a schema
// of another type, or to a missing subject, is refused.
func TestReferencesAcrossSubjectsAndFormats(t *testing.T) {
	ts := startStack(t)
	priceJSON := ts.register("price-json", regBody{"schema": `{"type":"object","properties":{"units":{"type":"string"},"currency":{"type":"string"}}}`, "schemaType": "JSON"})
	tradeJSON := regBody{"schema": `{"type":"object","properties":{"price":{"$ref":"price.json"}}}`, "schemaType": "JSON",
		"references": []regBody{{"name": "price.json", "subject": "price-json", "version": 1}}}
	id := ts.register("trade-json", tradeJSON)
	var by []int
	if st := ts.call("GET", "/subjects/price-json/versions/1/referencedby", nil, &by); st != 200 || !slices.Equal(by, []int{id}) {
		t.Fatalf("referencedby: %d %v (price %d)", st, by, priceJSON)
	}
	ts.wantError("DELETE", "/subjects/price-json/versions/1", nil, 422, 42206)
	missing := regBody{"schema": tradeJSON["schema"], "schemaType": "JSON"}
	if e := ts.wantError("POST", "/subjects/trade-json2/versions", missing, 422, 42201); !strings.Contains(e.Message, "price.json") {
		t.Fatalf("missing reference message %q", e.Message)
	}
	missing["references"] = []regBody{{"name": "price.json", "subject": "nope", "version": 1}}
	ts.wantError("POST", "/subjects/trade-json2/versions", missing, 422, 42201)

	ts.register("price-proto", regBody{"schema": "syntax = \"proto3\";\npackage money;\nmessage Price { string units = 1; }\n", "schemaType": "PROTOBUF"})
	tradeProto := regBody{"schema": "syntax = \"proto3\";\npackage t;\nimport \"money/price.proto\";\nmessage Trade { money.Price price = 1; }\n", "schemaType": "PROTOBUF",
		"references": []regBody{{"name": "money/price.proto", "subject": "price-proto", "version": 1}}}
	pid := ts.register("trade-proto", tradeProto)
	var got struct {
		References []sr.SchemaReference `json:"references"`
	}
	if st := ts.call("GET", fmt.Sprintf("/schemas/ids/%d", pid), nil, &got); st != 200 || len(got.References) != 1 || got.References[0].Name != "money/price.proto" {
		t.Fatalf("proto references: %d %+v", st, got)
	}
	// A compatible change to the referenced type, registered as version 2,
	// and the referencing schema moved to it: compatible.
	ts.register("price-proto", regBody{"schema": "syntax = \"proto3\";\npackage money;\nmessage Price { string units = 1; string currency = 2; }\n", "schemaType": "PROTOBUF"})
	tradeProto["references"] = []regBody{{"name": "money/price.proto", "subject": "price-proto", "version": 2}}
	var c compatAnswer
	if st := ts.call("POST", "/compatibility/subjects/trade-proto/versions/latest", tradeProto, &c); st != 200 || !c.IsCompatible {
		t.Fatalf("compat through reference: %d %+v", st, c)
	}
	// Across formats: a .proto cannot import a JSON Schema.
	cross := regBody{"schema": "syntax = \"proto3\";\nimport \"price.json\";\nmessage X {}\n", "schemaType": "PROTOBUF",
		"references": []regBody{{"name": "price.json", "subject": "price-json", "version": 1}}}
	if e := ts.wantError("POST", "/subjects/x/versions", cross, 422, 42201); !strings.Contains(e.Message, "JSON schema") {
		t.Fatalf("cross-format message %q", e.Message)
	}
	// An Avro subject and a JSON subject referenced by one JSON schema would
	// not make sense either.
	ts.register("avro-money", regBody{"schema": `{"type":"record","name":"Money","fields":[{"name":"u","type":"string"}]}`})
	ts.wantError("POST", "/subjects/y/versions", regBody{"schema": `{"$ref":"Money"}`, "schemaType": "JSON", "references": []regBody{{"name": "Money", "subject": "avro-money", "version": 1}}}, 422, 42201)
}

// Mixed Avro, JSON Schema and Protobuf subjects for one topic under
// TopicRecordNameStrategy (topic-recordname), each evolving under its own
// rules, with per-subject compatibility levels.
func TestMixedFormatsOneTopic(t *testing.T) {
	ts := startStack(t)
	avroID := ts.register("market.events-tickertape.market.Trade", regBody{"schema": tradeV1})
	jsonID := ts.register("market.events-tickertape.market.Ticker", regBody{"schema": jsonTradeV1, "schemaType": "JSON"})
	protoID := ts.register("market.events-tickertape.market.Book", regBody{"schema": protoTradeV1, "schemaType": "PROTOBUF"})
	if avroID == jsonID || jsonID == protoID {
		t.Fatalf("ids %d %d %d", avroID, jsonID, protoID)
	}
	var subs []string
	ts.call("GET", "/subjects?subjectPrefix=market.events-", nil, &subs)
	if len(subs) != 3 {
		t.Fatalf("subjects %v", subs)
	}
	// A JSON schema under the Avro subject is refused as incompatible.
	e := ts.wantError("POST", "/subjects/market.events-tickertape.market.Trade/versions", regBody{"schema": jsonTradeV1, "schemaType": "JSON"}, 409, 409)
	if !strings.Contains(e.Message, "schema type") {
		t.Fatalf("type change message %q", e.Message)
	}
	// FULL on the JSON subject: adding an optional property to a closed
	// model is backward compatible but not forward (the old closed model
	// rejects the new property).
	if st := ts.call("PUT", "/config/market.events-tickertape.market.Ticker", regBody{"compatibility": "FULL"}, nil); st != 200 {
		t.Fatal(st)
	}
	e = ts.wantError("POST", "/subjects/market.events-tickertape.market.Ticker/versions", regBody{"schema": jsonTradeV2, "schemaType": "JSON"}, 409, 409)
	if !strings.Contains(e.Message, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL") {
		t.Fatalf("FULL message %q", e.Message)
	}
	ts.register("market.events-tickertape.market.Book", regBody{"schema": protoTradeV2, "schemaType": "PROTOBUF"})
	ts.register("market.events-tickertape.market.Trade", regBody{"schema": tradeV2})
	var types []struct {
		Subject    string `json:"subject"`
		SchemaType string `json:"schemaType"`
	}
	ts.call("GET", "/schemas?subjectPrefix=market.events-&latestOnly=true", nil, &types)
	got := map[string]string{}
	for _, x := range types {
		got[x.Subject] = x.SchemaType
	}
	if got["market.events-tickertape.market.Trade"] != "" || got["market.events-tickertape.market.Ticker"] != "JSON" || got["market.events-tickertape.market.Book"] != "PROTOBUF" {
		t.Fatalf("types %v", got)
	}
}

// Metadata and rule sets are stored in _schemas and returned; they are part
// of the schema's identity, as in Confluent.
func TestMetadataAndRuleSet(t *testing.T) {
	ts := startStack(t)
	md := regBody{"properties": regBody{"owner": "market-data", "pii": "false"}}
	rules := regBody{"domainRules": []regBody{{"name": "checkPrice", "kind": "CONDITION", "type": "CEL", "mode": "WRITE", "expr": "message.price != ''"}}}
	id := ts.register("m", regBody{"schema": jsonTradeV1, "schemaType": "JSON", "metadata": md, "ruleSet": rules})
	var v struct {
		Metadata map[string]map[string]string `json:"metadata"`
		RuleSet  map[string][]map[string]any  `json:"ruleSet"`
	}
	check := func(what string) {
		t.Helper()
		if v.Metadata["properties"]["owner"] != "market-data" || len(v.RuleSet["domainRules"]) != 1 || v.RuleSet["domainRules"][0]["name"] != "checkPrice" {
			t.Fatalf("%s: %+v", what, v)
		}
	}
	ts.call("GET", "/subjects/m/versions/1", nil, &v)
	check("by version")
	v.Metadata, v.RuleSet = nil, nil
	ts.call("GET", fmt.Sprintf("/schemas/ids/%d", id), nil, &v)
	check("by id")
	ts.restart()
	v.Metadata, v.RuleSet = nil, nil
	ts.call("GET", "/subjects/m/versions/latest", nil, &v)
	check("after restart")
	if again := ts.register("m", regBody{"schema": jsonTradeV1, "schemaType": "JSON", "metadata": md, "ruleSet": rules}); again != id {
		t.Fatalf("same schema and metadata: id %d, want %d", again, id)
	}
	ts.wantError("POST", "/subjects/m/versions", regBody{"schema": jsonTradeV1, "schemaType": "JSON", "metadata": "owner"}, 422, 42201)
}

// Hostile schemas get 422 with Confluent's code, in bounded time, and store
// nothing.
func TestHostileSchemas(t *testing.T) {
	ts := startStack(t)
	deep := strings.Repeat(`{"properties":{"a":`, 10000) + `{}` + strings.Repeat(`}}`, 10000)
	defs := func() string {
		var b strings.Builder
		b.WriteString(`{"definitions":{`)
		for i := range 10000 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"d%d":{"$ref":"#/definitions/d%d"}`, i, (i+1)%10000)
		}
		b.WriteString(`},"$ref":"#/definitions/d0"}`)
		return b.String()
	}()
	nestedProto := "syntax = \"proto3\";\n" + strings.Repeat("message M {\n", 10000) + strings.Repeat("}\n", 10000)
	big := `{"type":"object","description":"` + strings.Repeat("x", 10<<20) + `"}`
	for _, c := range []struct {
		name string
		body regBody
		code int
	}{
		{"proto importing itself", regBody{"schema": "syntax = \"proto3\";\nimport \"self.proto\";\nmessage A {}", "schemaType": "PROTOBUF", "references": []regBody{{"name": "self.proto", "subject": "selfref", "version": 1}}}, 42201},
		{"proto with a missing import", regBody{"schema": "syntax = \"proto3\";\nimport \"nowhere.proto\";\nmessage A {}", "schemaType": "PROTOBUF"}, 42201},
		{"proto not parsing", regBody{"schema": "syntax = \"proto3\";\nmessage A { int64 = ; }", "schemaType": "PROTOBUF"}, 42201},
		{"proto with 10,000 nested messages", regBody{"schema": nestedProto, "schemaType": "PROTOBUF"}, 42201},
		{"JSON with a $ref cycle", regBody{"schema": `{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}}}`, "schemaType": "JSON"}, 42201},
		{"JSON with 10,000 definitions in a $ref cycle", regBody{"schema": defs, "schemaType": "JSON"}, 42201},
		{"JSON nested 10,000 deep", regBody{"schema": deep, "schemaType": "JSON"}, 42201},
		{"JSON with a missing subject", regBody{"schema": `{"$ref":"other.json"}`, "schemaType": "JSON", "references": []regBody{{"name": "other.json", "subject": "missing", "version": 1}}}, 42201},
		{"JSON with a $ref to a file", regBody{"schema": `{"$ref":"file:///etc/passwd"}`, "schemaType": "JSON"}, 42201},
		{"JSON not a schema", regBody{"schema": `{"type":12}`, "schemaType": "JSON"}, 42201},
		{"JSON of 10 MB", regBody{"schema": big, "schemaType": "JSON"}, 42209},
		{"unknown type", regBody{"schema": `{}`, "schemaType": "XML"}, 42201},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts.wantError("POST", "/subjects/h/versions", c.body, 422, c.code)
			ts.wantError("POST", "/compatibility/subjects/h/versions", c.body, 422, c.code)
		})
	}
	var subs []string
	if ts.call("GET", "/subjects?deleted=true", nil, &subs); len(subs) != 0 {
		t.Fatalf("hostile schemas stored subjects %v", subs)
	}
}
