package registry

// The Confluent Schema Registry REST API. Reads are answered from the local
// state on every instance; writes run on the elected leader, and any other
// instance forwards them there (forward.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

const contentType = "application/vnd.schemaregistry.v1+json"

func (r *Registry) routes() http.Handler {
	mux := http.NewServeMux()
	read := func(pattern string, h func(*http.Request) (any, *Error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
			v, e := h(req)
			r.respond(w, req, v, e)
		})
	}
	write := func(pattern string, h func(context.Context, *http.Request) (any, *Error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
			if r.forward(w, req) {
				return
			}
			ctx, cancel := context.WithTimeout(req.Context(), r.cfg.WriteTimeout)
			defer cancel()
			v, e := h(ctx, req)
			r.respond(w, req, v, e)
		})
	}
	read("GET /{$}", func(*http.Request) (any, *Error) { return struct{}{}, nil })
	read("GET /v1/metadata/id", r.metadataID)
	read("GET /subjects", r.listSubjects)
	read("GET /subjects/{subject}/versions", r.listVersions)
	read("GET /subjects/{subject}/versions/{version}", r.getVersion)
	read("GET /subjects/{subject}/versions/{version}/schema", r.getVersionSchema)
	read("GET /subjects/{subject}/versions/{version}/referencedby", r.getReferencedBy)
	read("POST /subjects/{subject}", r.lookup)
	read("GET /schemas", r.listSchemas)
	read("GET /schemas/types", func(*http.Request) (any, *Error) { return schemaTypes, nil })
	read("GET /schemas/ids/{id}", r.getSchemaByID)
	read("GET /schemas/ids/{id}/schema", r.getSchemaByIDRaw)
	read("GET /schemas/ids/{id}/versions", r.getSchemaVersions)
	read("GET /schemas/ids/{id}/subjects", r.getSchemaSubjects)
	read("POST /compatibility/subjects/{subject}/versions", r.compatibility)
	read("POST /compatibility/subjects/{subject}/versions/{version}", r.compatibility)
	read("GET /config", r.getGlobalConfig)
	read("GET /config/{subject}", r.getSubjectConfig)
	read("GET /mode", r.getGlobalMode)
	read("GET /mode/{subject}", r.getSubjectMode)

	write("POST /subjects/{subject}/versions", r.postVersion)
	write("DELETE /subjects/{subject}/versions/{version}", r.deleteVersionHandler)
	write("DELETE /subjects/{subject}", r.deleteSubjectHandler)
	write("PUT /config", r.putConfig)
	write("PUT /config/{subject}", r.putConfig)
	write("DELETE /config", r.deleteConfig)
	write("DELETE /config/{subject}", r.deleteConfig)
	write("PUT /mode", r.putMode)
	write("PUT /mode/{subject}", r.putMode)
	write("DELETE /mode/{subject}", r.deleteMode)

	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body != nil {
			req.Body = http.MaxBytesReader(w, req.Body, r.cfg.MaxBodyBytes)
		}
		if _, pattern := mux.Handler(req); pattern == "" {
			r.respond(w, req, nil, &Error{Code: http.StatusNotFound, Message: "HTTP 404 Not Found"})
			return
		}
		if e := negotiate(req); e != nil {
			r.respond(w, req, nil, e)
			return
		}
		mux.ServeHTTP(w, req)
	})
}

// respond writes v as JSON, or the error in Confluent's format. A string v
// that is a raw schema (the /schema endpoints) is written as is.
func (r *Registry) respond(w http.ResponseWriter, req *http.Request, v any, e *Error) {
	ct, ok := responseType(req)
	if !ok {
		ct = contentType
	}
	w.Header().Set("Content-Type", ct)
	if e != nil {
		w.WriteHeader(e.Status())
		w.Write(marshal(e))
		return
	}
	if raw, ok := v.(rawJSON); ok {
		w.Write([]byte(raw))
		return
	}
	w.Write(marshal(v))
}

// rawJSON is written without re-encoding.
type rawJSON string

