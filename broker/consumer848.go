package broker

// The KIP-848 consumer group protocol: ConsumerGroupHeartbeat key 68 v0-v1
// and ConsumerGroupDescribe key 69 v0-v1, alongside the classic protocol
// (groups.go). A group is of one kind at a time: a consumer heartbeat for a
// classic group with members, or a JoinGroup for a consumer group with
// members, is GROUP_ID_NOT_FOUND / INCONSISTENT_GROUP_PROTOCOL.
//
// Behaviour: the broker assigns. Every change of membership, subscription
// or partition count bumps the group epoch and computes a target assignment
// with the assignor the members ask for: "uniform" (the default: balanced
// across members, sticky to the previous target) or "range" (per topic,
// contiguous ranges over the members subscribed to it, as the classic range
// assignor). Each member then reconciles towards its target: a partition is
// revoked at once (the member stops owning it when its next heartbeat no
// longer lists it) and is handed to its new owner only after the old owner
// released it. A member's epoch moves to the group's epoch once it holds no
// partition outside its target. OffsetCommit from a consumer-group member
// uses the member epoch as generation (STALE_MEMBER_EPOCH when it differs,
// UNKNOWN_MEMBER_ID for strangers). A member silent for the session timeout
// (group.consumer.session.timeout.ms, 45 s) is removed.
// Left out: persistence of consumer-group membership (offsets are durable as
// for classic groups; after a restart members rejoin with UNKNOWN_MEMBER_ID),
// static membership semantics beyond accepting the instance id, rack-aware
// assignment, client-side assignors, upgrades between the two protocols of a
// group with members, ShareGroup.
//
// Authorization, as Kafka's: ConsumerGroupHeartbeat needs READ on the group
// (GROUP_AUTHORIZATION_FAILED) and DESCRIBE on every topic it names in
// SubscribedTopicNames (else TOPIC_AUTHORIZATION_FAILED and nothing changes);
// a regex subscription matches only the topics the member's principal may
// DESCRIBE. ConsumerGroupDescribe needs DESCRIBE on each group
// (GROUP_AUTHORIZATION_FAILED for that group), and a group whose assignments
// name a topic the principal may not DESCRIBE is answered
// TOPIC_AUTHORIZATION_FAILED without its members, as Kafka 4.1 does.

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(68, 0, 1, handleConsumerGroupHeartbeat)
	regKey(69, 0, 1, handleConsumerGroupDescribe)
}

var (
	errUnsupportedAssignor = kerr.UnsupportedAssignor.Code
	errFencedMemberEpoch   = kerr.FencedMemberEpoch.Code
	errStaleMemberEpoch    = kerr.StaleMemberEpoch.Code
)

// consumerSessionTimeout and consumerHeartbeatInterval are
// group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms
// (tests shorten them).
var consumerSessionTimeout, consumerHeartbeatInterval atomic.Int64

func init() {
	consumerSessionTimeout.Store(int64(45 * time.Second))
	consumerHeartbeatInterval.Store(int64(5 * time.Second))
}

type cmember struct {
	id, instanceID, rackID, clientID, clientHost string
	epoch                                        int32
	topics                                       []string // subscribed names
	regex                                        *regexp.Regexp
	regexText                                    string
	assignor                                     string
	assigned                                     map[topicPartition]bool // what it was told it owns
	owned                                        map[topicPartition]bool // what it last said it owns
	sent                                         string                  // the assignment last sent, as a key
	timer                                        *time.Timer
	sessionEpoch                                 uint64
	principal, host                              string // of its last heartbeat: whose DESCRIBE filters its regex
}

// cgroup is the KIP-848 side of a group; guarded by coordinator.mu.
type cgroup struct {
	epoch       int32
	targetEpoch int32
	members     map[string]*cmember
	target      map[string]map[topicPartition]bool // member -> target
	assignor    string
	subsHash    string // topics and partition counts the target was computed for
}

