package broker

// SyncGroup, key 14, v0-v5.
//
// Behaviour: followers wait (a deferred reply) until the leader sends the
// assignments; the broker never looks inside them, so eager and cooperative
// clients work alike.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(14, 0, 5, handleSyncGroup)
}

func handleSyncGroup(c *conn, kreq kmsg.Request) reply {
	b := c.b
	co := b.groups
	req := kreq.(*kmsg.SyncGroupRequest)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if !c.allowed(opRead, resGroup, req.Group) {
		resp.ErrorCode = errGroupAuthorization
		return respond(resp)
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g, m, code := co.memberOfLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if code == 0 && ((req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol)) {
		code = errInconsistentGroupProtocol
	}
	if code != 0 {
		resp.ErrorCode = code
		return respond(resp)
	}
	resp.ProtocolType, resp.Protocol = strp(g.protocolType), strp(g.protocol)
	co.resetSessionLocked(g, m)
	switch g.state {
	case groupPreparingRebalance:
		resp.ErrorCode = errRebalanceInProgress
		return respond(resp)
	case groupStable:
		resp.MemberAssignment = m.assignment
		return respond(resp)
	case groupCompletingRebalance:
	default:
		resp.ErrorCode = errUnknownMemberID
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
			resp.ErrorCode = errCoordinatorNotAvailable
			return respond(resp)
		}
	}}
}
