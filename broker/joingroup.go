package broker

// JoinGroup, key 11, v0-v9.
//
// Behaviour: the member-id-required round trip (v4+, KIP-394), static
// membership (group.instance.id, v5+), protocol selection by vote among the
// protocols every member supports; the reply is deferred until the join phase
// completes (groups.go). Left out: KIP-848.

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(11, 0, 9, handleJoinGroup)
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
	case !c.allowed(opRead, resGroup, req.Group):
		return joinError(req, errGroupAuthorization)
	case req.Group == "":
		return joinError(req, errInvalidGroupID)
	case session < b.cfg.GroupMinSessionTimeout || session > b.cfg.GroupMaxSessionTimeout:
		return joinError(req, errInvalidSessionTimeout)
	case req.ProtocolType == "" || len(req.Protocols) == 0:
		return joinError(req, errInconsistentGroupProtocol)
	}
	instanceID := ""
	if req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, true)
	if g.state == groupDead {
		return joinError(req, errCoordinatorNotAvailable)
	}
	if len(g.members) > 0 && (g.protocolType != req.ProtocolType || !g.supportsAny(req.Protocols)) {
		return joinError(req, errInconsistentGroupProtocol)
	}
	if g.cg != nil && len(g.cg.members) > 0 { // a KIP-848 consumer group with members
		return joinError(req, errInconsistentGroupProtocol)
	}
	g.cg = nil
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
				resp.ErrorCode, resp.Generation, resp.MemberID = errMemberIDRequired, -1, memberID
				return respond(resp)
			}
		}
	} else {
		if t, ok := g.pending[memberID]; ok {
			t.Stop()
			delete(g.pending, memberID)
		} else if m := g.members[memberID]; m == nil {
			return joinError(req, errUnknownMemberID)
		} else if instanceID != "" && m.instanceID != instanceID {
			return joinError(req, errFencedInstanceID)
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
		m.joinCh <- &kmsg.JoinGroupResponse{Version: m.joinVersion, ErrorCode: errRebalanceInProgress, Generation: -1, MemberID: m.id}
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
			return joinError(req, errCoordinatorNotAvailable)
		}
	}}
}

func remoteHost(c *conn) string {
	if c.nc == nil {
		return ""
	}
	return "/" + c.nc.RemoteAddr().String()
}
