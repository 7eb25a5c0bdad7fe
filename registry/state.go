package registry

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// state is the registry's whole state, rebuilt by applying the _schemas
// records in order. It is a deterministic state machine: apply never does
// I/O, and every read of the HTTP API is answered from it. The owner
// (Registry) guards it with a RWMutex.
type state struct {
	schemas  map[int]*schemaEntry // by id
	ids      map[string]int       // identity → id
	subjects map[string]*subjectState
	compat   string // global compatibility level; "" = the default
	mode     string // global mode; "" = READWRITE
	maxID    int
	applied  int64 // offset after the last record applied
	skipped  int   // records that could not be applied (malformed), for the logs
	lastSkip string
}

// schemaEntry is one schema (one id), shared by every subject version that
// registered it.
type schemaEntry struct {
	ID         int
	Type       string // AVRO, JSON or PROTOBUF
	Schema     string
	References []Reference
	Metadata   json.RawMessage // stored and returned, not interpreted
	RuleSet    json.RawMessage // stored and returned, never executed
	identity   string          // "" when the text does not parse (foreign or broken records)
	parsed     compiled        // nil when it does not parse
}

type subjectState struct {
	versions []*subjectVersion // ascending by version
	compat   string            // "" = not set
	mode     string            // "" = not set
}

type subjectVersion struct {
	Version int
	ID      int
	Deleted bool
}

func newState() *state {
	return &state{schemas: map[int]*schemaEntry{}, ids: map[string]int{}, subjects: map[string]*subjectState{}}
}

// apply applies one _schemas record. Records it cannot understand are
// skipped (counted), as Confluent and Karapace do, so that one bad record
// never stops the registry from starting.
func (st *state) apply(offset int64, key, value []byte) {
	st.applied = offset + 1
	if err := st.applyRecord(key, value); err != nil {
		st.skipped++
		st.lastSkip = err.Error()
	}
}

func (st *state) applyRecord(key, value []byte) error {
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return errors.New("key is not JSON: " + err.Error())
	}
	subject := deref(k.Subject)
	switch k.KeyType {
	case keySchema:
		if value == nil {
			st.hardDelete(subject, k.Version)
			return nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return errors.New("SCHEMA value is not valid: " + err.Error())
		}
		if v.Subject == "" || v.Version < 1 || v.ID < 0 {
			return errors.New("SCHEMA value lacks subject, version or id")
		}
		st.putVersion(v)
	case keyConfig:
		level := ""
		if value != nil {
			var v configValue
			if err := json.Unmarshal(value, &v); err != nil {
				return errors.New("CONFIG value is not valid: " + err.Error())
			}
			level = strings.ToUpper(v.CompatibilityLevel)
		}
		if k.Subject == nil {
			st.compat = level
		} else if s := st.subject(subject, value != nil); s != nil {
			s.compat = level
		}
	case keyMode:
		mode := ""
		if value != nil {
			var v modeValue
			if err := json.Unmarshal(value, &v); err != nil {
				return errors.New("MODE value is not valid: " + err.Error())
			}
			mode = strings.ToUpper(v.Mode)
		}
		if k.Subject == nil {
			st.mode = mode
		} else if s := st.subject(subject, value != nil); s != nil {
			s.mode = mode
		}
	case keyDeleteSubject:
		if value == nil {
			return nil
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(value, &v); err != nil {
			return errors.New("DELETE_SUBJECT value is not valid: " + err.Error())
		}
		if s := st.subjects[v.Subject]; s != nil {
			for _, sv := range s.versions {
				if sv.Version <= v.Version {
					sv.Deleted = true
				}
			}
		}
	case keyClearSubject, keyNoop:
	default:
		return errors.New("unknown keytype " + k.KeyType)
	}
	return nil
}

func (st *state) subject(name string, create bool) *subjectState {
	s := st.subjects[name]
	if s == nil && create {
		s = &subjectState{}
		st.subjects[name] = s
	}
	return s
}