// decodeBody reads a JSON request body into v.
func decodeBody(req *http.Request, v any) *Error {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Code: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("The request body is larger than %d bytes", mbe.Limit)}
		}
		return &Error{Code: http.StatusBadRequest, Message: "Cannot read the request body: " + err.Error()}
	}
	if len(body) == 0 {
		return &Error{Code: http.StatusBadRequest, Message: "The request body is empty; a JSON object was expected"}
	}
	// JSON decoding would turn invalid UTF-8 and lone surrogate escapes into
	// U+FFFD without a word; refuse them instead, wherever they are.
	if !utf8.Valid(body) {
		return &Error{Code: http.StatusBadRequest, Message: "The request body is not valid UTF-8"}
	}
	if err := checkEscapes(string(body)); err != nil {
		return &Error{Code: http.StatusBadRequest, Message: "The request body is not valid Unicode: " + strings.TrimPrefix(err.Error(), "the schema has ")}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Error{Code: http.StatusUnprocessableEntity, Message: fmt.Sprintf("Unrecognized field value: %s must be %s", te.Field, te.Type)}
		}
		return &Error{Code: http.StatusBadRequest, Message: "Unexpected JSON in the request body: " + err.Error()}
	}
	return nil
}

// parseVersion parses a version path parameter: "latest" or -1 (→ -1), or
// 1..2^31-1.
func parseVersion(s string) (int, *Error) {
	if s == "latest" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 || n < -1 || n > math.MaxInt32 {
		return 0, errInvalidVersion(s)
	}
	return int(n), nil
}

func boolParam(req *http.Request, name string) bool {
	v, _ := strconv.ParseBool(req.URL.Query().Get(name))
	return v
}

