package registry

// The write operations. Each runs on the leader with writeMu held: it reads
// the topic to its end (so the checks see every earlier write, whoever made
// it), checks the request against the state, writes records and waits until
// they are applied.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Compatibility levels and modes.
var (
	compatLevels = []string{"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}
	modes        = []string{"READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT"}
)

func validLevel(s string) (string, bool) {
	u := strings.ToUpper(s)
	for _, l := range compatLevels {
		if l == u {
			return u, true
		}
	}
	return "", false
}

func validMode(s string) (string, bool) {
	u := strings.ToUpper(s)
	for _, m := range modes {
		if m == u {
			return u, true
		}
	}
	return "", false
}

// RegisterRequest is the body of POST /subjects/{subject}/versions (and of a
// lookup, POST /subjects/{subject}).
type RegisterRequest struct {
	Schema     string      `json:"schema"`
	SchemaType string      `json:"schemaType,omitempty"`
	References []Reference `json:"references,omitempty"`
	// Metadata and RuleSet are stored and returned as given (Confluent's
	// data contracts); rules are not executed.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	RuleSet  json.RawMessage `json:"ruleSet,omitempty"`
	// ID and Version are for IMPORT mode only.
	ID      int `json:"id,omitempty"`
	Version int `json:"version,omitempty"`
}

// catchUp reads the topic to its current end, after checking that the topic
// is still the one this registry has been reading. Called under writeMu.
func (r *Registry) catchUp(ctx context.Context) *Error {
	if e := r.checkTopic(ctx); e != nil {
		return e
	}
	end, err := r.endOffset(ctx)
	if err != nil {
		return errf(CodeStoreError, "Cannot read the end of the schemas topic: %v", err)
	}
	if err := r.waitApplied(ctx, end); err != nil {
		return errf(CodeOperationTimeout, "Reading the schemas topic to its end timed out after %s", r.cfg.WriteTimeout)
	}
	return nil
}

// checkTopic stops every write, for good, once Topic was deleted or replaced
// (its id changed) or its log start moved past what this registry had read:
// the state it would write from is then not the topic's, and ids it handed
// out could be given out again. Under writeMu.
func (r *Registry) checkTopic(ctx context.Context) *Error {
	if r.broken != nil {
		return r.broken
	}
	id, err := r.currentTopicID(ctx)
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return errf(CodeStoreError, "Cannot check the schemas topic: %v", err)
	}
	reason := ""
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		reason = fmt.Sprintf("the topic %s was deleted", r.cfg.Topic)
	} else if id != r.topicID {
		reason = fmt.Sprintf("the topic %s was deleted and created again (its topic id changed)", r.cfg.Topic)
	} else {
		starts, err := r.adm.ListStartOffsets(ctx, r.cfg.Topic)
		if err != nil {
			return errf(CodeStoreError, "Cannot read the start of the schemas topic: %v", err)
		}
		r.mu.RLock()
		applied := r.st.applied
		r.mu.RUnlock()
		if o, ok := starts.Lookup(r.cfg.Topic, 0); ok && o.Err == nil && o.Offset > applied {
			reason = fmt.Sprintf("records of %s this registry never read were deleted (its log start is %d, it had read up to %d)", r.cfg.Topic, o.Offset, applied)
		}
	}
	if reason == "" {
		return nil
	}
	r.broken = errf(CodeStoreError, "Writes are stopped: %s, so schema ids already in use could be given out again. "+
		"Reads are still served from memory. To recover, stop every registry instance, restore %s from a backup "+
		"(or re-register every schema with its id in IMPORT mode), then start the registry again", reason, r.cfg.Topic)
	r.log.Error("schemas topic deleted or replaced; writes stopped", "topic", r.cfg.Topic, "reason", reason)
	return r.broken
}

// maxSubjectBytes bounds subject names: they are record keys in the topic.
const maxSubjectBytes = 4096

func validSubject(s string) *Error {
	if len(s) > maxSubjectBytes {
		return errf(CodeInvalidSchema, "Invalid subject name: %d bytes, the longest accepted is %d", len(s), maxSubjectBytes)
	}
	if s == "" || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00") {
		return errf(CodeInvalidSchema, "Invalid subject name %q", s)
	}
	return nil
}

