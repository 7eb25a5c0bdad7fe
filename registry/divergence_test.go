package registry_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf16"
)

// The answers that differed from Confluent's on Avro (issue 21).

func TestCompatibilityVersionNotFound(t *testing.T) {
	ts := startStack(t)
	ts.register("s", regBody{"schema": tradeV1})
	ts.register("s", regBody{"schema": tradeV2})
	ts.register("s", regBody{"schema": strings.Replace(tradeV2, `"default":"buy"}`, `"default":"buy"},{"name":"n","type":"long","default":0}`, 1)})
	if st := ts.call("DELETE", "/subjects/s/versions/2", nil, nil); st != 200 {
		t.Fatal(st)
	}
	ts.call("DELETE", "/subjects/s/versions/3", nil, nil)
	if st := ts.call("DELETE", "/subjects/s/versions/3?permanent=true", nil, nil); st != 200 {
		t.Fatal(st)
	}
	body := regBody{"schema": tradeV2}
	for _, v := range []string{"9", "2", "3"} { // never existed, soft-deleted, hard-deleted
		if e := ts.wantError("POST", "/compatibility/subjects/s/versions/"+v, body, 404, 40402); e.Message != "Version "+v+" not found." {
			t.Fatalf("version %s: message %q", v, e.Message)
		}
	}
	ts.wantError("POST", "/compatibility/subjects/nope/versions/1", body, 404, 40402)
	var c compatAnswer
	if st := ts.call("POST", "/compatibility/subjects/nope/versions/latest?verbose=true", body, &c); st != 200 || !c.IsCompatible || c.Messages == nil {
		t.Fatalf("latest of a missing subject: %d %+v", st, c)
	}
	if st := ts.call("POST", "/compatibility/subjects/s/versions/1", body, &c); st != 200 || !c.IsCompatible {
		t.Fatalf("version 1: %d %+v", st, c)
	}
}

func TestPrimitiveWithName(t *testing.T) {
	ts := startStack(t)
	id := ts.register("p", regBody{"schema": `"int"`})
	for _, s := range []string{`{"type":"int","name":"x"}`, `{"type":"int","name":"y","namespace":"n","doc":"d"}`} {
		if again := ts.register("p", regBody{"schema": s}); again != id {
			t.Fatalf("%s: id %d, want %d", s, again, id)
		}
		var found struct{ ID int }
		if st := ts.call("POST", "/subjects/p", regBody{"schema": s}, &found); st != 200 || found.ID != id {
			t.Fatalf("lookup %s: %d %+v", s, st, found)
		}
	}
	// Inside a record too; a logical type still makes another schema.
	rid := ts.register("r", regBody{"schema": `{"type":"record","name":"R","fields":[{"name":"a","type":"long"}]}`})
	if again := ts.register("r", regBody{"schema": `{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"long","name":"ignored"}}]}`}); again != rid {
		t.Fatalf("nested primitive with a name: id %d, want %d", again, rid)
	}
	if other := ts.register("t", regBody{"schema": `{"type":"long","logicalType":"timestamp-millis","name":"x"}`}); other == id || other == rid {
		t.Fatal("a logical type was taken for a plain primitive")
	}
}

