package broker

// DescribeGroups, key 15, v0-v5.
//
// Behaviour: state, protocol and members with their metadata and assignments;
// authorized operations (v3+) are READ, DELETE and DESCRIBE (no ACLs yet).

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(15, 0, 5, handleDescribeGroups)
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
			dg.ErrorCode = errInvalidGroupID
		}
		if !c.allowed(opDescribe, resGroup, id) {
			dg.ErrorCode, g = errGroupAuthorization, nil
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
			dg.AuthorizedOperations = c.authorizedOps(resGroup, id, groupOps...)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return respond(resp)
}
