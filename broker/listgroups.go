package broker

// ListGroups, key 16, v0-v5.
//
// Behaviour: every group with its protocol type, filtered by state (v4+) and
// type (v5+: every group here is "classic"), case-insensitive as in Kafka.

import (
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(16, 0, 5, handleListGroups)
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
	all := c.allowedCluster(opDescribe) // else: only the groups the principal may describe
	for _, id := range ids {
		if !all && !c.allowed(opDescribe, resGroup, id) {
			continue
		}
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
