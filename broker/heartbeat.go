package broker

// Heartbeat, key 12, v0-v4.
//
// Behaviour: resets the member's session timer (a new epoch, so a timer that
// already fired does nothing) and says REBALANCE_IN_PROGRESS while the group
// rebalances.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(12, 0, 4, handleHeartbeat)
}

func handleHeartbeat(c *conn, kreq kmsg.Request) reply {
	co := c.b.groups
	req := kreq.(*kmsg.HeartbeatRequest)
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !c.allowed(opRead, resGroup, req.Group) {
		resp.ErrorCode = errGroupAuthorization
		return respond(resp)
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	g, m, code := co.memberOfLocked(req.Group, req.MemberID, req.InstanceID, req.Generation)
	if g == nil {
		resp.ErrorCode = code
		return respond(resp)
	}
	if m != nil {
		co.resetSessionLocked(g, m)
	}
	if code == 0 && g.state == groupPreparingRebalance {
		code = errRebalanceInProgress
	}
	resp.ErrorCode = code
	return respond(resp)
}