func (st *state) putVersion(v schemaValue) {
	e := st.schemas[v.ID]
	if e == nil {
		e = &schemaEntry{ID: v.ID, Type: strings.ToUpper(v.SchemaType), Schema: v.Schema, References: v.References, Metadata: v.Metadata, RuleSet: v.RuleSet}
		if e.Type == "" {
			e.Type = typeAvro
		}
		if parsed, err := compile(e.Type, e.Schema, e.References, st.resolve); err == nil {
			e.parsed = parsed
			e.identity, _ = fullIdentity(e.Type, parsed, e.References, e.Metadata, e.RuleSet)
		}
		st.schemas[v.ID] = e
		if e.identity != "" {
			if _, dup := st.ids[e.identity]; !dup {
				st.ids[e.identity] = v.ID
			}
		}
	}
	st.maxID = max(st.maxID, v.ID)
	s := st.subject(v.Subject, true)
	i := sort.Search(len(s.versions), func(i int) bool { return s.versions[i].Version >= v.Version })
	if i < len(s.versions) && s.versions[i].Version == v.Version {
		s.versions[i].ID, s.versions[i].Deleted = v.ID, v.Deleted
		return
	}
	s.versions = append(s.versions, nil)
	copy(s.versions[i+1:], s.versions[i:])
	s.versions[i] = &subjectVersion{Version: v.Version, ID: v.ID, Deleted: v.Deleted}
}

func (st *state) hardDelete(subject string, version int) {
	s := st.subjects[subject]
	if s == nil {
		return
	}
	for i, sv := range s.versions {
		if sv.Version == version {
			s.versions = append(s.versions[:i], s.versions[i+1:]...)
			break
		}
	}
	if len(s.versions) == 0 && s.compat == "" && s.mode == "" {
		delete(st.subjects, subject)
	}
	// The schema itself stays known by id (ids are never reused, and
	// GET /schemas/ids/{id} keeps answering as in Confluent until compaction).
}

// resolve finds the schema of a subject version, deleted ones included.
func (st *state) resolve(subject string, version int) (*schemaEntry, bool) {
	s := st.subjects[subject]
	if s == nil {
		return nil, false
	}
	if version == -1 {
		sv := s.latest(true)
		if sv == nil {
			return nil, false
		}
		version = sv.Version
	}
	for _, sv := range s.versions {
		if sv.Version == version {
			e := st.schemas[sv.ID]
			return e, e != nil
		}
	}
	return nil, false
}

// latest returns the highest version, skipping soft-deleted ones unless
// deleted is set.
func (s *subjectState) latest(deleted bool) *subjectVersion {
	for i := len(s.versions) - 1; i >= 0; i-- {
		if deleted || !s.versions[i].Deleted {
			return s.versions[i]
		}
	}
	return nil
}

// find returns a version, or nil.
func (s *subjectState) find(version int) *subjectVersion {
	for _, sv := range s.versions {
		if sv.Version == version {
			return sv
		}
	}
	return nil
}

// live reports whether the subject has a version that is not soft-deleted.
func (s *subjectState) live() bool { return s.latest(false) != nil }

// compatFor is the effective compatibility level of a subject.
func (st *state) compatFor(subject string) string {
	if s := st.subjects[subject]; s != nil && s.compat != "" {
		return s.compat
	}
	return st.globalCompat()
}

func (st *state) globalCompat() string {
	if st.compat != "" {
		return st.compat
	}
	return "BACKWARD"
}

// modeFor is the effective mode of a subject.
func (st *state) modeFor(subject string) string {
	if s := st.subjects[subject]; s != nil && s.mode != "" {
		return s.mode
	}
	return st.globalMode()
}

func (st *state) globalMode() string {
	if st.mode != "" {
		return st.mode
	}
	return "READWRITE"
}

// referencedBy lists the ids of schemas (in live subject versions) that
// reference subject/version.
func (st *state) referencedBy(subject string, version int) []int {
	var ids []int
	seen := map[int]bool{}
	for _, s := range st.subjects {
		for _, sv := range s.versions {
			e := st.schemas[sv.ID]
			if e == nil || seen[e.ID] {
				continue
			}
			for _, r := range e.References {
				if r.Subject == subject && r.Version == version {
					ids = append(ids, e.ID)
					seen[e.ID] = true
					break
				}
			}
		}
	}
	sort.Ints(ids)
	return ids
}

// subjectNames returns the sorted subject names, soft-deleted ones only if
// asked.
func (st *state) subjectNames(prefix string, deleted, deletedOnly bool) []string {
	out := []string{}
	for name, s := range st.subjects {
		if !strings.HasPrefix(name, prefix) || len(s.versions) == 0 {
			continue
		}
		live := s.live()
		if (deletedOnly && live) || (!deleted && !deletedOnly && !live) {
			continue
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
