package broker

// DeleteGroups, key 42, v0-v2.
//
// Behaviour: only Empty groups are deleted (NON_EMPTY_GROUP otherwise); the
// deletion is a tombstone in __consumer_offsets.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(42, 0, 2, handleDeleteGroups)
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
		case !c.allowed(opDelete, resGroup, id):
			dg.ErrorCode = errGroupAuthorization
		case id == "":
			dg.ErrorCode = errInvalidGroupID
		case g == nil || g.state == groupDead:
			dg.ErrorCode = errGroupIDNotFound
		case g.state != groupEmpty:
			dg.ErrorCode = errNonEmptyGroup
		default:
			if err := co.deleteGroupLocked(g); err != nil {
				dg.ErrorCode, dg.ErrorMessage = errKafkaStorage, strp(err.Error())
			}
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return respond(resp)
}
