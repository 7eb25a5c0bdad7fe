package broker

// The classic consumer-group coordinator: FindCoordinator (key 10, v0-v6),
// JoinGroup (11, v0-v9), Heartbeat (12, v0-v4), LeaveGroup (13, v0-v5),
// SyncGroup (14, v0-v5), DescribeGroups (15, v0-v5), ListGroups (16, v0-v5),
// DeleteGroups (42, v0-v2); offsets are in offsets.go.
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
// mutex. Left out: KIP-848 (ConsumerGroupHeartbeat), transaction coordinators
// (FindCoordinator for transactions answers COORDINATOR_NOT_AVAILABLE).

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(10, 0, 6, handleFindCoordinator)
	regKey(11, 0, 9, handleJoinGroup)
	regKey(12, 0, 4, handleHeartbeat)
	regKey(13, 0, 5, handleLeaveGroup)
	regKey(14, 0, 5, handleSyncGroup)
	regKey(15, 0, 5, handleDescribeGroups)
	regKey(16, 0, 5, handleListGroups)
	regKey(42, 0, 2, handleDeleteGroups)
}

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
	delaying     bool // the initial rebalance delay is running
	emptySince   time.Time
	stateSince   time.Time
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
}

// coordinator owns every group; mu guards all of them.
type coordinator struct {
	b      *Broker
	mu     sync.Mutex
	groups map[string]*group
	// skippedBatches counts __consumer_offsets batches the replay could not read.
	skippedBatches int
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

func handleFindCoordinator(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := b.advertised()
	answer := func(key string) (int16, *string) {
		switch req.CoordinatorType {
		case 0:
			if key == "" {
				return kerr.InvalidGroupID.Code, strp("the group id is empty")
			}
			return 0, nil
		case 1:
			return kerr.CoordinatorNotAvailable.Code, strp("transactions are not supported by this broker yet")
		default:
			return kerr.InvalidRequest.Code, strp(fmt.Sprintf("coordinator type %d is not supported", req.CoordinatorType))
		}
	}
	if req.Version < 4 {
		code, msg := answer(req.CoordinatorKey)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		resp.NodeID, resp.Host, resp.Port = b.cfg.NodeID, host, port
		if code != 0 {
			resp.NodeID, resp.Host, resp.Port = -1, "", -1
		}
		return respond(resp)
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.ErrorCode, rc.ErrorMessage = answer(key)
		rc.NodeID, rc.Host, rc.Port = b.cfg.NodeID, host, port
		if rc.ErrorCode != 0 {
			rc.NodeID, rc.Host, rc.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return respond(resp)
}

func joinError(req *kmsg.JoinGroupRequest, code int16) reply {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, req.MemberID
	return respond(resp)
}

func handleJoinGroup(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.JoinGroupRequest)
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 {
		rebalance = session
	}
	switch {
	case req.Group == "":
		return joinError(req, kerr.InvalidGroupID.Code)
	case session < b.cfg.GroupMinSessionTimeout || session > b.cfg.GroupMaxSessionTimeout:
		return joinError(req, kerr.InvalidSessionTimeout.Code)
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return joinError(req, kerr.InconsistentGroupProtocol.Code)
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, true)
	if g.state == groupDead {
		return joinError(req, kerr.CoordinatorNotAvailable.Code)
	}
	if len(g.members) > 0 && (g.protocolType != req.ProtocolType || !g.supportsAny(req.Protocols)) {
		return joinError(req, kerr.InconsistentGroupProtocol.Code)
	}
	memberID := req.MemberID
	if memberID == "" {
		if instanceID != "" {
			// A static member restarting: it takes over its old slot, and the old
			// member id is fenced.
			if old, ok := g.static[instanceID]; ok {
				if m := g.members[old]; m != nil {
					co.removeMemberLocked(g, m, false)
				}
			}
			memberID = newMemberID(instanceID)
		} else {
			memberID = newMemberID(c.clientID)
			if req.Version >= 4 {
				// KIP-394: hand out the id and ask the client to join with it.
				timeout := session
				g.pending[memberID] = time.AfterFunc(timeout, func() {
					co.mu.Lock()
					delete(g.pending, memberID)
					co.mu.Unlock()
				})
				resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
				resp.ErrorCode, resp.Generation, resp.MemberID = kerr.MemberIDRequired.Code, -1, memberID
				return respond(resp)
			}
		}
	} else {
		if t, ok := g.pending[memberID]; ok {
			t.Stop()
			delete(g.pending, memberID)
		} else if m := g.members[memberID]; m == nil {
			return joinError(req, kerr.UnknownMemberID.Code)
		} else if instanceID != "" && m.instanceID != instanceID {
			return joinError(req, kerr.FencedInstanceID.Code)
		}
	}
	m := g.members[memberID]
	isNew := m == nil
	if isNew {
		m = &member{id: memberID, instanceID: instanceID, clientID: c.clientID, clientHost: remoteHost(c)}
		g.members[memberID] = m
		if instanceID != "" {
			g.static[instanceID] = memberID
		}
	}
	changed := !sameProtocols(m.protocols, req.Protocols)
	m.sessionTimeout, m.rebalanceTimeout, m.protocols = session, rebalance, req.Protocols
	if m.joinCh != nil {
		// A duplicate join while the first one waits: answer the old one as superseded.
		m.joinCh <- &kmsg.JoinGroupResponse{Version: m.joinVersion, ErrorCode: kerr.RebalanceInProgress.Code, Generation: -1, MemberID: m.id}
	}
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	m.joinCh, m.joinVersion = ch, req.Version
	g.protocolType = req.ProtocolType
	co.resetSessionLocked(g, m)

	switch g.state {
	case groupEmpty, groupStable, groupCompletingRebalance:
		if !isNew && !changed && g.state != groupEmpty && m.id != g.leader {
			// Nothing changed for a follower: answer with the current generation.
			m.joinCh = nil
			ch <- co.joinResponseLocked(g, m, req.Version)
			break
		}
		co.prepareRebalanceLocked(g, g.state == groupEmpty)
	case groupPreparingRebalance:
	}
	co.maybeCompleteJoinLocked(g)
	return reply{wait: func() reply {
		select {
		case resp := <-ch:
			return respond(resp)
		case <-b.closed:
			return joinError(req, kerr.CoordinatorNotAvailable.Code)
		}
	}}
}

func remoteHost(c *conn) string {
	if c.nc == nil {
		return ""
	}
	return "/" + c.nc.RemoteAddr().String()
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
				m.syncCh <- &kmsg.SyncGroupResponse{Version: m.syncVersion, ErrorCode: kerr.RebalanceInProgress.Code}
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
	g.rebalance = time.AfterFunc(timeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
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
	if m.joinCh != nil {
		m.joinCh <- &kmsg.JoinGroupResponse{Version: m.joinVersion, ErrorCode: kerr.UnknownMemberID.Code, Generation: -1, MemberID: m.id}
		m.joinCh = nil
	}
	if m.syncCh != nil {
		m.syncCh <- &kmsg.SyncGroupResponse{Version: m.syncVersion, ErrorCode: kerr.UnknownMemberID.Code}
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
	m.timer = time.AfterFunc(timeout, func() {
		co.mu.Lock()
		defer co.mu.Unlock()
		if g.members[m.id] == m {
			co.b.log.Debug("group member expired", "group", g.id, "member", m.id)
			co.removeMemberLocked(g, m, true)
		}
	})
}

// checkMember validates a member's generation for Heartbeat, SyncGroup and OffsetCommit.
func (g *group) checkMember(memberID string, instanceID *string, generation int32) (*member, int16) {
	m := g.members[memberID]
	if m == nil {
		if instanceID != nil && g.static[*instanceID] != "" {
			return nil, kerr.FencedInstanceID.Code
		}
		return nil, kerr.UnknownMemberID.Code
	}
	if instanceID != nil && *instanceID != m.instanceID {
		return nil, kerr.FencedInstanceID.Code
	}
	if generation != g.generation {
		return m, kerr.IllegalGeneration.Code
	}
	return m, 0
}

func handleSyncGroup(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, false)
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return respond(resp)
	}
	m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if code == 0 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol)) {
		code = kerr.InconsistentGroupProtocol.Code
	}
	if code != 0 {
		resp.ErrorCode = code
		return respond(resp)
	}
	resp.ProtocolType, resp.Protocol = strp(g.protocolType), strp(g.protocol)
	co.resetSessionLocked(g, m)
	switch g.state {
	case groupPreparingRebalance:
		resp.ErrorCode = kerr.RebalanceInProgress.Code
		return respond(resp)
	case groupStable:
		resp.MemberAssignment = m.assignment
		return respond(resp)
	case groupCompletingRebalance:
	default:
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return respond(resp)
	}
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	m.syncCh, m.syncVersion = ch, req.Version
	if m.id == g.leader {
		for _, a := range req.GroupAssignment {
			if o := g.members[a.MemberID]; o != nil {
				o.assignment = a.MemberAssignment
			}
		}
		g.setState(groupStable)
		co.persistGroupLocked(g)
		for _, o := range g.members {
			if o.syncCh != nil {
				r := kmsg.NewPtrSyncGroupResponse()
				r.Version, r.MemberAssignment = o.syncVersion, o.assignment
				r.ProtocolType, r.Protocol = strp(g.protocolType), strp(g.protocol)
				o.syncCh <- r
				o.syncCh = nil
			}
		}
	}
	return reply{wait: func() reply {
		select {
		case r := <-ch:
			return respond(r)
		case <-b.closed:
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return respond(resp)
		}
	}}
}

