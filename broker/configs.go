package broker

// DescribeConfigs (key 32, v0-v4), AlterConfigs (key 33, v0-v2) and
// IncrementalAlterConfigs (key 44, v0-v1), for topic configs.
//
// Behaviour: every topic config Kafka defines for a single-node cluster is
// accepted, validated as Kafka validates it, persisted in the catalogue, and
// reported with its source (topic override or default). The ones marked applied
// below change what the partition log does at once; the others are stored and
// reported for compatibility. Broker resources are described read-only (the
// broker's settings come from its command line); altering them is refused.
// Group (KIP-848 group configs) and client-metrics resources are described
// as having no configs, since this broker defines none of either (so
// kafka-configs --describe --entity-type groups|client-metrics answers rather
// than failing); altering them is refused with INVALID_REQUEST naming why.
// Left out: synonyms list only the broker-level default; broker logger
// resources answer INVALID_REQUEST.

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

func init() {
	regKey(32, 0, 4, handleDescribeConfigs)
	regKey(33, 0, 2, handleAlterConfigs)
	regKey(44, 0, 1, handleIncrementalAlterConfigs)
}

type configDef struct {
	name     string
	typ      kmsg.ConfigType
	def      func(b *Broker) string
	validate func(string) error
	broker   string // the broker-level default's name (synonym)
	applied  bool   // changes behaviour here (not only stored)
	doc      string
}

func constDef(v string) func(*Broker) string { return func(*Broker) string { return v } }

func intRange(lo, hi int64) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside [%d, %d]", n, lo, hi)
		}
		return nil
	}
}

func oneOf(vals ...string) func(string) error {
	return func(s string) error {
		if slices.Contains(vals, s) {
			return nil
		}
		return fmt.Errorf("%q is not one of %s", s, strings.Join(vals, ", "))
	}
}

func boolVal(s string) error {
	if s == "true" || s == "false" {
		return nil
	}
	return fmt.Errorf("%q is not true or false", s)
}

func ratio(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return fmt.Errorf("%q is not a number in [0, 1]", s)
	}
	return nil
}

func cleanupPolicy(s string) error {
	parts := strings.Split(s, ",")
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "delete" && p != "compact" {
			return fmt.Errorf("%q: each entry must be delete or compact", s)
		}
	}
	return nil
}

const maxLong = math.MaxInt64
const maxInt = math.MaxInt32