// checkSchemaType returns the schema type in the API's spelling (AVRO when
// none is given).
func checkSchemaType(t string) (string, *Error) {
	switch u := strings.ToUpper(t); u {
	case "":
		return typeAvro, nil
	case typeAvro, typeJSON, typeProtobuf:
		return u, nil
	}
	return "", errf(CodeInvalidSchema, "Invalid schema type %s; valid types are AVRO, JSON and PROTOBUF", t)
}

// prepared is a parsed schema ready to register or look up.
type prepared struct {
	text     string // what is stored
	identity string
	entry    *schemaEntry
}

// prepare parses a schema against the current state. r.mu must be held (read).
// Results for schemas without references are cached by their text: parsing
// is most of the cost of a lookup or a repeated registration.
func (r *Registry) prepare(req RegisterRequest, normalize bool) (prepared, *Error) {
	typ, e := checkSchemaType(req.SchemaType)
	if e != nil {
		return prepared{}, e
	}
	req.SchemaType = typ
	if len(req.References) == 0 && len(req.Metadata) == 0 && len(req.RuleSet) == 0 {
		key := prepKey{typ, req.Schema, normalize}
		if p, ok := r.prepCache.get(key); ok {
			return p, nil
		}
		p, e := r.prepareUncached(req, normalize)
		if e == nil {
			r.prepCache.put(key, p)
		}
		return p, e
	}
	return r.prepareUncached(req, normalize)
}

func (r *Registry) prepareUncached(req RegisterRequest, normalize bool) (prepared, *Error) {
	if strings.TrimSpace(req.Schema) == "" {
		return prepared{}, errf(CodeInvalidSchema, "Empty schema")
	}
	if len(req.Schema) > maxSchemaBytes {
		return prepared{}, errf(CodeSchemaTooLarge, "Schema too large: it is %d bytes; the limit is %d bytes (a _schemas record must fit Kafka's 1 MiB message size)", len(req.Schema), maxSchemaBytes)
	}
	for name, extra := range map[string]json.RawMessage{"metadata": req.Metadata, "ruleSet": req.RuleSet} {
		if len(extra) > 0 && string(extra) != "null" && (len(extra) == 0 || extra[0] != '{') {
			return prepared{}, errf(CodeInvalidSchema, "Invalid schema: %s must be a JSON object", name)
		}
	}
	parsed, err := compile(req.SchemaType, req.Schema, req.References, r.st.resolve)
	if err != nil {
		return prepared{}, errf(CodeInvalidSchema, "Invalid %s schema %s, details: %v", req.SchemaType, truncate(req.Schema, 200), err)
	}
	id, err := fullIdentity(req.SchemaType, parsed, req.References, req.Metadata, req.RuleSet)
	if err != nil {
		return prepared{}, errf(CodeInvalidSchema, "Invalid schema: %v", err)
	}
	var text string
	switch {
	case normalize:
		text, err = parsed.normalized()
	case req.SchemaType == typeProtobuf:
		text = req.Schema // .proto text is kept as written
		if p := parsed.(*protoCompiled); p.fromDescriptor {
			text = printProto(p.fd, true) // a serialized descriptor is stored as .proto text, as Confluent does
		}
	default:
		text, err = compactJSON(req.Schema)
	}
	if err != nil {
		return prepared{}, errf(CodeInvalidSchema, "Invalid schema: %v", err)
	}
	e := &schemaEntry{Type: req.SchemaType, Schema: text, References: req.References, Metadata: nullToNil(req.Metadata), RuleSet: nullToNil(req.RuleSet), identity: id, parsed: parsed}
	return prepared{text: text, identity: id, entry: e}, nil
}

func nullToNil(m json.RawMessage) json.RawMessage {
	if string(m) == "null" {
		return nil
	}
	return m
}

type prepKey struct {
	typ       string
	text      string
	normalize bool
}

// prepCache remembers parsed schemas; it forgets everything when full.
type prepCache struct {
	mu sync.Mutex
	m  map[prepKey]prepared
}

const prepCacheSize = 4096

func (c *prepCache) get(k prepKey) (prepared, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[k]
	return p, ok
}

func (c *prepCache) put(k prepKey, p prepared) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= prepCacheSize {
		c.m = make(map[prepKey]prepared)
	}
	c.m[k] = p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// register registers a schema under a subject and returns its id.