// versionView is a subject version as the API shows it.
type versionView struct {
	Subject    string          `json:"subject"`
	Version    int             `json:"version"`
	ID         int             `json:"id"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []Reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

func (st *state) view(subject string, sv *subjectVersion) versionView {
	v := versionView{Subject: subject, Version: sv.Version, ID: sv.ID}
	if e := st.schemas[sv.ID]; e != nil {
		v.Schema, v.References, v.Metadata, v.RuleSet = e.Schema, e.References, e.Metadata, e.RuleSet
		if e.Type != "AVRO" {
			v.SchemaType = e.Type
		}
	}
	return v
}

func (r *Registry) metadataID(*http.Request) (any, *Error) {
	type scope struct {
		Path     []string          `json:"path"`
		Clusters map[string]string `json:"clusters"`
	}
	cluster := ""
	if r.adm != nil {
		if md, err := r.adm.BrokerMetadata(context.Background()); err == nil {
			cluster = md.Cluster
		}
	}
	return map[string]any{"scope": scope{Path: []string{}, Clusters: map[string]string{"kafka-cluster": cluster, "schema-registry-cluster": r.cfg.GroupID}}}, nil
}

func (r *Registry) listSubjects(req *http.Request) (any, *Error) {
	q := req.URL.Query()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.st.subjectNames(q.Get("subjectPrefix"), boolParam(req, "deleted"), boolParam(req, "deletedOnly")), nil
}

// subjectVersion finds a subject's version from path parameters; deleted
// versions only when asked. r.mu must be held.
func (r *Registry) subjectVersion(subject, version string, deleted bool) (*subjectVersion, *Error) {
	v, e := parseVersion(version)
	if e != nil {
		return nil, e
	}
	s := r.st.subjects[subject]
	if s == nil || len(s.versions) == 0 || (!deleted && !s.live()) {
		return nil, errSubjectNotFound(subject)
	}
	var sv *subjectVersion
	if v == -1 {
		sv = s.latest(deleted)
	} else if sv = s.find(v); sv != nil && sv.Deleted && !deleted {
		sv = nil
	}
	if sv == nil {
		return nil, errVersionNotFound(v)
	}
	return sv, nil
}

func (r *Registry) listVersions(req *http.Request) (any, *Error) {
	subject := req.PathValue("subject")
	deleted, deletedOnly := boolParam(req, "deleted"), boolParam(req, "deletedOnly")
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.st.subjects[subject]
	if s == nil || len(s.versions) == 0 || (!deleted && !deletedOnly && !s.live()) {
		return nil, errSubjectNotFound(subject)
	}
	out := []int{}
	for _, sv := range s.versions {
		if (deletedOnly && sv.Deleted) || (!deletedOnly && (deleted || !sv.Deleted)) {
			out = append(out, sv.Version)
		}
	}
	return out, nil
}

func (r *Registry) getVersion(req *http.Request) (any, *Error) {
	subject := req.PathValue("subject")
	r.mu.RLock()
	defer r.mu.RUnlock()
	sv, e := r.subjectVersion(subject, req.PathValue("version"), boolParam(req, "deleted"))
	if e != nil {
		return nil, e
	}
	v := r.st.view(subject, sv)
	if f := req.URL.Query().Get("format"); f != "" {
		if e := r.st.schemas[sv.ID]; e != nil {
			v.Schema = e.formatted(f)
		}
	}
	return v, nil
}

func (r *Registry) getVersionSchema(req *http.Request) (any, *Error) {
	subject := req.PathValue("subject")
	r.mu.RLock()
	defer r.mu.RUnlock()
	sv, e := r.subjectVersion(subject, req.PathValue("version"), boolParam(req, "deleted"))
	if e != nil {
		return nil, e
	}
	return rawJSON(r.st.view(subject, sv).Schema), nil
}

func (r *Registry) getReferencedBy(req *http.Request) (any, *Error) {
	subject := req.PathValue("subject")
	r.mu.RLock()
	defer r.mu.RUnlock()
	sv, e := r.subjectVersion(subject, req.PathValue("version"), true)
	if e != nil {
		return nil, e
	}
	ids := r.st.referencedBy(subject, sv.Version)
	if ids == nil {
		ids = []int{}
	}
	return ids, nil
}

// lookup answers POST /subjects/{subject}: is this schema registered here?
func (r *Registry) lookup(req *http.Request) (any, *Error) {
	subject := req.PathValue("subject")
	var body RegisterRequest
	if e := decodeBody(req, &body); e != nil {
		return nil, e
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.st.subjects[subject]
	deleted := boolParam(req, "deleted")
	if s == nil || len(s.versions) == 0 || (!deleted && !s.live()) {
		return nil, errSubjectNotFound(subject)
	}
	p, e := r.prepare(body, boolParam(req, "normalize"))
	if e != nil {
		return nil, e
	}
	for i := len(s.versions) - 1; i >= 0; i-- {
		sv := s.versions[i]
		if se := r.st.schemas[sv.ID]; se != nil && se.identity == p.identity && (deleted || !sv.Deleted) {
			return r.st.view(subject, sv), nil
		}
	}
	return nil, errSchemaNotFound()
}

func (r *Registry) listSchemas(req *http.Request) (any, *Error) {
	q := req.URL.Query()
	prefix, deleted, latestOnly := q.Get("subjectPrefix"), boolParam(req, "deleted"), boolParam(req, "latestOnly")
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := []versionView{}
	for _, name := range r.st.subjectNames(prefix, true, false) {
		s := r.st.subjects[name]
		for i := len(s.versions) - 1; i >= 0; i-- {
			sv := s.versions[i]
			if sv.Deleted && !deleted {
				continue
			}
			out = append(out, r.st.view(name, sv))
			if latestOnly {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// schemaByID finds a schema by its id path parameter. r.mu must be held.
func (r *Registry) schemaByID(req *http.Request) (*schemaEntry, *Error) {
	id, err := strconv.Atoi(req.PathValue("id"))
	if err != nil {
		return nil, &Error{Code: http.StatusNotFound, Message: "HTTP 404 Not Found"}
	}
	e := r.st.schemas[id]
	if e == nil {
		return nil, errf(CodeSchemaNotFound, "Schema %d not found", id)
	}
	// ?subject= names the schema context to look in (Confluent's contexts);
	// there is one context here, and ids are global, so it does not filter:
	// deserializers send their TopicNameStrategy subject even for records
	// registered under another strategy.
	return e, nil
}

func (r *Registry) getSchemaByID(req *http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.schemaByID(req)
	if err != nil {
		return nil, err
	}
	v := struct {
		SchemaType string          `json:"schemaType,omitempty"`
		Schema     string          `json:"schema"`
		References []Reference     `json:"references,omitempty"`
		Metadata   json.RawMessage `json:"metadata,omitempty"`
		RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
		MaxID      *int            `json:"maxId,omitempty"`
	}{Schema: e.formatted(req.URL.Query().Get("format")), References: e.References, Metadata: e.Metadata, RuleSet: e.RuleSet}
	if e.Type != "AVRO" {
		v.SchemaType = e.Type
	}
	if boolParam(req, "fetchMaxId") {
		m := r.st.maxID
		v.MaxID = &m
	}
	return v, nil
}

func (r *Registry) getSchemaByIDRaw(req *http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.schemaByID(req)
	if err != nil {
		return nil, err
	}
	return rawJSON(e.Schema), nil
}

type subjectVersionRef struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// usesOf lists the subject versions that registered a schema id.
func (st *state) usesOf(id int, deleted bool) []subjectVersionRef {
	out := []subjectVersionRef{}
	for name, s := range st.subjects {
		for _, sv := range s.versions {
			if sv.ID == id && (deleted || !sv.Deleted) {
				out = append(out, subjectVersionRef{name, sv.Version})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Version < out[j].Version
	})
	return out
}

func (r *Registry) getSchemaVersions(req *http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.schemaByID(req)
	if err != nil {
		return nil, err
	}
	return r.st.usesOf(e.ID, boolParam(req, "deleted")), nil
}

func (r *Registry) getSchemaSubjects(req *http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.schemaByID(req)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, u := range r.st.usesOf(e.ID, boolParam(req, "deleted")) {
		if len(out) == 0 || out[len(out)-1] != u.Subject {
			out = append(out, u.Subject)
		}
	}
	return out, nil
}

func verboseEmpty(req *http.Request) any {
	if boolParam(req, "verbose") {
		return []string{}
	}
	return nil
}

type compatResponse struct {
	IsCompatible bool `json:"is_compatible"`
	Messages     any  `json:"messages,omitempty"` // []string, present (maybe empty) with ?verbose=true
}

// compatibility answers POST /compatibility/subjects/{subject}/versions[/{version}].
func (r *Registry) compatibility(req *http.Request) (any, *Error) {
	subject, version := req.PathValue("subject"), req.PathValue("version")
	var body RegisterRequest
	if e := decodeBody(req, &body); e != nil {
		return nil, e
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, e := r.prepare(body, boolParam(req, "normalize"))
	if e != nil {
		return nil, e
	}
	level := r.st.compatFor(subject)
	var against *subjectVersion
	if version != "" {
		// As Confluent: a version that does not exist (never registered,
		// soft- or hard-deleted, or a subject without versions) is 40402;
		// "latest" of a subject without live versions leaves nothing to be
		// incompatible with.
		v, e := parseVersion(version)
		if e != nil {
			return nil, e
		}
		s := r.st.subjects[subject]
		if s != nil {
			if v == -1 {
				against = s.latest(false)
			} else if sv := s.find(v); sv != nil && !sv.Deleted {
				against = sv
			}
		}
		if against == nil && v != -1 {
			return nil, errVersionNotFound(v)
		}
		if against == nil {
			return compatResponse{IsCompatible: true, Messages: verboseEmpty(req)}, nil
		}
	}
	msgs := r.checkCompat(subject, p.entry, level, against)
	resp := compatResponse{IsCompatible: len(msgs) == 0}
	if boolParam(req, "verbose") {
		if msgs == nil {
			msgs = []string{}
		}
		resp.Messages = msgs
	}
	return resp, nil
}

func (r *Registry) getGlobalConfig(*http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return configValue{CompatibilityLevel: r.st.globalCompat()}, nil
}

func (r *Registry) getSubjectConfig(req *http.Request) (any, *Error) {
	return r.subjectSetting(req, "compatibility", CodeSubjectCompatNotConfigured,
		func(s *subjectState) string { return s.compat }, r.st.globalCompat,
		func(v string) any { return configValue{CompatibilityLevel: v} })
}

func (r *Registry) getGlobalMode(*http.Request) (any, *Error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return modeValue{Mode: r.st.globalMode()}, nil
}

func (r *Registry) getSubjectMode(req *http.Request) (any, *Error) {
	return r.subjectSetting(req, "mode", CodeSubjectModeNotConfigured,
		func(s *subjectState) string { return s.mode }, r.st.globalMode,
		func(v string) any { return modeValue{Mode: v} })
}

// subjectSetting answers GET /config/{subject} and GET /mode/{subject}: the
// subject's own setting; with defaultToGlobal, the global one when the
// subject has none; else the "not configured" error.
func (r *Registry) subjectSetting(req *http.Request, what string, notSet int, own func(*subjectState) string, global func() string, answer func(string) any) (any, *Error) {
	subject := req.PathValue("subject")
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s := r.st.subjects[subject]; s != nil && own(s) != "" {
		return answer(own(s)), nil
	}
	if boolParam(req, "defaultToGlobal") {
		return answer(global()), nil
	}
	return nil, errf(notSet, "Subject '%s' does not have subject-level %s configured", subject, what)
}

func (r *Registry) postVersion(ctx context.Context, req *http.Request) (any, *Error) {
	var body RegisterRequest
	if e := decodeBody(req, &body); e != nil {
		return nil, e
	}
	id, e := r.register(ctx, req.PathValue("subject"), body, boolParam(req, "normalize"))
	if e != nil {
		return nil, e
	}
	return map[string]int{"id": id}, nil
}

func (r *Registry) deleteVersionHandler(ctx context.Context, req *http.Request) (any, *Error) {
	return r.deleteVersion(ctx, req.PathValue("subject"), req.PathValue("version"), boolParam(req, "permanent"))
}

func (r *Registry) deleteSubjectHandler(ctx context.Context, req *http.Request) (any, *Error) {
	return r.deleteSubject(ctx, req.PathValue("subject"), boolParam(req, "permanent"))
}

func (r *Registry) putConfig(ctx context.Context, req *http.Request) (any, *Error) {
	var body struct {
		Compatibility string `json:"compatibility"`
	}
	if e := decodeBody(req, &body); e != nil {
		return nil, e
	}
	if _, e := r.setConfig(ctx, req.PathValue("subject"), body.Compatibility, false); e != nil {
		return nil, e
	}
	l, _ := validLevel(body.Compatibility)
	return map[string]string{"compatibility": l}, nil
}

func (r *Registry) deleteConfig(ctx context.Context, req *http.Request) (any, *Error) {
	prev, e := r.setConfig(ctx, req.PathValue("subject"), "", true)
	if e != nil {
		return nil, e
	}
	return configValue{CompatibilityLevel: prev}, nil
}

func (r *Registry) putMode(ctx context.Context, req *http.Request) (any, *Error) {
	var body modeValue
	if e := decodeBody(req, &body); e != nil {
		return nil, e
	}
	if _, e := r.setMode(ctx, req.PathValue("subject"), body.Mode, false, boolParam(req, "force")); e != nil {
		return nil, e
	}
	m, _ := validMode(body.Mode)
	return modeValue{Mode: m}, nil
}

func (r *Registry) deleteMode(ctx context.Context, req *http.Request) (any, *Error) {
	prev, e := r.setMode(ctx, req.PathValue("subject"), "", true, false)
	if e != nil {
		return nil, e
	}
	return modeValue{Mode: prev}, nil
}
