package broker

// ListConfigResources (key 74, v0-v1; v0 was ListClientMetricsResources).
//
// Behaviour: v0, and v1 with no types, list client-metrics resources (there
// are none: this broker defines no client-metrics subscriptions). v1 lists
// topics (every topic, internal ones too), the broker (its node id), groups
// (every group that is not Dead) and client-metrics (none). Broker logger
// resources answer INVALID_REQUEST, as they are not describable here either.
// kafka-configs --describe --entity-type groups|client-metrics without an
// entity name starts with this request.

import (
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(74, 0, 1, handleListConfigResources)
}

func handleListConfigResources(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.ListConfigResourcesRequest)
	resp := req.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	resp.ConfigResources = []kmsg.ListConfigResourcesResponseConfigResource{}
	if !c.allowedCluster(opDescribeConfigs) {
		resp.ErrorCode = errClusterAuthorization
		return respond(resp)
	}
	types := req.ResourceTypes
	if req.Version == 0 || len(types) == 0 {
		types = []int8{int8(kmsg.ConfigResourceTypeClientMetrics)}
	}
	add := func(typ kmsg.ConfigResourceType, names []string) {
		sort.Strings(names)
		for _, n := range names {
			r := kmsg.NewListConfigResourcesResponseConfigResource()
			r.Name, r.Type = n, int8(typ)
			resp.ConfigResources = append(resp.ConfigResources, r)
		}
	}
	for _, t := range types {
		switch kmsg.ConfigResourceType(t) {
		case kmsg.ConfigResourceTypeTopic:
			b.mu.RLock()
			names := make([]string, 0, len(b.topics))
			for n := range b.topics {
				names = append(names, n)
			}
			b.mu.RUnlock()
			add(kmsg.ConfigResourceTypeTopic, names)
		case kmsg.ConfigResourceTypeBroker:
			add(kmsg.ConfigResourceTypeBroker, []string{strconv.Itoa(int(b.cfg.NodeID))})
		case kmsg.ConfigResourceTypeGroupConfig:
			co := b.groups
			co.mu.Lock()
			var names []string
			for id, g := range co.groups {
				if g.state != groupDead {
					names = append(names, id)
				}
			}
			co.mu.Unlock()
			add(kmsg.ConfigResourceTypeGroupConfig, names)
		case kmsg.ConfigResourceTypeClientMetrics:
		default:
			resp.ErrorCode = errInvalidRequest
			resp.ConfigResources = []kmsg.ListConfigResourcesResponseConfigResource{}
			return respond(resp)
		}
	}
	return respond(resp)
}