func (g *cgroup) state() string {
	switch {
	case len(g.members) == 0:
		return "Empty"
	case g.targetEpoch != g.epoch:
		return "Assigning"
	}
	for _, m := range g.members {
		if m.epoch != g.targetEpoch || !sameSet(m.assigned, g.target[m.id]) {
			return "Reconciling"
		}
	}
	return "Stable"
}

func sameSet(a, b map[topicPartition]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for tp := range a {
		if !b[tp] {
			return false
		}
	}
	return true
}

// checkCommit validates an OffsetCommit of a consumer-group member.
func (g *cgroup) checkCommit(memberID string, epoch int32) int16 {
	m := g.members[memberID]
	switch {
	case m == nil:
		return errUnknownMemberID
	case epoch != m.epoch:
		return errStaleMemberEpoch
	}
	return 0
}

func handleConsumerGroupHeartbeat(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.ConsumerGroupHeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	fail := func(code int16, msg string) reply {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = strp(msg)
		}
		return respond(resp)
	}
	if !c.allowed(opRead, resGroup, req.Group) {
		return fail(errGroupAuthorization, "")
	}
	if len(req.SubscribedTopicNames) > 0 {
		var denied []string
		for _, name := range req.SubscribedTopicNames {
			if !c.allowed(opDescribe, resTopic, name) && !slices.Contains(denied, name) {
				denied = append(denied, name)
			}
		}
		if len(denied) > 0 {
			slices.Sort(denied)
			return fail(errTopicAuthorization, fmt.Sprintf("not authorized to describe subscribed topics %v: ask for DESCRIBE (or READ) ACLs on them", denied))
		}
	}
	if req.Group == "" {
		return fail(errInvalidGroupID, "the group id is empty")
	}
	assignor := "uniform"
	if req.ServerAssignor != nil && *req.ServerAssignor != "" {
		assignor = *req.ServerAssignor
	}
	if assignor != "uniform" && assignor != "range" {
		return fail(errUnsupportedAssignor, fmt.Sprintf("server assignor %q: this broker has uniform and range", assignor))
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, true)
	if g.cg == nil {
		if len(g.members) > 0 {
			return fail(errGroupIDNotFound, fmt.Sprintf("group %q is a classic group with members: stop them or use group.protocol=classic", req.Group))
		}
		g.cg = &cgroup{members: map[string]*cmember{}, target: map[string]map[topicPartition]bool{}}
		g.protocolType = "consumer"
	}
	cg := g.cg
	m := cg.members[req.MemberID]
	switch {
	case req.MemberEpoch == -1 || req.MemberEpoch == -2: // leave
		if m != nil {
			co.removeCMemberLocked(g, m)
		}
		resp.MemberID, resp.MemberEpoch = strp(req.MemberID), req.MemberEpoch
		return respond(resp)
	case req.MemberEpoch == 0:
		id := req.MemberID
		if id == "" {
			if req.Version >= 1 {
				return fail(errInvalidRequest, "ConsumerGroupHeartbeat v1 needs a member id chosen by the client")
			}
			id = newMemberID(c.clientID)
		}
		if m == nil {
			m = &cmember{id: id, clientID: c.clientID, clientHost: remoteHost(c), assigned: map[topicPartition]bool{}, owned: map[topicPartition]bool{}}
			cg.members[id] = m
			cg.epoch++
		} else {
			// A rejoin of a known member (it lost its state): start over.
			m.assigned, m.owned, m.sent = map[topicPartition]bool{}, map[topicPartition]bool{}, ""
		}
		m.epoch = 0
	case m == nil:
		return fail(errUnknownMemberID, fmt.Sprintf("member %q is not in group %q: rejoin with member epoch 0", req.MemberID, req.Group))
	case req.MemberEpoch != m.epoch:
		return fail(errFencedMemberEpoch, fmt.Sprintf("member epoch %d is not the member's current epoch %d", req.MemberEpoch, m.epoch))
	}
	m.principal, m.host = c.principal, c.host()
	if req.InstanceID != nil {
		m.instanceID = *req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = *req.RackID
	}
	if req.SubscribedTopicNames != nil {
		names := slices.Clone(req.SubscribedTopicNames)
		slices.Sort(names)
		if !slices.Equal(names, m.topics) {
			m.topics = names
			cg.epoch++
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regexText {
		re, err := regexp.Compile(*req.SubscribedTopicRegex)
		if err != nil {
			return fail(kerr.InvalidRegularExpression.Code, fmt.Sprintf("subscribed topic regex %q: %v", *req.SubscribedTopicRegex, err))
		}
		m.regex, m.regexText = re, *req.SubscribedTopicRegex
		cg.epoch++
	}
	if m.assignor != assignor {
		m.assignor = assignor
		cg.epoch++
	}
	if req.Topics != nil {
		m.owned = map[topicPartition]bool{}
		for _, rt := range req.Topics {
			if t := b.lookupID(rt.TopicID); t != nil {
				for _, p := range rt.Partitions {
					m.owned[topicPartition{t.name, p}] = true
				}
			}
		}
		// What it no longer owns it has released.
		for tp := range m.assigned {
			if !m.owned[tp] && !cg.target[m.id][tp] {
				delete(m.assigned, tp)
			}
		}
	}
	co.resetCSessionLocked(g, m)
	co.reassignLocked(g)
	co.reconcileLocked(g)
	resp.MemberID, resp.MemberEpoch = strp(m.id), m.epoch
	resp.HeartbeatIntervalMillis = int32(time.Duration(consumerHeartbeatInterval.Load()).Milliseconds())
	if key := assignmentKey(m.assigned); key != m.sent || req.Topics != nil || req.MemberEpoch == 0 {
		m.sent = key
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		byTopic := map[string][]int32{}
		for _, tp := range sortedPartitions(m.assigned) {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		for _, name := range sortedKeys(byTopic) {
			t := b.lookup(name)
			if t == nil {
				continue
			}
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID, at.Partitions = t.id, byTopic[name]
			a.Topics = append(a.Topics, at)
		}
		resp.Assignment = &a
	}
	return respond(resp)
}

func assignmentKey(m map[topicPartition]bool) string {
	return fmt.Sprint(sortedPartitions(m))
}

func (co *coordinator) removeCMemberLocked(g *group, m *cmember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.sessionEpoch++
	delete(g.cg.members, m.id)
	delete(g.cg.target, m.id)
	g.cg.epoch++
	co.reassignLocked(g)
	co.reconcileLocked(g)
	if len(g.cg.members) == 0 {
		g.emptySince = time.Now()
	}
}

func (co *coordinator) resetCSessionLocked(g *group, m *cmember) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.sessionEpoch++
	epoch := m.sessionEpoch
	m.timer = time.AfterFunc(time.Duration(consumerSessionTimeout.Load()), func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.cg != nil && g.cg.members[m.id] == m && m.sessionEpoch == epoch {
			co.b.log.Debug("consumer group member session expired", "group", g.id, "member", m.id)
			co.removeCMemberLocked(g, m)
		}
	})
}

