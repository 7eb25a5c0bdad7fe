package broker

// The classic consumer-group coordinator's state machine. The API handlers
// are thin files of their own (findcoordinator.go, joingroup.go,
// syncgroup.go, heartbeat.go, leavegroup.go, describegroups.go,
// listgroups.go, deletegroups.go, offsetcommit.go, offsetfetch.go,
// offsetdelete.go); the store (__consumer_offsets: persist, replay, expiry)
// is offsets.go.
//
// Behaviour: this broker coordinates every group. Kafka's state machine (Empty,
// PreparingRebalance, CompletingRebalance, Stable, Dead) with generations,
// session and rebalance timeouts, the member-id-required round trip (JoinGroup
// v4+), static membership (group.instance.id), protocol selection by vote among
// the protocols every member supports, and a short initial rebalance delay so
// that members starting together land in one generation. The broker never looks
// inside assignments: the leader assigns, so eager and cooperative clients work
// alike. Group metadata and offsets are written to __consumer_offsets in Kafka's
// record formats (see offsets.go) and reloaded on start; reloaded groups come
// back Empty with their generation, and their members rejoin.
// Concurrency: one coordinator mutex guards every group; waits (JoinGroup,
// SyncGroup) are deferred replies fed by channels, timers call back under the
// mutex. Transactional offsets (TxnOffsetCommit) are txnoffsets.go; the
// KIP-848 consumer protocol (ConsumerGroupHeartbeat) is consumer848.go.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type groupState string

const (
	groupEmpty               groupState = "Empty"
	groupPreparingRebalance  groupState = "PreparingRebalance"
	groupCompletingRebalance groupState = "CompletingRebalance"
	groupStable              groupState = "Stable"
	groupDead                groupState = "Dead"
)

type member struct {
	id, instanceID, clientID, clientHost string
	sessionTimeout, rebalanceTimeout     time.Duration
	protocols                            []kmsg.JoinGroupRequestProtocol
	assignment                           []byte
	joinCh                               chan *kmsg.JoinGroupResponse // set while waiting in JoinGroup
	joinVersion                          int16
	syncCh                               chan *kmsg.SyncGroupResponse // set while waiting in SyncGroup
	syncVersion                          int16
	timer                                *time.Timer
	// sessionEpoch names the current session timer: a callback that fired
	// while the lock was held by a heartbeat finds a newer epoch and does
	// nothing (Timer.Stop cannot recall a callback that already started).
	sessionEpoch uint64
}

type group struct {
	id           string
	state        groupState
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	static       map[string]string      // instance id -> member id
	pending      map[string]*time.Timer // member ids handed out by MEMBER_ID_REQUIRED, not yet joined
	offsets      map[topicPartition]committedOffset
	rebalance    *time.Timer
	// rebalanceEpoch names the current rebalance timer, as sessionEpoch does
	// a member's session timer.
	rebalanceEpoch uint64
	delaying       bool // the initial rebalance delay is running
	emptySince     time.Time
	stateSince     time.Time
	cg             *cgroup // set for a KIP-848 consumer group (consumer848.go)
}

type topicPartition struct {
	topic     string
	partition int32
}

type committedOffset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	commitMs    int64
	// recordOffset is where the commit's record is in __consumer_offsets.
	// When a transaction's offsets are committed, a partition keeps whichever
	// commit was written later, as in Kafka: compaction keeps only the later
	// record, so a replay after it agrees.
	recordOffset int64
}

// coordinator owns every group; mu guards all of them.
type coordinator struct {
	b      *Broker
	mu     sync.Mutex
	groups map[string]*group
	// skippedBatches counts __consumer_offsets batches the replay could not read.
	skippedBatches int
	txnOffsets     txnPending // TxnOffsetCommit's undecided offsets (txnoffsets.go)
}

func (co *coordinator) getGroup(id string, create bool) *group {
	g := co.groups[id]
	if g == nil && create {
		g = &group{id: id, state: groupEmpty, members: map[string]*member{}, static: map[string]string{},
			pending: map[string]*time.Timer{}, offsets: map[topicPartition]committedOffset{}, emptySince: time.Now(), stateSince: time.Now()}
		co.groups[id] = g
	}
	return g
}