func (r *Registry) register(ctx context.Context, subject string, req RegisterRequest, normalize bool) (int, *Error) {
	if e := validSubject(subject); e != nil {
		return 0, e
	}
	// Fast path, without the write lock or a trip to Kafka: the schema is
	// already registered (live) under this subject, which is what every
	// serializer with a cold cache asks.
	r.mu.RLock()
	p, e := r.prepare(req, normalize)
	if e != nil {
		r.mu.RUnlock()
		return 0, e
	}
	if id, ok := r.registeredIn(subject, p.identity); ok && req.ID == 0 {
		r.mu.RUnlock()
		return id, nil
	}
	r.mu.RUnlock()

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if e := r.catchUp(ctx); e != nil {
		return 0, e
	}
	r.mu.RLock()
	if p, e = r.prepare(req, normalize); e != nil { // references may have changed
		r.mu.RUnlock()
		return 0, e
	}
	mode := r.st.modeFor(subject)
	s := r.st.subjects[subject]
	if id, ok := r.registeredIn(subject, p.identity); ok && req.ID == 0 {
		r.mu.RUnlock()
		return id, nil
	}
	switch mode {
	case "READONLY", "READONLY_OVERRIDE":
		r.mu.RUnlock()
		return 0, errReadOnly(subject)
	case "READWRITE":
		if req.ID != 0 {
			r.mu.RUnlock()
			return 0, errf(CodeOperationNotPermitted, "Subject %s is not in import mode; schema ids can only be given in IMPORT mode (PUT /mode)", subject)
		}
	}
	if mode != "IMPORT" {
		if msgs := r.checkCompat(subject, p.entry, r.st.compatFor(subject), nil); len(msgs) > 0 {
			r.mu.RUnlock()
			return 0, errf(CodeIncompatibleSchema, "Schema being registered is incompatible with an earlier schema for subject \"%s\", details: [%s]", subject, strings.Join(msgs, ", "))
		}
	}
	id, known := r.st.ids[p.identity]
	if req.ID != 0 {
		if other := r.st.schemas[req.ID]; other != nil && other.identity != p.identity {
			r.mu.RUnlock()
			return 0, errf(CodeOperationNotPermitted, "Overwrite new schema with id %d is not permitted: the id is taken by another schema", req.ID)
		}
		id = req.ID
	} else if !known {
		id = r.st.maxID + 1
	}
	version := 1
	if s != nil && len(s.versions) > 0 {
		version = s.versions[len(s.versions)-1].Version + 1
	}
	if req.Version != 0 {
		if req.Version < 1 {
			r.mu.RUnlock()
			return 0, errInvalidVersion(fmt.Sprint(req.Version))
		}
		if s != nil && s.find(req.Version) != nil {
			r.mu.RUnlock()
			return 0, errf(CodeInvalidSchema, "Version %d already exists in subject %s", req.Version, subject)
		}
		version = req.Version
	}
	r.mu.RUnlock()
	v := schemaValue{Subject: subject, Version: version, ID: id, References: req.References, Schema: p.text, Metadata: p.entry.Metadata, RuleSet: p.entry.RuleSet}
	if p.entry.Type != typeAvro {
		v.SchemaType = p.entry.Type
	}
	if e := r.write(ctx, record{schemaKey(subject, version), marshal(v)}); e != nil {
		return 0, toError(e)
	}
	return id, nil
}

// registeredIn returns the id of a live version of subject with this
// identity. r.mu must be held.
func (r *Registry) registeredIn(subject, identity string) (int, bool) {
	s := r.st.subjects[subject]
	if s == nil {
		return 0, false
	}
	for _, sv := range s.versions {
		if se := r.st.schemas[sv.ID]; !sv.Deleted && se != nil && se.identity == identity {
			return sv.ID, true
		}
	}
	return 0, false
}

func toError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return errf(CodeStoreError, "%v", err)
}

