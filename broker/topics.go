package broker

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/tickertape/tickertape/commitlog"
)

const catalogueFile = "tickertape-catalogue.json"

// topic is one topic in the catalogue. parts is replaced (never mutated in
// place) under Broker.mu, so a handler may keep a slice it read under the lock.
type topic struct {
	name     string
	id       [16]byte
	configs  map[string]string // only the topic-level overrides
	parts    []*partition
	internal bool
	// maxMessageBytes is max.message.bytes, read by produce without Broker.mu.
	maxMessageBytes atomic.Int64
	// compactAfterMs is delete.retention.ms when cleanup.policy includes
	// compact, -1 otherwise; read by the retention loop.
	compactAfterMs atomic.Int64
	// tsBeforeMaxMs and tsAfterMaxMs are message.timestamp.before/after.max.ms
	// and logAppendTime is message.timestamp.type=LogAppendTime, read by produce.
	tsBeforeMaxMs, tsAfterMaxMs atomic.Int64
	logAppendTime               atomic.Bool
}

// isKafkaInternal reports whether name is one of Kafka's internal topics,
// which clients may neither write nor delete.
func isKafkaInternal(name string) bool {
	return name == offsetsTopic || name == "__transaction_state"
}

// protectedReason says why a topic may not be deleted, or "" if it may.
func (b *Broker) protectedReason(name string) string {
	if isKafkaInternal(name) {
		return fmt.Sprintf("%s is a Kafka internal topic and cannot be deleted", name)
	}
	for _, p := range b.cfg.ProtectedTopics {
		if p == name {
			return fmt.Sprintf("%s holds this server's own state (the schema registry's schemas and ids) and cannot be deleted; deleting it would let ids be given out again", name)
		}
	}
	return ""
}

type partition struct {
	topic *topic
	index int32
	log   *commitlog.Log
}

func (p *partition) String() string { return fmt.Sprintf("%s-%d", p.topic.name, p.index) }

type catalogue struct {
	Version          int              `json:"version"`
	ClusterID        string           `json:"cluster_id"`
	ProducerIDsUntil int64            `json:"producer_ids_until"`
	Topics           []catalogueTopic `json:"topics"`
}

type catalogueTopic struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// loadCatalogue reads the catalogue, opens (and so recovers) every partition,
// and removes partition directories the catalogue does not own: leftovers of a
// delete that a crash interrupted.
func (b *Broker) loadCatalogue() error {
	path := filepath.Join(b.cfg.DataDir, catalogueFile)
	raw, err := os.ReadFile(path)
	var cat catalogue
	switch {
	case errors.Is(err, os.ErrNotExist):
		cat = catalogue{Version: 1, ClusterID: newClusterID()}
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		b.catalogueRaw = raw
		if err := json.Unmarshal(raw, &cat); err != nil {
			return fmt.Errorf("read %s: %w (the file is damaged; restore it from a backup or move the data dir aside)", path, err)
		}
		if cat.Version != 1 {
			return fmt.Errorf("read %s: unknown catalogue version %d", path, cat.Version)
		}
	}
	b.clusterID = cat.ClusterID
	b.pids = producerIDs{b: b, until: cat.ProducerIDsUntil, next: cat.ProducerIDsUntil}
	owned := make(map[string]bool)
	for _, ct := range cat.Topics {
		id, err := parseTopicID(ct.ID)
		if err != nil {
			return fmt.Errorf("read %s: topic %q: %w", path, ct.Name, err)
		}
		t := &topic{name: ct.Name, id: id, configs: ct.Configs, internal: strings.HasPrefix(ct.Name, "__")}
		if t.configs == nil {
			t.configs = map[string]string{}
		}
		for i := int32(0); i < ct.Partitions; i++ {
			p, err := b.openPartition(t, i)
			if err != nil {
				return err
			}
			t.parts = append(t.parts, p)
			owned[p.dirName()] = true
		}
		b.topics[t.name] = t
		b.topicIDs[t.id] = t
	}
	entries, err := os.ReadDir(b.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("list data dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), commitlog.DeletedSuffix) {
			// A deleted topic's segment, moved out to be deleted at --delete-rate.
			b.remover.Remove(filepath.Join(b.cfg.DataDir, e.Name()))
			continue
		}
		if !e.IsDir() || owned[e.Name()] || !looksLikePartitionDir(e.Name()) {
			continue
		}
		b.log.Warn("removing partition directory of a deleted topic", "dir", e.Name())
		if err := os.RemoveAll(filepath.Join(b.cfg.DataDir, e.Name())); err != nil {
			return fmt.Errorf("remove stale %s: %w", e.Name(), err)
		}
	}
	return b.saveCatalogueLocked()
}

