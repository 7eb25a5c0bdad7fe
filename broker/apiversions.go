package broker

// ApiVersions, key 18, v0-v4.
//
// Behaviour: answers every registered key with the range it serves. A request at
// a version outside v0-v4 (or one whose body cannot be parsed) gets the KIP-511
// answer, as Apache Kafka gives it: a v0 response with UNSUPPORTED_VERSION that
// lists the ApiVersions range we serve, so the client retries at our max.
// The response header is never flexible (see conn.go). Client software name
// and version are not validated (Kafka answers INVALID_REQUEST for bad ones).

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { regKey(apiVersionsKey, 0, 4, handleAPIVersions) }

func handleAPIVersions(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.ApiVersionsRequest)
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = advertisedKeys()
	return respond(resp)
}

func unsupportedAPIVersions() *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = errUnsupportedVersion
	for _, k := range advertisedKeys() {
		if k.ApiKey == apiVersionsKey {
			resp.ApiKeys = append(resp.ApiKeys, k)
		}
	}
	return resp
}
