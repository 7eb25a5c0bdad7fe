package broker

// DescribeClientQuotas, key 48, v0-v1.
//
// Behaviour: this broker enforces no client quotas, so every filter matches
// nothing and the answer is an empty list (what Kafka answers when no quota
// is set). kafka-configs --describe --entity-type users asks for quotas
// before it shows SCRAM credentials. Needs DESCRIBE_CONFIGS on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).
// Left out: AlterClientQuotas (not advertised: quotas are not enforced).

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { regKey(48, 0, 1, handleDescribeClientQuotas) }

func handleDescribeClientQuotas(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !c.allowedCluster(opDescribeConfigs) {
		resp.ErrorCode = errClusterAuthorization
		return respond(resp)
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return respond(resp)
}