func looksLikePartitionDir(name string) bool {
	if strings.HasSuffix(name, "-delete") {
		return true
	}
	i := strings.LastIndexByte(name, '-')
	if i <= 0 {
		return false
	}
	_, err := strconv.ParseUint(name[i+1:], 10, 31)
	return err == nil
}

func (p *partition) dirName() string { return fmt.Sprintf("%s-%d", p.topic.name, p.index) }

func (b *Broker) openPartition(t *topic, i int32) (*partition, error) {
	p := &partition{topic: t, index: i}
	dir := filepath.Join(b.cfg.DataDir, p.dirName())
	// partition.metadata is Kafka's own file naming the topic id; a directory
	// holding another id belongs to an earlier topic of the same name.
	meta := filepath.Join(dir, "partition.metadata")
	want := "version: 0\ntopic_id: " + formatTopicID(t.id) + "\n"
	if raw, err := os.ReadFile(meta); err == nil && string(raw) != want {
		b.log.Warn("removing partition directory of an earlier topic with the same name", "dir", dir)
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w", dir, err)
		}
	}
	l, err := commitlog.Open(commitlog.Options{
		Dir:         dir,
		Config:      b.logConfig(t),
		Fsync:       b.cfg.Fsync,
		Logger:      b.log,
		OnFsync:     b.metrics.fsynced,
		Preallocate: b.cfg.Preallocate,
		Remover:     b.remover,
	})
	if err != nil {
		return nil, fmt.Errorf("open partition %s: %w", p.dirName(), err)
	}
	if _, err := os.Stat(meta); errors.Is(err, os.ErrNotExist) {
		if err := commitlog.WriteFileAtomic(meta, []byte(want)); err != nil {
			l.Close()
			return nil, err
		}
	}
	p.log = l
	return p, nil
}

// saveCatalogueLocked persists the catalogue atomically. b.mu must be held (or
// the broker not yet serving).
func (b *Broker) saveCatalogueLocked() error {
	cat := catalogue{Version: 1, ClusterID: b.clusterID, ProducerIDsUntil: b.pids.until}
	for _, t := range b.topics {
		cat.Topics = append(cat.Topics, catalogueTopic{
			Name: t.name, ID: formatTopicID(t.id), Partitions: int32(len(t.parts)), Configs: t.configs,
		})
	}
	sort.Slice(cat.Topics, func(i, j int) bool { return cat.Topics[i].Name < cat.Topics[j].Name })
	raw, err := json.MarshalIndent(cat, "", "  ")
	if err != nil {
		return err
	}
	if bytes.Equal(raw, b.catalogueRaw) {
		// Unchanged: no write, so that a start on a full disk (and every
		// no-op change) needs no free space.
		return nil
	}
	path := filepath.Join(b.cfg.DataDir, catalogueFile)
	if err := commitlog.WriteFileAtomic(path, raw); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return fmt.Errorf("write %s: %w: the disk holding the data dir is full; free space there (lower retention.ms or retention.bytes of a large topic, delete a topic, or move old files away) and try again", path, err)
		}
		return err
	}
	b.catalogueRaw = raw
	return nil
}

// formatTopicID encodes a topic id the way Kafka prints Uuids (URL-safe base64, no padding).
func formatTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func parseTopicID(s string) ([16]byte, error) {
	var id [16]byte
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("bad topic id %q", s)
	}
	copy(id[:], raw)
	return id, nil
}

func newTopicID() [16]byte {
	for {
		var id [16]byte
		rand.Read(id[:])
		// Kafka reserves the zero uuid and the "metadata topic" uuid (1); avoid
		// ids that start with '-' in base64 as Kafka does for CLI friendliness.
		if id != ([16]byte{}) && !bytes.HasPrefix([]byte(formatTopicID(id)), []byte("-")) {
			return id
		}
	}
}

// validateTopicName applies Kafka's rules for topic names.
func validateTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters long, the limit is 249", len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q has illegal character %q: use only ASCII letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

// lookup returns the topic by name under the read lock.
func (b *Broker) lookup(name string) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topics[name]
}

func (b *Broker) lookupID(id [16]byte) *topic {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.topicIDs[id]
}