// checkCompat checks a new schema against the subject's live versions as the
// level asks; against is one specific version to check against instead (the
// compatibility endpoint). It returns the reasons it is incompatible (none
// when it is compatible). r.mu must be held.
func (r *Registry) checkCompat(subject string, newSchema *schemaEntry, level string, against *subjectVersion) []string {
	if level == "NONE" {
		return nil
	}
	s := r.st.subjects[subject]
	if s == nil {
		return nil
	}
	var olds []*subjectVersion
	switch {
	case against != nil:
		olds = []*subjectVersion{against}
	case strings.HasSuffix(level, "_TRANSITIVE"):
		for i := len(s.versions) - 1; i >= 0; i-- {
			if !s.versions[i].Deleted {
				olds = append(olds, s.versions[i])
			}
		}
	default:
		if l := s.latest(false); l != nil {
			olds = []*subjectVersion{l}
		}
	}
	var msgs []string
	for _, old := range olds {
		oe := r.st.schemas[old.ID]
		if oe == nil || oe.parsed == nil {
			continue // a schema we cannot read; Confluent skips those too
		}
		var found []string
		if oe.Type != newSchema.Type {
			found = append(found, fmt.Sprintf("Incompatible schema type: the subject's version %d is %s, the new schema is %s", old.Version, oe.Type, newSchema.Type))
		} else {
			if strings.HasPrefix(level, "BACKWARD") || strings.HasPrefix(level, "FULL") {
				found = append(found, newSchema.parsed.check(oe.parsed)...)
			}
			if strings.HasPrefix(level, "FORWARD") || strings.HasPrefix(level, "FULL") {
				found = append(found, oe.parsed.check(newSchema.parsed)...)
			}
		}
		msgs = append(msgs, found...)
		if len(found) > 0 {
			msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d}", old.Version), fmt.Sprintf("{oldSchema: '%s'}", oe.Schema), fmt.Sprintf("{compatibility: '%s'}", level))
		}
	}
	return msgs
}

