// Command srload is a load generator for Confluent-compatible schema
// registries: it registers -schemas distinct Avro schemas, then runs each
// scenario for -duration with -c concurrent keep-alive connections and
// prints one JSON line per scenario (requests/s, p50/p99/p999 latency,
// errors).
//
// -type JSON or PROTOBUF uses equivalent JSON Schema or .proto schemas
// instead (the same fields), under their own subjects.
//
// Scenarios: get-by-id (GET /schemas/ids/{id}), lookup (POST
// /subjects/{s}: is this schema registered?), register-existing (POST
// /subjects/{s}/versions with a schema already there: what a serializer
// with a cold cache sends), register-new (a new schema under a new subject each
// time: every request is a durable write).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickertape/tickertape/bench/internal/latency"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8081", "registry URL")
	conc := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("duration", 5*time.Second, "duration of each scenario")
	n := flag.Int("schemas", 100, "distinct schemas to register first")
	only := flag.String("scenarios", "get-by-id,lookup,register-existing,register-new", "comma-separated scenarios")
	typ := flag.String("type", "AVRO", "schema type: AVRO, JSON or PROTOBUF (equivalent schemas of each)")
	flag.Parse()
	prefix := "bench-"
	if *typ != "AVRO" {
		prefix = "bench-" + strings.ToLower(*typ) + "-"
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conc * 2, MaxConnsPerHost: *conc * 2}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	schema := func(i, fields int) string {
		var fs []string
		for f := 0; f < fields; f++ {
			def := ""
			if f > 0 {
				def = `,"default":""`
			}
			fs = append(fs, fmt.Sprintf(`{"name":"f%d","type":"string"%s}`, f, def))
		}
		switch *typ {
		case "JSON":
			var ps []string
			for f := 0; f < fields; f++ {
				ps = append(ps, fmt.Sprintf(`"f%d":{"type":"string"}`, f))
			}
			return fmt.Sprintf(`{"$schema":"http://json-schema.org/draft-07/schema#","title":"R%d","type":"object","properties":{%s},"required":["f0"],"additionalProperties":false}`, i, strings.Join(ps, ","))
		case "PROTOBUF":
			var ps []string
			for f := 0; f < fields; f++ {
				ps = append(ps, fmt.Sprintf("string f%d = %d;", f, f+1))
			}
			return fmt.Sprintf("syntax = \"proto3\";\npackage bench;\nmessage R%d { %s }\n", i, strings.Join(ps, " "))
		}
		return fmt.Sprintf(`{"type":"record","name":"R%d","namespace":"bench","fields":[%s]}`, i, strings.Join(fs, ","))
	}
	body := func(s string) []byte {
		m := map[string]string{"schema": s}
		if *typ != "AVRO" {
			m["schemaType"] = *typ
		}
		b, _ := json.Marshal(m)
		return b
	}
	ids := make([]int, *n)
	for i := range ids {
		resp, err := cl.Post(fmt.Sprintf("%s/subjects/%s%d-value/versions", *url, prefix, i), "application/vnd.schemaregistry.v1+json", bytes.NewReader(body(schema(i, 1))))
		if err != nil {
			fmt.Fprintln(os.Stderr, "srload: registering:", err)
			os.Exit(1)
		}
		var r struct{ ID int }
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "srload: registering: status", resp.StatusCode)
			os.Exit(1)
		}
		ids[i] = r.ID
	}
	var newVersion atomic.Int64
	newVersion.Store(1)
	scenarios := map[string]func(w, i int) (*http.Request, error){
		"get-by-id": func(w, i int) (*http.Request, error) {
			return http.NewRequest("GET", fmt.Sprintf("%s/schemas/ids/%d", *url, ids[i%len(ids)]), nil)
		},
		"lookup": func(w, i int) (*http.Request, error) {
			k := i % len(ids)
			return http.NewRequest("POST", fmt.Sprintf("%s/subjects/%s%d-value", *url, prefix, k), bytes.NewReader(body(schema(k, 1))))
		},
		"register-existing": func(w, i int) (*http.Request, error) {
			k := i % len(ids)
			return http.NewRequest("POST", fmt.Sprintf("%s/subjects/%s%d-value/versions", *url, prefix, k), bytes.NewReader(body(schema(k, 1))))
		},
		"register-new": func(w, i int) (*http.Request, error) {
			// A new schema in a new subject each time.
			k := int(newVersion.Add(1))
			return http.NewRequest("POST", fmt.Sprintf("%s/subjects/%snew-%d-value/versions", *url, prefix, k), bytes.NewReader(body(schema(1000000+k, 2))))
		},
	}
	for _, name := range strings.Split(*only, ",") {
		mk, ok := scenarios[name]
		if !ok {
			fmt.Fprintln(os.Stderr, "srload: unknown scenario", name)
			os.Exit(2)
		}
		var mu sync.Mutex
		var lat []time.Duration
		var errs atomic.Int64
		stop := time.Now().Add(*dur)
		var wg sync.WaitGroup
		for w := 0; w < *conc; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for i := w; time.Now().Before(stop); i += *conc {
					req, _ := mk(w, i)
					req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
					t0 := time.Now()
					resp, err := cl.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							err = fmt.Errorf("status %d", resp.StatusCode)
						}
					}
					if err != nil {
						errs.Add(1)
						continue
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		pct := latency.Percentiles(lat)
		out, _ := json.Marshal(map[string]any{
			"scenario": name, "requests": len(lat), "errors": errs.Load(),
			"rps": float64(len(lat)) / dur.Seconds(), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "p999_ms": pct(0.999),
		})
		fmt.Println(string(out))
	}
}
