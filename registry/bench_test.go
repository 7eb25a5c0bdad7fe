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