// subscribedTopics lists the existing topics a member subscribes to.
func (co *coordinator) subscribedTopics(m *cmember) []*topic {
	b := co.b
	var out []*topic
	seen := map[string]bool{}
	for _, name := range m.topics {
		if t := b.lookup(name); t != nil && !seen[name] {
			out, seen[name] = append(out, t), true
		}
	}
	if m.regex != nil {
		b.mu.RLock()
		for name, t := range b.topics {
			if !seen[name] && !isKafkaInternal(name) && m.regex.MatchString(name) && b.allowedAs(m.principal, m.host, opDescribe, resTopic, name) {
				out, seen[name] = append(out, t), true
			}
		}
		b.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// reassignLocked computes a new target assignment when the group epoch moved
// or a subscribed topic's partition count changed.
func (co *coordinator) reassignLocked(g *group) {
	cg := g.cg
	subs := map[string][]*topic{}
	hash := ""
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	assignor := "uniform"
	for _, id := range ids {
		m := cg.members[id]
		subs[id] = co.subscribedTopics(m)
		hash += id + ":"
		for _, t := range subs[id] {
			co.b.mu.RLock()
			hash += fmt.Sprintf("%s/%d,", t.name, len(t.parts))
			co.b.mu.RUnlock()
		}
		if m.assignor == "range" {
			assignor = "range"
		}
	}
	if cg.targetEpoch == cg.epoch && hash == cg.subsHash {
		return
	}
	if hash != cg.subsHash && cg.targetEpoch == cg.epoch {
		cg.epoch++ // the metadata changed
	}
	cg.subsHash, cg.assignor = hash, assignor
	prev := cg.target
	target := map[string]map[topicPartition]bool{}
	for _, id := range ids {
		target[id] = map[topicPartition]bool{}
	}
	parts := func(t *topic) int32 {
		co.b.mu.RLock()
		defer co.b.mu.RUnlock()
		return int32(len(t.parts))
	}
	// Every topic and the members subscribed to it.
	byTopic := map[string][]string{}
	topics := map[string]*topic{}
	for _, id := range ids {
		for _, t := range subs[id] {
			byTopic[t.name] = append(byTopic[t.name], id)
			topics[t.name] = t
		}
	}
	names := sortedKeys(byTopic)
	if assignor == "range" {
		for _, name := range names {
			ms := byTopic[name]
			n := parts(topics[name])
			per, extra := n/int32(len(ms)), n%int32(len(ms))
			p := int32(0)
			for i, id := range ms {
				cnt := per
				if int32(i) < extra {
					cnt++
				}
				for k := int32(0); k < cnt; k++ {
					target[id][topicPartition{name, p}] = true
					p++
				}
			}
		}
	} else {
		// Uniform: keep each partition with its previous target owner while
		// that owner is below its fair share, then give the rest to the
		// least loaded eligible member.
		var all []topicPartition
		for _, name := range names {
			for p := int32(0); p < parts(topics[name]); p++ {
				all = append(all, topicPartition{name, p})
			}
		}
		eligible := func(id, topicName string) bool { return slices.Contains(byTopic[topicName], id) }
		quota := 0
		if len(ids) > 0 {
			quota = (len(all) + len(ids) - 1) / len(ids)
		}
		var rest []topicPartition
		for _, tp := range all {
			kept := false
			for _, id := range ids {
				if prev[id][tp] && eligible(id, tp.topic) && len(target[id]) < quota {
					target[id][tp], kept = true, true
					break
				}
			}
			if !kept {
				rest = append(rest, tp)
			}
		}
		for _, tp := range rest {
			best := ""
			for _, id := range ids {
				if eligible(id, tp.topic) && (best == "" || len(target[id]) < len(target[best])) {
					best = id
				}
			}
			if best != "" {
				target[best][tp] = true
			}
		}
	}
	cg.target, cg.targetEpoch = target, cg.epoch
}

// reconcileLocked moves every member towards its target: partitions outside
// it are revoked, partitions in it are given once no other member holds
// them, and the member epoch follows the target epoch once nothing is left
// to revoke.
func (co *coordinator) reconcileLocked(g *group) {
	cg := g.cg
	held := func(tp topicPartition, except string) bool {
		for id, o := range cg.members {
			if id != except && (o.assigned[tp] || o.owned[tp]) {
				return true
			}
		}
		return false
	}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := cg.members[id]
		want := cg.target[id]
		for tp := range m.assigned {
			if !want[tp] {
				delete(m.assigned, tp)
			}
		}
		for tp := range want {
			if !m.assigned[tp] && !held(tp, id) {
				m.assigned[tp] = true
			}
		}
		pending := false
		for tp := range m.owned {
			if !want[tp] {
				pending = true // still to be revoked by the member
			}
		}
		if !pending {
			m.epoch = cg.targetEpoch
		}
	}
}

func handleConsumerGroupDescribe(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.ConsumerGroupDescribeRequest)
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	assignment := func(m map[topicPartition]bool) kmsg.Assignment {
		a := kmsg.NewAssignment()
		byTopic := map[string][]int32{}
		for _, tp := range sortedPartitions(m) {
			byTopic[tp.topic] = append(byTopic[tp.topic], tp.partition)
		}
		for _, name := range sortedKeys(byTopic) {
			at := kmsg.NewAssignmentTopicPartition()
			at.Topic, at.Partitions = name, byTopic[name]
			if t := b.lookup(name); t != nil {
				at.TopicID = t.id
			}
			a.TopicPartitions = append(a.TopicPartitions, at)
		}
		return a
	}
	for _, id := range req.Groups {
		sg := kmsg.NewConsumerGroupDescribeResponseGroup()
		sg.Group = id
		g := co.groups[id]
		switch {
		case !c.allowed(opDescribe, resGroup, id):
			sg.ErrorCode = errGroupAuthorization
		case g == nil || g.state == groupDead:
			sg.ErrorCode, sg.ErrorMessage = errGroupIDNotFound, strp(fmt.Sprintf("group %q does not exist", id))
		case g.cg == nil:
			sg.ErrorCode, sg.ErrorMessage = errGroupIDNotFound, strp(fmt.Sprintf("group %q is not a consumer group (it uses the classic protocol)", id))
		default:
			cg := g.cg
			sg.State, sg.Epoch, sg.AssignmentEpoch = cg.state(), cg.epoch, cg.targetEpoch
			sg.AssignorName = cmpOr(cg.assignor, "uniform")
			for _, mid := range sortedKeys(cg.members) {
				m := cg.members[mid]
				sm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
				sm.MemberID, sm.MemberEpoch, sm.ClientID, sm.ClientHost = m.id, m.epoch, m.clientID, m.clientHost
				if m.instanceID != "" {
					sm.InstanceID = strp(m.instanceID)
				}
				if m.rackID != "" {
					sm.RackID = strp(m.rackID)
				}
				sm.SubscribedTopics = m.topics
				if m.regex != nil {
					sm.SubscribedTopicRegex = strp(m.regexText)
				}
				sm.Assignment, sm.TargetAssignment = assignment(m.assigned), assignment(cg.target[m.id])
				sm.MemberType = 1 // consumer
				sg.Members = append(sg.Members, sm)
			}
			if req.IncludeAuthorizedOperations {
				sg.AuthorizedOperations = c.authorizedOps(resGroup, id, groupOps...)
			}
			if !c.mayDescribeAssignments(sg.Members) {
				sg = kmsg.NewConsumerGroupDescribeResponseGroup()
				sg.Group, sg.ErrorCode = id, errTopicAuthorization
				sg.ErrorMessage = strp("The group has described topic(s) that the client is not authorized to describe.")
			}
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return respond(resp)
}

// mayDescribeAssignments reports whether the principal may DESCRIBE every
// topic in the members' current and target assignments.
func (c *conn) mayDescribeAssignments(members []kmsg.ConsumerGroupDescribeResponseGroupMember) bool {
	for _, m := range members {
		for _, a := range []kmsg.Assignment{m.Assignment, m.TargetAssignment} {
			for _, tp := range a.TopicPartitions {
				if !c.allowed(opDescribe, resTopic, tp.Topic) {
					return false
				}
			}
		}
	}
	return true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stopConsumerGroupTimersLocked cancels the session timers of every
// consumer-group member (broker shutdown).
func (co *coordinator) stopConsumerGroupTimersLocked() {
	for _, g := range co.groups {
		if g.cg == nil {
			continue
		}
		for _, m := range g.cg.members {
			if m.timer != nil {
				m.timer.Stop()
			}
			m.sessionEpoch++
		}
	}
}