func handleHeartbeat(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, false)
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		return respond(resp)
	}
	m, code := g.checkMember(req.MemberID, req.InstanceID, req.Generation)
	if m != nil {
		co.resetSessionLocked(g, m)
	}
	if code == 0 && g.state == groupPreparingRebalance {
		code = kerr.RebalanceInProgress.Code
	}
	resp.ErrorCode = code
	return respond(resp)
}

func handleLeaveGroup(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, false)
	leave := func(memberID string, instanceID *string) int16 {
		if g == nil {
			return kerr.UnknownMemberID.Code
		}
		if instanceID != nil {
			id, ok := g.static[*instanceID]
			if !ok {
				return kerr.UnknownMemberID.Code
			}
			if memberID != "" && memberID != id {
				return kerr.FencedInstanceID.Code
			}
			memberID = id
		}
		m := g.members[memberID]
		if m == nil {
			return kerr.UnknownMemberID.Code
		}
		co.removeMemberLocked(g, m, true)
		return 0
	}
	if req.Version < 3 {
		resp.ErrorCode = leave(req.MemberID, nil)
		return respond(resp)
	}
	for _, rm := range req.Members {
		lm := kmsg.NewLeaveGroupResponseMember()
		lm.MemberID, lm.InstanceID = rm.MemberID, rm.InstanceID
		lm.ErrorCode = leave(rm.MemberID, rm.InstanceID)
		resp.Members = append(resp.Members, lm)
	}
	return respond(resp)
}