// partitionOf returns the partition or nil.
func (b *Broker) partitionOf(t *topic, idx int32) *partition {
	if t == nil {
		return nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if idx < 0 || int(idx) >= len(t.parts) {
		return nil
	}
	return t.parts[idx]
}

func (b *Broker) allPartitions() []*partition {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var ps []*partition
	for _, t := range b.topics {
		ps = append(ps, t.parts...)
	}
	return ps
}

// createTopic creates a topic with n partitions and the given overrides.
// It returns a Kafka error code and message.
func (b *Broker) createTopic(name string, n int32, configs map[string]string, validateOnly bool) (*topic, int16, string) {
	if err := validateTopicName(name); err != nil {
		return nil, errInvalidTopic, err.Error()
	}
	if n == -1 {
		n = b.cfg.DefaultPartitions
	}
	if n <= 0 {
		return nil, errInvalidPartitions, fmt.Sprintf("number of partitions must be larger than 0 (got %d)", n)
	}
	if n > maxPartitions {
		return nil, errInvalidPartitions, fmt.Sprintf("number of partitions %d is over this broker's limit of %d", n, maxPartitions)
	}
	if code, msg := validateTopicConfigs(configs); code != 0 {
		return nil, code, msg
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.topics[name]; ok {
		return nil, errTopicAlreadyExists, fmt.Sprintf("topic %q already exists", name)
	}
	for other := range b.topics {
		if other != name && strings.ReplaceAll(other, ".", "_") == strings.ReplaceAll(name, ".", "_") {
			return nil, errInvalidTopic, fmt.Sprintf("topic %q collides with existing topic %q ('.' and '_' collide in metric names)", name, other)
		}
	}
	if validateOnly {
		return &topic{name: name, configs: configs}, 0, ""
	}
	if configs == nil {
		configs = map[string]string{}
	}
	t := &topic{name: name, id: newTopicID(), configs: configs, internal: strings.HasPrefix(name, "__")}
	for i := int32(0); i < n; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			for _, p := range t.parts {
				p.log.Delete()
			}
			return nil, errKafkaStorage, err.Error()
		}
		t.parts = append(t.parts, p)
	}
	b.topics[name] = t
	b.topicIDs[t.id] = t
	if err := b.saveCatalogueLocked(); err != nil {
		delete(b.topics, name)
		delete(b.topicIDs, t.id)
		for _, p := range t.parts {
			p.log.Delete()
		}
		return nil, errKafkaStorage, "persist topic catalogue: " + err.Error()
	}
	b.log.Debug("created topic", "topic", name, "partitions", n)
	return t, 0, ""
}

// autoCreate returns the topic, creating it with the default partition count
// if auto-creation is on. The returned code is 0 when the topic exists.
func (b *Broker) autoCreate(name string) (*topic, int16) {
	if t := b.lookup(name); t != nil {
		return t, 0
	}
	if b.cfg.DisableAutoCreate {
		return nil, errUnknownTopicOrPartition
	}
	t, code, _ := b.createTopic(name, b.cfg.DefaultPartitions, nil, false)
	if code == errTopicAlreadyExists {
		return b.lookup(name), 0
	}
	return t, code
}

// deleteTopic removes a topic: first from the persisted catalogue, then its
// partition directories (a crash in between is finished by loadCatalogue).
func (b *Broker) deleteTopic(t *topic) error {
	b.mu.Lock()
	if b.topics[t.name] != t {
		b.mu.Unlock()
		return nil
	}
	delete(b.topics, t.name)
	delete(b.topicIDs, t.id)
	err := b.saveCatalogueLocked()
	parts := t.parts
	b.mu.Unlock()
	for _, p := range parts {
		if derr := p.log.Delete(); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	b.log.Debug("deleted topic", "topic", t.name)
	return err
}

// addPartitions grows a topic to n partitions.
func (b *Broker) addPartitions(t *topic, n int32, validateOnly bool) (int16, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics[t.name] != t {
		return errUnknownTopicOrPartition, "topic was deleted"
	}
	have := int32(len(t.parts))
	switch {
	case n < have:
		return errInvalidPartitions, fmt.Sprintf("topic %q has %d partitions; the count can only grow", t.name, have)
	case n == have:
		return errInvalidPartitions, fmt.Sprintf("topic %q already has %d partitions", t.name, have)
	case n > maxPartitions:
		return errInvalidPartitions, fmt.Sprintf("number of partitions %d is over this broker's limit of %d", n, maxPartitions)
	}
	if validateOnly {
		return 0, ""
	}
	parts := append([]*partition(nil), t.parts...)
	for i := have; i < n; i++ {
		p, err := b.openPartition(t, i)
		if err != nil {
			for _, p := range parts[have:] {
				p.log.Delete()
			}
			return errKafkaStorage, err.Error()
		}
		parts = append(parts, p)
	}
	old := t.parts
	t.parts = parts
	if err := b.saveCatalogueLocked(); err != nil {
		t.parts = old
		for _, p := range parts[have:] {
			p.log.Delete()
		}
		return errKafkaStorage, "persist topic catalogue: " + err.Error()
	}
	return 0, ""
}

const maxPartitions = 10000