func (g *group) setState(s groupState) {
	g.state, g.stateSince = s, time.Now()
	if s == groupEmpty {
		g.emptySince = time.Now()
	}
}

func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	if clientID == "" {
		clientID = "member"
	}
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func sameProtocols(a, b []kmsg.JoinGroupRequestProtocol) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || string(a[i].Metadata) != string(b[i].Metadata) {
			return false
		}
	}
	return true
}

// supportsAny reports whether some protocol is supported by every member and the joiner.
func (g *group) supportsAny(ps []kmsg.JoinGroupRequestProtocol) bool {
	for _, p := range ps {
		all := true
		for _, m := range g.members {
			if !slices.ContainsFunc(m.protocols, func(q kmsg.JoinGroupRequestProtocol) bool { return q.Name == p.Name }) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol every member supports that gets the most
// votes, each member voting for the first of its protocols that all support.
func (g *group) selectProtocol() string {
	var candidates []string
	for _, m := range g.members {
		for _, p := range m.protocols {
			if !slices.Contains(candidates, p.Name) && g.allSupport(p.Name) {
				candidates = append(candidates, p.Name)
			}
		}
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if slices.Contains(candidates, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	sort.Strings(candidates)
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func (g *group) allSupport(name string) bool {
	for _, m := range g.members {
		if !slices.ContainsFunc(m.protocols, func(q kmsg.JoinGroupRequestProtocol) bool { return q.Name == name }) {
			return false
		}
	}
	return true
}

// prepareRebalanceLocked moves the group to PreparingRebalance: members must
// rejoin within the rebalance timeout. A group coming out of Empty first waits
// the initial rebalance delay, so that members starting together share one
// generation.
func (co *coordinator) prepareRebalanceLocked(g *group, initial bool) {
	if g.state == groupPreparingRebalance {
		return
	}
	if g.state == groupCompletingRebalance {
		// Members waiting in SyncGroup learn that they must rejoin.
		for _, m := range g.members {
			if m.syncCh != nil {
				m.syncCh <- &kmsg.SyncGroupResponse{Version: m.syncVersion, ErrorCode: errRebalanceInProgress}
				m.syncCh = nil
			}
		}
	}
	g.setState(groupPreparingRebalance)
	if g.rebalance != nil {
		g.rebalance.Stop()
	}
	timeout := time.Duration(0)
	for _, m := range g.members {
		timeout = max(timeout, m.rebalanceTimeout)
	}
	g.delaying = initial && co.b.cfg.GroupInitialRebalanceDelay > 0
	if g.delaying {
		timeout = min(timeout, co.b.cfg.GroupInitialRebalanceDelay)
	}
	g.rebalanceEpoch++
	epoch := g.rebalanceEpoch
	g.rebalance = time.AfterFunc(timeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.rebalanceEpoch != epoch {
			return // stopped or replaced after it fired
		}
		g.delaying = false
		if g.state == groupPreparingRebalance {
			co.completeJoinLocked(g, true)
		}
	})
}

// maybeCompleteJoinLocked finishes the join phase once every member has
// rejoined, unless the initial delay is still running.
func (co *coordinator) maybeCompleteJoinLocked(g *group) {
	if g.state != groupPreparingRebalance || g.delaying {
		return
	}
	for _, m := range g.members {
		if m.joinCh == nil {
			return
		}
	}
	co.completeJoinLocked(g, false)
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// removed (when expired), the generation moves on, and every joined member gets
// its JoinGroup response (the leader with the member list).
func (co *coordinator) completeJoinLocked(g *group, expired bool) {
	if g.rebalance != nil {
		g.rebalance.Stop()
		g.rebalance = nil
		g.rebalanceEpoch++
	}
	for _, m := range g.members {
		if m.joinCh == nil {
			if !expired {
				return // still waiting for this member; the rebalance timer will decide
			}
			co.removeMemberLocked(g, m, false)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.protocol, g.leader = "", ""
		g.setState(groupEmpty)
		co.persistGroupLocked(g)
		return
	}
	g.protocol = g.selectProtocol()
	if g.members[g.leader] == nil {
		ids := make([]string, 0, len(g.members))
		for id := range g.members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		g.leader = ids[0]
	}
	g.setState(groupCompletingRebalance)
	for _, m := range g.members {
		m.assignment = nil
		m.joinCh <- co.joinResponseLocked(g, m, m.joinVersion)
		m.joinCh = nil
		co.resetSessionLocked(g, m)
	}
}

func (co *coordinator) joinResponseLocked(g *group, m *member, version int16) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation, resp.Protocol, resp.ProtocolType = g.generation, strp(g.protocol), strp(g.protocolType)
	resp.LeaderID, resp.MemberID = g.leader, m.id
	if m.id == g.leader {
		ids := make([]string, 0, len(g.members))
		for id := range g.members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			o := g.members[id]
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID = o.id
			if o.instanceID != "" {
				rm.InstanceID = strp(o.instanceID)
			}
			for _, p := range o.protocols {
				if p.Name == g.protocol {
					rm.ProtocolMetadata = p.Metadata
				}
			}
			resp.Members = append(resp.Members, rm)
		}
	}
	return resp
}

// removeMemberLocked drops a member; rebalance says whether the group should
// rebalance because of it.
func (co *coordinator) removeMemberLocked(g *group, m *member, rebalance bool) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.sessionEpoch++
	if m.joinCh != nil {
		m.joinCh <- &kmsg.JoinGroupResponse{Version: m.joinVersion, ErrorCode: errUnknownMemberID, Generation: -1, MemberID: m.id}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- &kmsg.SyncGroupResponse{Version: m.syncVersion, ErrorCode: errUnknownMemberID}
		m.syncCh = nil
	}
	delete(g.members, m.id)
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	if !rebalance {
		return
	}
	switch g.state {
	case groupStable, groupCompletingRebalance:
		co.prepareRebalanceLocked(g, false)
		co.maybeCompleteJoinLocked(g)
	case groupPreparingRebalance:
		co.maybeCompleteJoinLocked(g)
	}
}

// resetSessionLocked (re)starts a member's session timer.
func (co *coordinator) resetSessionLocked(g *group, m *member) {
	if m.timer != nil {
		m.timer.Stop()
	}
	timeout := m.sessionTimeout
	if m.joinCh != nil {
		// A member waiting in JoinGroup is alive until the rebalance ends.
		timeout = max(timeout, m.rebalanceTimeout)
	}
	m.sessionEpoch++
	epoch := m.sessionEpoch
	m.timer = time.AfterFunc(timeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.members[m.id] == m && m.sessionEpoch == epoch {
			co.b.log.Debug("group member expired", "group", g.id, "member", m.id)
			co.removeMemberLocked(g, m, true)
		}
	})
}

// checkMember validates a member's generation for Heartbeat, SyncGroup and OffsetCommit.
// memberOfLocked is how a request of a member (Heartbeat, SyncGroup) finds
// its group and itself: a group that does not exist has no members, so the
// member is unknown (g is nil then).
func (co *coordinator) memberOfLocked(groupID, memberID string, instanceID *string, generation int32) (*group, *member, int16) {
	g := co.getGroup(groupID, false)
	if g == nil {
		return nil, nil, errUnknownMemberID
	}
	m, code := g.checkMember(memberID, instanceID, generation)
	return g, m, code
}

func (g *group) checkMember(memberID string, instanceID *string, generation int32) (*member, int16) {
	m := g.members[memberID]
	if m == nil {
		if instanceID != nil && g.static[*instanceID] != "" {
			return nil, errFencedInstanceID
		}
		return nil, errUnknownMemberID
	}
	if instanceID != nil && *instanceID != m.instanceID {
		return nil, errFencedInstanceID
	}
	if generation != g.generation {
		return m, errIllegalGeneration
	}
	return m, 0
}

func hexID(b []byte) string { return hex.EncodeToString(b) }
