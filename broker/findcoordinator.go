package broker

// FindCoordinator, key 10, v0-v6.
//
// Behaviour: this broker coordinates every group and every transactional id
// (KeyType 1, see txn.go), and, in v4+, every key of a batched request.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	regKey(10, 0, 6, handleFindCoordinator)
}

func handleFindCoordinator(c *conn, kreq kmsg.Request) reply {
	b := c.b
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := c.advertised()
	answer := func(key string) (int16, *string) {
		switch req.CoordinatorType {
		case 0:
			if !c.allowed(opDescribe, resGroup, key) {
				return errGroupAuthorization, nil
			}
			if key == "" {
				return errInvalidGroupID, strp("the group id is empty")
			}
			return 0, nil
		case 1:
			if !c.allowed(opDescribe, resTxnID, key) {
				return errTransactionalIDAuth, nil
			}
			if key == "" {
				return errInvalidRequest, strp("the transactional id is empty")
			}
			return 0, nil
		default:
			return errInvalidRequest, strp(fmt.Sprintf("coordinator type %d is not supported", req.CoordinatorType))
		}
	}
	if req.Version < 4 {
		code, msg := answer(req.CoordinatorKey)
		resp.ErrorCode, resp.ErrorMessage = code, msg
		resp.NodeID, resp.Host, resp.Port = b.cfg.NodeID, host, port
		if code != 0 {
			resp.NodeID, resp.Host, resp.Port = -1, "", -1
		}
		return respond(resp)
	}
	for _, key := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key = key
		rc.ErrorCode, rc.ErrorMessage = answer(key)
		rc.NodeID, rc.Host, rc.Port = b.cfg.NodeID, host, port
		if rc.ErrorCode != 0 {
			rc.NodeID, rc.Host, rc.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	return respond(resp)
}