// deleteVersion soft- or hard-deletes one version and returns its number.
func (r *Registry) deleteVersion(ctx context.Context, subject, version string, permanent bool) (int, *Error) {
	v, e := parseVersion(version)
	if e != nil {
		return 0, e
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if e := r.catchUp(ctx); e != nil {
		return 0, e
	}
	r.mu.RLock()
	if m := r.st.modeFor(subject); m == "READONLY" || m == "READONLY_OVERRIDE" {
		r.mu.RUnlock()
		return 0, errReadOnly(subject)
	}
	s := r.st.subjects[subject]
	if s == nil || len(s.versions) == 0 {
		r.mu.RUnlock()
		return 0, errSubjectNotFound(subject)
	}
	var sv *subjectVersion
	if v == -1 {
		sv = s.latest(permanent)
	} else {
		sv = s.find(v)
	}
	if sv == nil {
		r.mu.RUnlock()
		return 0, errVersionNotFound(v)
	}
	if !permanent && sv.Deleted {
		r.mu.RUnlock()
		return 0, errf(CodeVersionSoftDeleted, "Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, sv.Version)
	}
	if permanent && !sv.Deleted {
		r.mu.RUnlock()
		return 0, errf(CodeVersionNotSoftDeleted, "Subject '%s' Version %d was not deleted first before being permanently deleted", subject, sv.Version)
	}
	if refs := r.st.referencedBy(subject, sv.Version); len(refs) > 0 && !permanent {
		r.mu.RUnlock()
		return 0, errf(CodeReferenceExists, "One or more references exist to the schema {subject=%s, version=%d}: ids %v", subject, sv.Version, refs)
	}
	entry := r.st.schemas[sv.ID]
	r.mu.RUnlock()
	rec := record{Key: schemaKey(subject, sv.Version)}
	if !permanent {
		val := schemaValue{Subject: subject, Version: sv.Version, ID: sv.ID, Deleted: true}
		if entry != nil {
			val.Schema, val.References, val.Metadata, val.RuleSet = entry.Schema, entry.References, entry.Metadata, entry.RuleSet
			if entry.Type != typeAvro {
				val.SchemaType = entry.Type
			}
		}
		rec.Value = marshal(val)
	}
	if err := r.write(ctx, rec); err != nil {
		return 0, toError(err)
	}
	return sv.Version, nil
}

// deleteSubject soft- or hard-deletes every version of a subject.
func (r *Registry) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *Error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if e := r.catchUp(ctx); e != nil {
		return nil, e
	}
	r.mu.RLock()
	if m := r.st.modeFor(subject); m == "READONLY" || m == "READONLY_OVERRIDE" {
		r.mu.RUnlock()
		return nil, errReadOnly(subject)
	}
	s := r.st.subjects[subject]
	if s == nil || len(s.versions) == 0 {
		r.mu.RUnlock()
		return nil, errSubjectNotFound(subject)
	}
	live := s.live()
	if !permanent && !live {
		r.mu.RUnlock()
		return nil, errf(CodeSubjectSoftDeleted, "Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)
	}
	if permanent && live {
		r.mu.RUnlock()
		return nil, errf(CodeSubjectNotSoftDeleted, "Subject '%s' was not deleted first before being permanently deleted", subject)
	}
	var versions []int
	var recs []record
	for _, sv := range s.versions {
		if refs := r.st.referencedBy(subject, sv.Version); len(refs) > 0 && !permanent {
			r.mu.RUnlock()
			return nil, errf(CodeReferenceExists, "One or more references exist to the schema {subject=%s, version=%d}: ids %v", subject, sv.Version, refs)
		}
		if permanent {
			versions = append(versions, sv.Version)
			recs = append(recs, record{Key: schemaKey(subject, sv.Version)})
			continue
		}
		if sv.Deleted {
			continue
		}
		versions = append(versions, sv.Version)
		val := schemaValue{Subject: subject, Version: sv.Version, ID: sv.ID, Deleted: true}
		if e := r.st.schemas[sv.ID]; e != nil {
			val.Schema, val.References, val.Metadata, val.RuleSet = e.Schema, e.References, e.Metadata, e.RuleSet
			if e.Type != typeAvro {
				val.SchemaType = e.Type
			}
		}
		recs = append(recs, record{schemaKey(subject, sv.Version), marshal(val)})
	}
	if permanent {
		if s.compat != "" {
			recs = append(recs, record{Key: configKey(subject)})
		}
		if s.mode != "" {
			recs = append(recs, record{Key: modeKey(subject)})
		}
	} else {
		latest := s.versions[len(s.versions)-1].Version
		recs = append(recs, record{deleteSubjectKey(subject), marshal(deleteSubjectValue{Subject: subject, Version: latest})})
	}
	r.mu.RUnlock()
	if err := r.write(ctx, recs...); err != nil {
		return nil, toError(err)
	}
	return versions, nil
}

// setConfig sets (or with level "" removes) a compatibility level, globally
// for subject "". It returns the level that was in effect before.
func (r *Registry) setConfig(ctx context.Context, subject, level string, remove bool) (string, *Error) {
	if !remove {
		l, ok := validLevel(level)
		if !ok {
			return "", errf(CodeInvalidCompatibility, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")
		}
		level = l
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if e := r.catchUp(ctx); e != nil {
		return "", e
	}
	r.mu.RLock()
	prev := r.st.globalCompat()
	if subject != "" {
		s := r.st.subjects[subject]
		if remove && (s == nil || s.compat == "") {
			r.mu.RUnlock()
			return "", errf(CodeSubjectCompatNotConfigured, "Subject '%s' does not have subject-level compatibility configured", subject)
		}
		if s != nil && s.compat != "" {
			prev = s.compat
		}
	}
	r.mu.RUnlock()
	rec := record{Key: configKey(subject)}
	if !remove {
		rec.Value = marshal(configValue{CompatibilityLevel: level})
	}
	if err := r.write(ctx, rec); err != nil {
		return "", toError(err)
	}
	return prev, nil
}

// setMode sets (or removes) a mode, globally for subject "". It returns the
// mode in effect before.
func (r *Registry) setMode(ctx context.Context, subject, mode string, remove, force bool) (string, *Error) {
	if !remove {
		m, ok := validMode(mode)
		if !ok {
			return "", errf(CodeInvalidMode, "Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT")
		}
		mode = m
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if e := r.catchUp(ctx); e != nil {
		return "", e
	}
	r.mu.RLock()
	prev := r.st.globalMode()
	s := r.st.subjects[subject]
	if subject != "" {
		if remove && (s == nil || s.mode == "") {
			r.mu.RUnlock()
			return "", errf(CodeSubjectModeNotConfigured, "Subject '%s' does not have subject-level mode configured", subject)
		}
		if s != nil && s.mode != "" {
			prev = s.mode
		}
	}
	if mode == "IMPORT" && !force {
		nonEmpty := false
		if subject == "" {
			for _, ss := range r.st.subjects {
				nonEmpty = nonEmpty || len(ss.versions) > 0
			}
		} else {
			nonEmpty = s != nil && len(s.versions) > 0
		}
		if nonEmpty {
			r.mu.RUnlock()
			return "", errf(CodeOperationNotPermitted, "Cannot import since found existing subjects; use force=true to set IMPORT mode anyway")
		}
	}
	r.mu.RUnlock()
	rec := record{Key: modeKey(subject)}
	if !remove {
		rec.Value = marshal(modeValue{Mode: mode})
	}
	if err := r.write(ctx, rec); err != nil {
		return "", toError(err)
	}
	return prev, nil
}
