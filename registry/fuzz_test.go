package registry

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tickertape/tickertape/auth"
	"github.com/tickertape/tickertape/internal/avrocompat"
)

// FuzzSchema parses arbitrary schema text (with and without normalizing) and
// checks a parsed schema against itself and a fixed one: no panics, and a
// schema is always compatible with itself and keeps its identity when
// normalized.
func FuzzSchema(f *testing.F) {
	for _, s := range []string{`"string"`, `{"type":"record","name":"R","fields":[{"name":"a","type":["null","long"],"default":null}]}`,
		`{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}`, `{"type":"array","items":{"type":"map","values":"bytes"}}`,
		`{"type":"fixed","name":"F","size":4,"logicalType":"decimal","precision":8,"scale":2}`,
		`{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}`, `[`, `{"type":"record"}`} {
		f.Add(s)
	}
	other, _ := parseAvro(`{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`, nil, nil)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseAvro(text, nil, func(string, int) (*schemaEntry, bool) { return nil, false })
		if err != nil {
			return
		}
		id, err := identity(s, nil)
		if err != nil {
			return // hamba cannot always re-encode odd defaults; registration reports it
		}
		if inc := avrocompat.Check(s, s); len(inc) > 0 {
			t.Fatalf("schema incompatible with itself: %s: %v", text, inc)
		}
		avrocompat.Check(s, other)
		avrocompat.Check(other, s)
		norm, err := normalizeAvro(text, s, nil)
		if err != nil {
			t.Fatalf("normalize %s: %v", text, err)
		}
		s2, err := parseAvro(norm, nil, nil)
		if err != nil {
			t.Fatalf("normalized form %s does not parse: %v", norm, err)
		}
		if id2, _ := identity(s2, nil); id2 != id {
			t.Fatalf("normalizing changed identity:\n%s\n%s", id, id2)
		}
	})
}