func handleListGroups(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.ListGroupsRequest)
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	ids := make([]string, 0, len(co.groups))
	for id := range co.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := co.groups[id]
		if g.state == groupDead {
			continue
		}
		if len(req.StatesFilter) > 0 && !slices.ContainsFunc(req.StatesFilter, func(s string) bool { return equalFoldASCII(s, string(g.state)) }) {
			continue
		}
		if len(req.TypesFilter) > 0 && !slices.ContainsFunc(req.TypesFilter, func(s string) bool { return equalFoldASCII(s, "classic") }) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = g.id, g.protocolType, string(g.state), "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return respond(resp)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

func handleDescribeGroups(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.DescribeGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group, dg.State = id, string(groupDead)
		g := co.groups[id]
		if id == "" {
			dg.ErrorCode = kerr.InvalidGroupID.Code
		}
		if g != nil {
			dg.State, dg.ProtocolType = string(g.state), g.protocolType
			if g.state == groupStable || g.state == groupCompletingRebalance {
				dg.Protocol = g.protocol
			}
			ids := make([]string, 0, len(g.members))
			for id := range g.members {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, mid := range ids {
				m := g.members[mid]
				dm := kmsg.NewDescribeGroupsResponseGroupMember()
				dm.MemberID, dm.ClientID, dm.ClientHost = m.id, m.clientID, m.clientHost
				if m.instanceID != "" {
					dm.InstanceID = strp(m.instanceID)
				}
				for _, p := range m.protocols {
					if p.Name == g.protocol {
						dm.ProtocolMetadata = p.Metadata
					}
				}
				if g.state == groupStable {
					dm.MemberAssignment = m.assignment
				}
				dg.Members = append(dg.Members, dm)
			}
		}
		if req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = 1<<3 | 1<<6 | 1<<8 // READ, DELETE, DESCRIBE
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return respond(resp)
}

func handleDeleteGroups(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.DeleteGroupsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		g := co.groups[id]
		switch {
		case id == "":
			dg.ErrorCode = kerr.InvalidGroupID.Code
		case g == nil || g.state == groupDead:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		case g.state != groupEmpty:
			dg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			if err := co.deleteGroupLocked(g); err != nil {
				dg.ErrorCode, dg.ErrorMessage = errKafkaStorage, strp(err.Error())
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return respond(resp)
}

func hexID(b []byte) string { return hex.EncodeToString(b) }