var topicConfigDefs = []configDef{
	{name: "cleanup.policy", typ: kmsg.ConfigTypeList, def: constDef("delete"), validate: cleanupPolicy, broker: "log.cleanup.policy", applied: true,
		doc: "delete: old segments are removed by retention.ms/retention.bytes. compact: closed segments keep only the latest record per key, and tombstones go after delete.retention.ms. Both may be given."},
	{name: "compression.type", typ: kmsg.ConfigTypeString, def: constDef("producer"), validate: oneOf("producer"), broker: "compression.type", applied: true,
		doc: "Batches are stored exactly as the producer compressed them; only 'producer' is supported."},
	{name: "delete.retention.ms", typ: kmsg.ConfigTypeLong, def: constDef("86400000"), validate: intRange(0, maxLong), broker: "log.cleaner.delete.retention.ms", applied: true},
	{name: "file.delete.delay.ms", typ: kmsg.ConfigTypeLong, def: constDef("60000"), validate: intRange(0, maxLong), broker: "log.segment.delete.delay.ms"},
	{name: "flush.messages", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), validate: intRange(1, maxLong), broker: "log.flush.interval.messages",
		doc: "Stored only: durability is set for the whole broker by --fsync."},
	{name: "flush.ms", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), validate: intRange(0, maxLong), broker: "log.flush.interval.ms",
		doc: "Stored only: durability is set for the whole broker by --fsync."},
	{name: "index.interval.bytes", typ: kmsg.ConfigTypeInt, applied: true, validate: intRange(0, maxInt), broker: "log.index.interval.bytes",
		def: func(b *Broker) string { return strconv.Itoa(int(b.cfg.LogDefaults.IndexIntervalBytes)) }},
	{name: "max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), validate: intRange(1, maxLong), broker: "log.cleaner.max.compaction.lag.ms"},
	{name: "max.message.bytes", typ: kmsg.ConfigTypeInt, def: constDef("1048588"), validate: intRange(0, maxInt), broker: "message.max.bytes", applied: true},
	{name: "message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, def: constDef("3600000"), validate: intRange(0, maxLong), broker: "log.message.timestamp.after.max.ms", applied: true},
	{name: "message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), validate: intRange(0, maxLong), broker: "log.message.timestamp.before.max.ms", applied: true},
	{name: "message.timestamp.type", typ: kmsg.ConfigTypeString, def: constDef("CreateTime"), validate: oneOf("CreateTime", "LogAppendTime"), broker: "log.message.timestamp.type", applied: true},
	{name: "min.cleanable.dirty.ratio", typ: kmsg.ConfigTypeDouble, def: constDef("0.5"), validate: ratio, broker: "log.cleaner.min.cleanable.ratio"},
	{name: "min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: constDef("0"), validate: intRange(0, maxLong), broker: "log.cleaner.min.compaction.lag.ms"},
	{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, def: constDef("1"), validate: intRange(1, maxInt), broker: "min.insync.replicas"},
	{name: "preallocate", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), validate: boolVal, broker: "log.preallocate"},
	{name: "retention.bytes", typ: kmsg.ConfigTypeLong, applied: true, validate: intRange(-1, maxLong), broker: "log.retention.bytes",
		def: func(b *Broker) string { return strconv.FormatInt(b.cfg.LogDefaults.RetentionBytes, 10) }},
	{name: "retention.ms", typ: kmsg.ConfigTypeLong, applied: true, validate: intRange(-1, maxLong), broker: "log.retention.ms",
		def: func(b *Broker) string { return strconv.FormatInt(b.cfg.LogDefaults.RetentionMs, 10) }},
	{name: "segment.bytes", typ: kmsg.ConfigTypeInt, applied: true, validate: intRange(14, maxInt), broker: "log.segment.bytes",
		def: func(b *Broker) string { return strconv.FormatInt(b.cfg.LogDefaults.SegmentBytes, 10) }},
	{name: "segment.index.bytes", typ: kmsg.ConfigTypeInt, def: constDef("10485760"), validate: intRange(4, maxInt), broker: "log.index.size.max.bytes"},
	{name: "segment.jitter.ms", typ: kmsg.ConfigTypeLong, def: constDef("0"), validate: intRange(0, maxLong), broker: "log.roll.jitter.ms"},
	{name: "segment.ms", typ: kmsg.ConfigTypeLong, applied: true, validate: intRange(1, maxLong), broker: "log.roll.ms",
		def: func(b *Broker) string { return strconv.FormatInt(b.cfg.LogDefaults.SegmentMs, 10) }},
	{name: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), validate: boolVal, broker: "unclean.leader.election.enable"},
}

func topicConfigDef(name string) *configDef {
	for i := range topicConfigDefs {
		if topicConfigDefs[i].name == name {
			return &topicConfigDefs[i]
		}
	}
	return nil
}

// validateTopicConfigs checks every name and value; the first problem is reported.
func validateTopicConfigs(cfgs map[string]string) (int16, string) {
	names := make([]string, 0, len(cfgs))
	for n := range cfgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := topicConfigDef(n)
		if d == nil {
			return errInvalidConfig, fmt.Sprintf("unknown topic config name: %s", n)
		}
		if err := d.validate(cfgs[n]); err != nil {
			return errInvalidConfig, fmt.Sprintf("invalid value for %s: %v", n, err)
		}
	}
	return 0, ""
}

// effective returns a topic config's value: the override or the default.
func (b *Broker) effective(t *topic, name string) (string, bool) {
	if v, ok := t.configs[name]; ok {
		return v, false
	}
	return topicConfigDef(name).def(b), true
}

