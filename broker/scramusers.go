package broker

// DescribeUserScramCredentials, key 50, v0; AlterUserScramCredentials, key 51, v0.
//
// Behaviour: the SCRAM users of package auth, so that `kafka-configs
// --entity-type users` and kadm manage them. Describe needs DESCRIBE on the
// cluster and Alter needs ALTER on it (CLUSTER_AUTHORIZATION_FAILED). Alter
// takes the client's salt and salted password, as Kafka does; the broker
// keeps only the derived stored and server keys. A user's changes apply
// together, and the users file is fsynced before the answer. Iterations must
// be within Kafka's bounds (4096-16384) or the user gets UNACCEPTABLE_CREDENTIAL.

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/auth"
)

func init() {
	regKey(50, 0, 0, handleDescribeUserSCRAMCredentials)
	regKey(51, 0, 0, handleAlterUserSCRAMCredentials)
}

// Users is the broker's SCRAM user store (also used by the embedded
// registry's basic auth).
func (b *Broker) Users() *auth.Users { return b.users }

func handleDescribeUserSCRAMCredentials(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	if !c.allowedCluster(opDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	}
	all := c.b.users.List()
	byName := map[string]auth.UserInfo{}
	for _, u := range all {
		byName[u.Name] = u
	}
	add := func(name string, code int16, msg string) {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User, r.ErrorCode = name, code
		if msg != "" {
			r.ErrorMessage = strp(msg)
		}
		if code == 0 {
			for _, m := range auth.Mechanisms {
				if it, ok := byName[name].Mechanisms[m]; ok {
					ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
					ci.Mechanism, ci.Iterations = m.KafkaType(), int32(it)
					r.CredentialInfos = append(r.CredentialInfos, ci)
				}
			}
		}
		resp.Results = append(resp.Results, r)
	}
	if len(req.Users) == 0 {
		for _, u := range all {
			add(u.Name, 0, "")
		}
		return respond(resp)
	}
	seen := map[string]int{}
	for _, u := range req.Users {
		seen[u.Name]++
	}
	reported := map[string]bool{}
	for _, u := range req.Users {
		if reported[u.Name] {
			continue
		}
		reported[u.Name] = true
		switch {
		case seen[u.Name] > 1:
			add(u.Name, kerr.DuplicateResource.Code, "Cannot describe SCRAM credentials for the same user twice in a single request")
		case len(byName[u.Name].Mechanisms) == 0:
			add(u.Name, kerr.ResourceNotFound.Code, "Attempt to describe a user credential that does not exist")
		default:
			add(u.Name, 0, "")
		}
	}
	return respond(resp)
}

func handleAlterUserSCRAMCredentials(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	type userErr struct {
		code int16
		msg  string
	}
	var order []string
	changes := map[string][]auth.Change{}
	errs := map[string]*userErr{}
	touched := map[[2]string]bool{} // user, mechanism: each at most once per request
	note := func(name string) {
		if _, ok := changes[name]; !ok {
			order = append(order, name)
			changes[name] = nil
		}
	}
	fail := func(name string, code int16, msg string) {
		if errs[name] == nil {
			errs[name] = &userErr{code, msg}
		}
	}
	authorized := c.allowedCluster(opAlter)
	check := func(name string, mt int8) (auth.Mechanism, bool) {
		note(name)
		if !authorized {
			fail(name, kerr.ClusterAuthorizationFailed.Code, "")
			return "", false
		}
		if err := auth.ValidateName(name); err != nil {
			fail(name, kerr.UnacceptableCredential.Code, err.Error())
			return "", false
		}
		m, ok := auth.MechanismForKafkaType(mt)
		if !ok {
			fail(name, kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("Unknown SCRAM mechanism %d", mt))
			return "", false
		}
		k := [2]string{name, string(m)}
		if touched[k] {
			fail(name, kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request")
			return "", false
		}
		touched[k] = true
		return m, true
	}
	for _, d := range req.Deletions {
		if m, ok := check(d.Name, d.Mechanism); ok {
			if _, err := c.b.users.Lookup(d.Name, m); err != nil {
				fail(d.Name, kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist")
				continue
			}
			changes[d.Name] = append(changes[d.Name], auth.Change{User: d.Name, Mech: m})
		}
	}
	for _, u := range req.Upsertions {
		m, ok := check(u.Name, u.Mechanism)
		if !ok {
			continue
		}
		if u.Iterations < auth.MinIterations || u.Iterations > auth.MaxIterations {
			fail(u.Name, kerr.UnacceptableCredential.Code, fmt.Sprintf("Iterations %d must be between %d and %d", u.Iterations, auth.MinIterations, auth.MaxIterations))
			continue
		}
		if len(u.Salt) == 0 || len(u.SaltedPassword) == 0 {
			fail(u.Name, kerr.UnacceptableCredential.Code, "Salt and salted password must not be empty")
			continue
		}
		cred := auth.CredentialFromSalted(m, u.Salt, u.SaltedPassword, int(u.Iterations))
		changes[u.Name] = append(changes[u.Name], auth.Change{User: u.Name, Mech: m, Cred: &cred})
	}
	for _, name := range order {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = name
		if e := errs[name]; e != nil {
			r.ErrorCode = e.code
			if e.msg != "" {
				r.ErrorMessage = strp(e.msg)
			}
		} else if err := c.b.users.Apply(changes[name]...); err != nil {
			r.ErrorCode, r.ErrorMessage = errUnknownServerError, strp("could not write the users file: "+err.Error())
			if errors.Is(err, auth.ErrNoSuchUser) {
				r.ErrorCode = kerr.ResourceNotFound.Code
			}
			c.b.log.Error("writing SCRAM users failed", "user", name, "err", err)
		} else {
			c.b.log.Info("SCRAM credentials changed", "user", name, "by", c.principal)
		}
		resp.Results = append(resp.Results, r)
	}
	return respond(resp)
}