// FuzzApply feeds arbitrary _schemas records to the state machine: it never
// panics, and what it applied stays consistent.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(`{"subject":"s","version":1,"id":1,"schema":"\"int\"","deleted":false}`))
	f.Add([]byte(`{"keytype":"CONFIG","subject":null,"magic":0}`), []byte(`{"compatibilityLevel":"FULL"}`))
	f.Add([]byte(`{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`), []byte(`{"subject":"s","version":9}`))
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(nil))
	f.Add([]byte(`{"keytype":"MODE","subject":"s","magic":0}`), []byte(`{"mode":"IMPORT"}`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		st := newState()
		st.apply(0, []byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`), []byte(`{"subject":"s","version":1,"id":1,"schema":"\"int\"","deleted":false}`))
		st.apply(1, key, value)
		if len(value) == 0 {
			value = nil
		}
		st.apply(2, key, value)
		if st.applied != 3 {
			t.Fatalf("applied %d", st.applied)
		}
		for name, s := range st.subjects {
			for i, sv := range s.versions {
				if i > 0 && s.versions[i-1].Version >= sv.Version {
					t.Fatalf("subject %s versions out of order", name)
				}
				if st.schemas[sv.ID] == nil {
					t.Fatalf("subject %s version %d points at missing id %d", name, sv.Version, sv.ID)
				}
			}
		}
		for id := range st.schemas {
			if id > st.maxID {
				t.Fatalf("id %d above maxID %d", id, st.maxID)
			}
		}
	})
}

var (
	fuzzOnce    sync.Once
	fuzzHandler http.Handler
)

// FuzzReadAPI sends arbitrary requests to the read side of the API (every
// GET, lookups and compatibility checks, which parse schemas): no panics, a
// JSON answer with the registry's content type, and a 4xx, never a 5xx.
func FuzzReadAPI(f *testing.F) {
	fuzzOnce.Do(func() {
		r, _ := New(Config{Brokers: []string{"unused:9092"}})
		for i, rec := range [][2]string{
			{`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`, `{"subject":"s","version":1,"id":1,"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}","deleted":false}`},
			{`{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}`, `{"subject":"s","version":2,"id":2,"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"},{\"name\":\"b\",\"type\":\"int\",\"default\":1}]}","deleted":true}`},
		} {
			r.st.apply(int64(i), []byte(rec[0]), []byte(rec[1]))
		}
		fuzzHandler = r.routes()
	})
	f.Add("GET", "/subjects/s/versions/latest", "")
	f.Add("GET", "/schemas/ids/1", "")
	f.Add("POST", "/subjects/s", `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"long\"}]}"}`)
	f.Add("POST", "/compatibility/subjects/s/versions/latest?verbose=true", `{"schema":"\"int\""}`)
	f.Add("GET", "/subjects/s/versions/999999999999", "")
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if method != "GET" && method != "POST" {
			return
		}
		if method == "POST" && !strings.HasPrefix(path, "/compatibility/") && strings.Count(path, "/") != 2 {
			return // writes need Kafka; FuzzSchema covers what they parse
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#") {
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, bytes.NewBufferString(body))
		if err != nil {
			return
		}
		w := httptest.NewRecorder()
		fuzzHandler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, w.Code, w.Body)
		}
		if ct := w.Header().Get("Content-Type"); ct != contentType && w.Code != 301 && w.Code != 307 && w.Code != 405 {
			t.Fatalf("%s %s: content type %q", method, path, ct)
		}
	})
}

// FuzzJSONSchema compiles arbitrary JSON Schema text: no panics, bounded
// work, and a schema that compiles is compatible with itself and keeps its
// identity when normalized.
func FuzzJSONSchema(f *testing.F) {
	for _, s := range []string{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, `true`, `{"$ref":"#/definitions/a","definitions":{"a":{"type":["string","null"]}}}`,
		`{"$schema":"https://json-schema.org/draft/2020-12/schema","prefixItems":[{"type":"integer"}],"items":false}`, `{"anyOf":[{"enum":[1,2]},{"not":{"const":3}}]}`,
		`{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":3,"exclusiveMaximum":true}`, `{"$ref":"other.json"}`, `{"$ref":"#/definitions/a","definitions":{"a":{"$ref":"#/definitions/a"}}}`, `[`} {
		f.Add(s)
	}
	none := func(string, int) (*schemaEntry, bool) { return nil, false }
	f.Fuzz(func(t *testing.T, text string) {
		c, err := compileJSON(text, nil, none)
		if err != nil {
			return
		}
		if msgs := c.check(c); len(msgs) > 0 {
			t.Fatalf("%s incompatible with itself: %v", text, msgs)
		}
		id, _ := c.identity()
		norm, _ := c.normalized()
		c2, err := compileJSON(norm, nil, none)
		if err != nil {
			t.Fatalf("normalized %s does not compile: %v", norm, err)
		}
		if id2, _ := c2.identity(); id2 != id {
			t.Fatalf("normalizing changed identity: %s / %s", id, id2)
		}
	})
}

// FuzzProtobuf compiles arbitrary .proto text: no panics, a schema that
// compiles is compatible with itself, its normalized text compiles to the
// same identity, and its serialized form is produced.
func FuzzProtobuf(f *testing.F) {
	for _, s := range []string{"syntax = \"proto3\";\npackage a;\nmessage M { int64 a = 1; oneof o { string b = 2; } map<string, int32> m = 3; repeated M next = 4; }\nenum E { X = 0; }",
		"syntax = \"proto2\";\nmessage M { required int32 a = 1 [default = 3]; optional group G = 2 { optional int32 x = 3; } extensions 10 to 20; }",
		"syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nmessage T { google.protobuf.Timestamp at = 1; optional string s = 2; }",
		"syntax = \"proto3\";\nimport \"google/protobuf/descriptor.proto\";\nextend google.protobuf.MessageOptions { string tag = 50000; }\nmessage M { option (tag) = \"x\"; reserved 5, 8 to 9; reserved \"old\"; }\nservice S { rpc Get(M) returns (stream M); }",
		"edition = \"2023\";\nmessage M { int32 a = 1; }", "message {"} {
		f.Add(s)
	}
	none := func(string, int) (*schemaEntry, bool) { return nil, false }
	f.Fuzz(func(t *testing.T, text string) {
		c, err := compileProto(text, nil, none)
		if err != nil {
			return
		}
		if msgs := c.check(c); len(msgs) > 0 {
			t.Fatalf("%q incompatible with itself: %v", text, msgs)
		}
		if _, err := c.(*protoCompiled).serialized(); err != nil {
			t.Fatalf("serialized: %v", err)
		}
		id, _ := c.identity()
		norm, _ := c.normalized()
		c2, err := compileProto(norm, nil, none)
		if err != nil {
			t.Fatalf("normalized text of %q does not compile: %v\n%s", text, err, norm)
		}
		if id2, _ := c2.identity(); id2 != id {
			t.Fatalf("normalizing %q changed identity:\n%s", text, norm)
		}
	})
}

// FuzzBasicAuth sends arbitrary Authorization headers and methods through
// the basic-auth layer with real SCRAM users: no panics, and the answer is
// exactly what the credentials allow: 401 with Confluent's body unless they
// are a user's, 403 for a reader's write, the handler otherwise.
func FuzzBasicAuth(f *testing.F) {
	users, err := auth.OpenUsers(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for _, u := range []string{"r", "w"} {
		if err := users.SetPassword(u, "pw-"+u, auth.MinIterations); err != nil {
			f.Fatal(err)
		}
	}
	r, _ := New(Config{Brokers: []string{"unused:9092"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth: &BasicAuth{Users: users, Writers: []string{"w"}}})
	h := r.withAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	for _, s := range []string{"Basic cjpwdy1y", "Basic dzpwdy13", "Basic cjp3cm9uZw==", "Basic ", "Bearer x", "basic Ojo=", "Basic !!!"} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	f.Fuzz(func(t *testing.T, method, authz string) {
		req, err := http.NewRequest(method, "http://x/subjects/s/versions", nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		user, pass, ok := req.BasicAuth()
		valid := ok && (user == "r" || user == "w") && pass == "pw-"+user
		// NewRequest turns an empty method into GET: judge what was sent.
		read := req.Method == "GET" || req.Method == "HEAD"
		switch {
		case !valid:
			if w.Code != 401 || !strings.Contains(w.Body.String(), `"error_code":401`) || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("%s %q: %d %s, want 401", method, authz, w.Code, w.Body)
			}
		case user == "r" && !read:
			if w.Code != 403 || !strings.Contains(w.Body.String(), `"error_code":40301`) {
				t.Fatalf("%s %q: %d %s, want 403", method, authz, w.Code, w.Body)
			}
		default:
			if w.Code != 299 {
				t.Fatalf("%s %q: %d %s, want the handler", method, authz, w.Code, w.Body)
			}
		}
	})
}