// raw does one request with the given headers and returns status, content
// type and body.
func raw(t *testing.T, method, url string, body []byte, headers map[string]string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestContentNegotiation(t *testing.T) {
	ts := startStack(t)
	base := ts.s.RegistryURL()
	for _, c := range []struct {
		accept, want string
		status       int
	}{
		{"", "application/vnd.schemaregistry.v1+json", 200},
		{"*/*", "application/vnd.schemaregistry.v1+json", 200},
		{"application/json", "application/json", 200},
		{"application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json", 200},
		{"application/vnd.schemaregistry.v1+json, application/json;q=0.9", "application/vnd.schemaregistry.v1+json", 200},
		{"application/vnd.schemaregistry.v1+json;q=0.2, application/json;q=0.9", "application/json", 200},
		{"application/*;q=0.5, application/vnd.schemaregistry+json", "application/vnd.schemaregistry+json", 200},
		{"text/html, application/json;q=0.1", "application/json", 200},
		{"application/vnd.schemaregistry.v2+json", "", 406},
		{"text/*", "", 406},
		{"application/octet-stream", "", 406},
		{"application/json;q=0", "", 406},
	} {
		st, ct, body := raw(t, "GET", base+"/subjects", nil, map[string]string{"Accept": c.accept})
		if st != c.status || (c.want != "" && ct != c.want) {
			t.Errorf("Accept %q: %d %q %s, want %d %q", c.accept, st, ct, body, c.status, c.want)
		}
		if st == 406 && !strings.Contains(body, `"error_code":406`) {
			t.Errorf("Accept %q: body %s", c.accept, body)
		}
	}
	reg := []byte(`{"schema":"\"string\""}`)
	st, _, body := raw(t, "POST", base+"/subjects/html/versions", reg, map[string]string{"Content-Type": "text/html"})
	if st != 415 || !strings.Contains(body, `"error_code":415`) {
		t.Fatalf("text/html body: %d %s", st, body)
	}
	var subs []string
	if ts.call("GET", "/subjects", nil, &subs); len(subs) != 0 {
		t.Fatalf("a 415 stored %v", subs)
	}
	for _, ct := range []string{"application/json", "application/octet-stream", "application/vnd.schemaregistry+json; charset=utf-8"} {
		if st, _, body := raw(t, "POST", base+"/subjects/ok/versions", reg, map[string]string{"Content-Type": ct}); st != 200 {
			t.Fatalf("%s: %d %s", ct, st, body)
		}
	}
	// UTF-16, with a byte-order mark and without (big endian).
	text := `{"schema":"{\"type\":\"record\",\"name\":\"Prix\",\"doc\":\"café\",\"fields\":[]}"}`
	for _, bom := range []bool{true, false} {
		var b []byte
		if bom {
			b = append(b, 0xFF, 0xFE)
		}
		for _, u := range utf16.Encode([]rune(text)) {
			if bom {
				b = append(b, byte(u), byte(u>>8))
			} else {
				b = append(b, byte(u>>8), byte(u))
			}
		}
		st, _, body := raw(t, "POST", base+"/subjects/utf16/versions", b, map[string]string{"Content-Type": "application/vnd.schemaregistry.v1+json; charset=utf-16"})
		if st != 200 {
			t.Fatalf("utf-16 (bom %v): %d %s", bom, st, body)
		}
	}
	var v struct{ Schema string }
	ts.call("GET", "/subjects/utf16/versions/1", nil, &v)
	if !strings.Contains(v.Schema, "café") {
		t.Fatalf("utf-16 body decoded as %q", v.Schema)
	}
}

func TestConfluentMessages(t *testing.T) {
	ts := startStack(t)
	ts.register("m", regBody{"schema": tradeV1})
	e := ts.wantError("DELETE", "/subjects/m/versions/1?permanent=true", nil, 404, 40407)
	if e.Message != "Subject 'm' Version 1 was not deleted first before being permanently deleted" {
		t.Fatalf("40407 %q", e.Message)
	}
	ts.call("DELETE", "/subjects/m/versions/1", nil, nil)
	if e := ts.wantError("DELETE", "/subjects/m/versions/1", nil, 404, 40406); e.Message != "Subject 'm' Version 1 was soft deleted.Set permanent=true to delete permanently" {
		t.Fatalf("40406 %q", e.Message)
	}
	ts.register("n", regBody{"schema": tradeV1})
	ts.call("DELETE", "/subjects/n", nil, nil)
	if e := ts.wantError("DELETE", "/subjects/n", nil, 404, 40404); e.Message != "Subject 'n' was soft deleted.Set permanent=true to delete permanently" {
		t.Fatalf("40404 %q", e.Message)
	}
	for _, p := range []string{"/schemas/ids/invalid", "/schemas/ids/invalid/schema", "/no/such/endpoint"} {
		if e := ts.wantError("GET", p, nil, 404, 404); e.Message != "HTTP 404 Not Found" {
			t.Fatalf("%s: %q", p, e.Message)
		}
	}
	if e := ts.wantError("GET", "/schemas/ids/999", nil, 404, 40403); e.Message != "Schema 999 not found" {
		t.Fatalf("40403 %q", e.Message)
	}
	var raw json.RawMessage
	_ = raw
}
