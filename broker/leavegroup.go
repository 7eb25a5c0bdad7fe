package broker

// LeaveGroup, key 13, v0-v5.
//
// Behaviour: one member (v0-v2) or a batch of members by id or instance id
// (v3+, KIP-345) leave; the group rebalances without them.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(13, 0, 5, handleLeaveGroup)
}

func handleLeaveGroup(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.LeaveGroupRequest)
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !c.allowed(opRead, resGroup, req.Group) {
		resp.ErrorCode = errGroupAuthorization
		return respond(resp)
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.getGroup(req.Group, false)
	leave := func(memberID string, instanceID *string) int16 {
		if g == nil {
			return errUnknownMemberID
		}
		if instanceID != nil {
			id, ok := g.static[*instanceID]
			if !ok {
				return errUnknownMemberID
			}
			if memberID != "" && memberID != id {
				return errFencedInstanceID
			}
			memberID = id
		}
		m := g.members[memberID]
		if m == nil {
			return errUnknownMemberID
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
