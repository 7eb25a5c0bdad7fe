package registry

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchRegistry is a registry whose state holds n schemas, with no Kafka
// behind it: the read paths alone.
func benchRegistry(b *testing.B, n int) (*Registry, []string) {
	r, err := New(Config{Brokers: []string{"unused:9092"}})
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	for i := 1; i <= n; i++ {
		text := fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"bench","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","string"],"default":null}]}`, i)
		texts = append(texts, text)
		r.st.apply(int64(i), schemaKey(fmt.Sprintf("s%d", i), 1), marshal(schemaValue{Subject: fmt.Sprintf("s%d", i), Version: 1, ID: i, Schema: text}))
	}
	return r, texts
}

func BenchmarkGetSchemaByID(b *testing.B) {
	r, _ := benchRegistry(b, 100)
	h := r.Handler()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("GET", fmt.Sprintf("/schemas/ids/%d", i%100+1), nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	r, texts := benchRegistry(b, 100)
	h := r.Handler()
	bodies := make([]string, len(texts))
	for i, t := range texts {
		bodies[i] = string(marshal(map[string]string{"schema": t}))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest("POST", fmt.Sprintf("/subjects/s%d", i%100+1), strings.NewReader(bodies[i%100]))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body)
		}
	}
}

// formatSchema is the i-th of 100 equivalent schemas of each type (a record
// of a long and an optional string), and a compatible next version of it.
func formatSchema(typ string, i int, next bool) string {
	switch typ {
	case typeJSON:
		extra := ""
		if next {
			extra = `,"c":{"type":"integer"}`
		}
		return fmt.Sprintf(`{"$schema":"http://json-schema.org/draft-07/schema#","title":"R%d","type":"object","properties":{"a":{"type":"integer"},"b":{"type":["null","string"]}%s},"required":["a"],"additionalProperties":false}`, i, extra)
	case typeProtobuf:
		extra := ""
		if next {
			extra = " int64 c = 3;"
		}
		return fmt.Sprintf("syntax = \"proto3\";\npackage bench;\nmessage R%d { int64 a = 1; optional string b = 2;%s }\n", i, extra)
	}
	extra := ""
	if next {
		extra = `,{"name":"c","type":"long","default":0}`
	}
	return fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"bench","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","string"],"default":null}%s]}`, i, extra)
}

// BenchmarkFormats serves the read paths a serializer uses (GET
// /schemas/ids/{id}, the lookup POST /subjects/{s}) and a compatibility
// check, for each schema type over 100 schemas, through the HTTP handler
// (no network, no Kafka): the cost of parsing, identity and checking per
// type, side by side.
func BenchmarkFormats(b *testing.B) {
	for _, typ := range []string{typeAvro, typeJSON, typeProtobuf} {
		r, err := New(Config{Brokers: []string{"unused:9092"}})
		if err != nil {
			b.Fatal(err)
		}
		st := ""
		if typ != typeAvro {
			st = typ
		}
		var lookups, checks []string
		for i := 1; i <= 100; i++ {
			r.st.apply(int64(i), schemaKey(fmt.Sprintf("s%d", i), 1), marshal(schemaValue{Subject: fmt.Sprintf("s%d", i), Version: 1, ID: i, SchemaType: st, Schema: formatSchema(typ, i, false)}))
			lookups = append(lookups, string(marshal(map[string]string{"schema": formatSchema(typ, i, false), "schemaType": typ})))
			checks = append(checks, string(marshal(map[string]string{"schema": formatSchema(typ, i, true), "schemaType": typ})))
		}
		if r.st.skipped > 0 {
			b.Fatal(r.st.lastSkip)
		}
		h := r.Handler()
		serve := func(b *testing.B, method string, path func(int) string, body func(int) string) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				var rd *strings.Reader
				if body != nil {
					rd = strings.NewReader(body(i % 100))
				} else {
					rd = strings.NewReader("")
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest(method, path(i%100+1), rd))
				if w.Code != http.StatusOK || strings.Contains(w.Body.String(), `"is_compatible":false`) {
					b.Fatal(w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		}
		b.Run(typ+"/by-id", func(b *testing.B) {
			serve(b, "GET", func(i int) string { return fmt.Sprintf("/schemas/ids/%d", i) }, nil)
		})
		b.Run(typ+"/lookup", func(b *testing.B) {
			serve(b, "POST", func(i int) string { return fmt.Sprintf("/subjects/s%d", i) }, func(i int) string { return lookups[i] })
		})
		// Every check parses a new text: the prepare cache holds 4096
		// entries, so after the first round these are cache hits too, as
		// they are for a serializer that asks repeatedly.
		b.Run(typ+"/compatibility", func(b *testing.B) {
			serve(b, "POST", func(i int) string { return fmt.Sprintf("/compatibility/subjects/s%d/versions/latest", i) }, func(i int) string { return checks[i] })
		})
		b.Run(typ+"/parse", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := compile(typ, formatSchema(typ, i%100+1, true), nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "parses/s")
		})
	}
}