func (b *Broker) effectiveInt(t *topic, name string) int64 {
	v, _ := b.effective(t, name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// logConfig turns a topic's effective configs into the partition log's Config,
// and refreshes the per-topic values the produce path reads without locks.
func (b *Broker) logConfig(t *topic) commitlog.Config {
	ts, _ := b.effective(t, "message.timestamp.type")
	t.maxMessageBytes.Store(b.effectiveInt(t, "max.message.bytes"))
	policy, _ := b.effective(t, "cleanup.policy")
	del, compact := false, false
	for _, p := range strings.Split(policy, ",") {
		del = del || strings.TrimSpace(p) == "delete"
		compact = compact || strings.TrimSpace(p) == "compact"
	}
	t.tsBeforeMaxMs.Store(b.effectiveInt(t, "message.timestamp.before.max.ms"))
	t.tsAfterMaxMs.Store(b.effectiveInt(t, "message.timestamp.after.max.ms"))
	t.logAppendTime.Store(ts == "LogAppendTime")
	t.compactAfterMs.Store(-1)
	if compact {
		t.compactAfterMs.Store(b.effectiveInt(t, "delete.retention.ms"))
	}
	cfg := commitlog.Config{
		SegmentBytes:       b.effectiveInt(t, "segment.bytes"),
		SegmentMs:          b.effectiveInt(t, "segment.ms"),
		RetentionMs:        b.effectiveInt(t, "retention.ms"),
		RetentionBytes:     b.effectiveInt(t, "retention.bytes"),
		IndexIntervalBytes: int32(b.effectiveInt(t, "index.interval.bytes")),
		LogAppendTime:      ts == "LogAppendTime",
	}
	if !del { // compact only: nothing is deleted by age or size
		cfg.RetentionMs, cfg.RetentionBytes = -1, -1
	}
	return cfg
}

// setTopicConfigs validates a topic's new overrides and, unless validateOnly,
// replaces the old ones, persists them and applies them to every partition log.
func (b *Broker) setTopicConfigs(t *topic, cfgs map[string]string, validateOnly bool) (int16, string) {
	if code, msg := validateTopicConfigs(cfgs); code != 0 || validateOnly {
		return code, msg
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.topics[t.name] != t {
		return errUnknownTopicOrPartition, fmt.Sprintf("topic %q does not exist", t.name)
	}
	old := t.configs
	t.configs = cfgs
	if err := b.saveCatalogueLocked(); err != nil {
		t.configs = old
		return errKafkaStorage, "persist topic catalogue: " + err.Error()
	}
	lc := b.logConfig(t)
	for _, p := range t.parts {
		p.log.SetConfig(lc)
	}
	return 0, ""
}

// brokerConfigs are the read-only broker settings DescribeConfigs reports.
func (b *Broker) brokerConfigs() []kmsg.DescribeConfigsResponseResourceConfig {
	type bc struct {
		name, value string
		typ         kmsg.ConfigType
	}
	list := []bc{
		{"auto.create.topics.enable", strconv.FormatBool(!b.cfg.DisableAutoCreate), kmsg.ConfigTypeBoolean},
		{"broker.id", strconv.Itoa(int(b.cfg.NodeID)), kmsg.ConfigTypeInt},
		{"node.id", strconv.Itoa(int(b.cfg.NodeID)), kmsg.ConfigTypeInt},
		{"log.dirs", b.cfg.DataDir, kmsg.ConfigTypeString},
		{"num.partitions", strconv.Itoa(int(b.cfg.DefaultPartitions)), kmsg.ConfigTypeInt},
		{"default.replication.factor", "1", kmsg.ConfigTypeInt},
		{"socket.request.max.bytes", strconv.Itoa(int(b.cfg.MaxRequestBytes)), kmsg.ConfigTypeInt},
		{"log.retention.check.interval.ms", strconv.FormatInt(b.cfg.RetentionCheckInterval.Milliseconds(), 10), kmsg.ConfigTypeLong},
	}
	for _, d := range topicConfigDefs {
		if d.broker != "" && d.broker != d.name {
			list = append(list, bc{d.broker, d.def(b), d.typ})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	var out []kmsg.DescribeConfigsResponseResourceConfig
	for _, c := range list {
		rc := kmsg.NewDescribeConfigsResponseResourceConfig()
		rc.Name, rc.Value, rc.ReadOnly, rc.Source, rc.ConfigType = c.name, strp(c.value), true, kmsg.ConfigSourceStaticBrokerConfig, c.typ
		out = append(out, rc)
	}
	return out
}

func handleDescribeConfigs(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		want := func(name string) bool { return rr.ConfigNames == nil || slices.Contains(rr.ConfigNames, name) }
		if code := c.configDenied(rr.ResourceType, rr.ResourceName, opDescribeConfigs); code != 0 {
			sr.ErrorCode = code
			resp.Resources = append(resp.Resources, sr)
			continue
		}
		switch rr.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := b.lookup(rr.ResourceName)
			if t == nil {
				sr.ErrorCode, sr.ErrorMessage = errUnknownTopicOrPartition, strp(fmt.Sprintf("topic %q does not exist", rr.ResourceName))
				break
			}
			b.mu.RLock()
			for _, d := range topicConfigDefs {
				if !want(d.name) {
					continue
				}
				v, isDef := b.effective(t, d.name)
				rc := kmsg.NewDescribeConfigsResponseResourceConfig()
				rc.Name, rc.Value, rc.IsDefault, rc.ConfigType = d.name, strp(v), isDef, d.typ
				rc.Source = kmsg.ConfigSourceDynamicTopicConfig
				if isDef {
					rc.Source = kmsg.ConfigSourceDefaultConfig
				}
				if req.Version == 0 {
					rc.Source = kmsg.ConfigSourceUnknown
				}
				if req.IncludeSynonyms {
					if !isDef {
						syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
						syn.Name, syn.Value, syn.Source = d.name, strp(v), kmsg.ConfigSourceDynamicTopicConfig
						rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
					}
					syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					syn.Name, syn.Value, syn.Source = d.broker, strp(d.def(b)), kmsg.ConfigSourceDefaultConfig
					rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
				}
				if req.IncludeDocumentation && d.doc != "" {
					rc.Documentation = strp(d.doc)
				}
				sr.Configs = append(sr.Configs, rc)
			}
			b.mu.RUnlock()
		case kmsg.ConfigResourceTypeBroker:
			if rr.ResourceName != "" && rr.ResourceName != strconv.Itoa(int(b.cfg.NodeID)) {
				sr.ErrorCode, sr.ErrorMessage = errInvalidRequest, strp(fmt.Sprintf("unknown broker %q; this broker is %d", rr.ResourceName, b.cfg.NodeID))
				break
			}
			for _, rc := range b.brokerConfigs() {
				if want(rc.Name) {
					if req.Version == 0 {
						rc.Source = kmsg.ConfigSourceUnknown
					}
					sr.Configs = append(sr.Configs, rc)
				}
			}
		case kmsg.ConfigResourceTypeGroupConfig, kmsg.ConfigResourceTypeClientMetrics:
			// None defined: an empty, successful description, as Kafka gives
			// for a client-metrics subscription that does not exist.
			sr.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
		default:
			sr.ErrorCode, sr.ErrorMessage = errInvalidRequest, strp(fmt.Sprintf("config resource type %d is not supported", rr.ResourceType))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(resp)
}

// alterResource checks the resource of an alter request and returns its topic.
func (b *Broker) alterResource(typ kmsg.ConfigResourceType, name string) (*topic, int16, string) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if t := b.lookup(name); t != nil {
			return t, 0, ""
		}
		return nil, errUnknownTopicOrPartition, fmt.Sprintf("topic %q does not exist", name)
	case kmsg.ConfigResourceTypeBroker:
		return nil, errInvalidRequest, "broker configs are read-only here: set them with tickertape serve flags"
	case kmsg.ConfigResourceTypeGroupConfig:
		return nil, errInvalidRequest, "group configs are not supported: tickertape serves the classic group protocol, whose settings come from each member's join request"
	case kmsg.ConfigResourceTypeClientMetrics:
		return nil, errInvalidRequest, "client-metrics subscriptions are not supported: tickertape does not collect client metrics (KIP-714)"
	default:
		return nil, errInvalidRequest, fmt.Sprintf("config resource type %d is not supported", typ)
	}
}

func handleAlterConfigs(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		t, code, msg := b.alterResource(rr.ResourceType, rr.ResourceName)
		if denied := c.configDenied(rr.ResourceType, rr.ResourceName, opAlterConfigs); denied != 0 {
			code, msg = denied, "not authorized to alter the configs of this resource"
		}
		if code == 0 {
			// AlterConfigs replaces the whole set of overrides.
			cfgs := map[string]string{}
			for _, kv := range rr.Configs {
				if kv.Value == nil {
					code, msg = errInvalidRequest, fmt.Sprintf("null value for %s", kv.Name)
					break
				}
				cfgs[kv.Name] = *kv.Value
			}
			if code == 0 {
				code, msg = b.setTopicConfigs(t, cfgs, req.ValidateOnly)
			}
		}
		if code != 0 {
			sr.ErrorCode, sr.ErrorMessage = code, strp(msg)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(resp)
}

func handleIncrementalAlterConfigs(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		t, code, msg := b.alterResource(rr.ResourceType, rr.ResourceName)
		if denied := c.configDenied(rr.ResourceType, rr.ResourceName, opAlterConfigs); denied != 0 {
			code, msg = denied, "not authorized to alter the configs of this resource"
		}
		if code == 0 {
			b.mu.RLock()
			cfgs := make(map[string]string, len(t.configs))
			for k, v := range t.configs {
				cfgs[k] = v
			}
			b.mu.RUnlock()
			for _, op := range rr.Configs {
				d := topicConfigDef(op.Name)
				if d == nil {
					code, msg = errInvalidConfig, fmt.Sprintf("unknown topic config name: %s", op.Name)
					break
				}
				switch op.Op {
				case kmsg.IncrementalAlterConfigOpSet:
					if op.Value == nil {
						code, msg = errInvalidRequest, fmt.Sprintf("null value for %s", op.Name)
					} else {
						cfgs[op.Name] = *op.Value
					}
				case kmsg.IncrementalAlterConfigOpDelete:
					delete(cfgs, op.Name)
				case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
					if d.typ != kmsg.ConfigTypeList {
						code, msg = errInvalidConfig, fmt.Sprintf("%s is not a list config; APPEND and SUBTRACT apply only to lists", op.Name)
						break
					}
					cur, _ := cfgs[op.Name]
					if _, ok := cfgs[op.Name]; !ok {
						cur = d.def(b)
					}
					cfgs[op.Name] = editList(cur, op.Value, op.Op == kmsg.IncrementalAlterConfigOpAppend)
				default:
					code, msg = errInvalidRequest, fmt.Sprintf("unknown config operation %d", op.Op)
				}
				if code != 0 {
					break
				}
			}
			if code == 0 {
				code, msg = b.setTopicConfigs(t, cfgs, req.ValidateOnly)
			}
		}
		if code != 0 {
			sr.ErrorCode, sr.ErrorMessage = code, strp(msg)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return respond(resp)
}

func editList(cur string, value *string, add bool) string {
	var items []string
	for _, s := range strings.Split(cur, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	if value != nil {
		for _, v := range strings.Split(*value, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if add && !slices.Contains(items, v) {
				items = append(items, v)
			} else if !add {
				items = slices.DeleteFunc(items, func(s string) bool { return s == v })
			}
		}
	}
	return strings.Join(items, ",")
}
