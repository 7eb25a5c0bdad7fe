package broker

// DescribeAcls, key 29, v0-v3; CreateAcls, key 30, v0-v3; DeleteAcls, key 31, v0-v3.
//
// Behaviour: ACLs on TOPIC, GROUP, CLUSTER and TRANSACTIONAL_ID resources with
// LITERAL or PREFIXED patterns, persisted in <data-dir>/acls.json (rewritten
// atomically and fsynced before the answer). Describe needs DESCRIBE on the
// cluster, Create and Delete need ALTER on it (CLUSTER_AUTHORIZATION_FAILED).
// ACLs may be created while the authorizer is off; they apply once an
// authenticated listener is served. Filters follow Kafka's AclBindingFilter:
// ANY matches everything, MATCH matches the patterns that apply to a name.
// Left out: DELEGATION_TOKEN and USER resources (INVALID_REQUEST).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tickertape/tickertape/commitlog"
)

func init() {
	regKey(29, 0, 3, handleDescribeACLs)
	regKey(30, 0, 3, handleCreateACLs)
	regKey(31, 0, 3, handleDeleteACLs)
}

// ACL is one access control entry, as Kafka's AclBinding holds it.
type ACL struct {
	ResourceType kmsg.ACLResourceType        `json:"resource_type"`
	ResourceName string                      `json:"resource_name"`
	PatternType  kmsg.ACLResourcePatternType `json:"pattern_type"`
	Principal    string                      `json:"principal"`
	Host         string                      `json:"host"`
	Operation    kmsg.ACLOperation           `json:"operation"`
	Permission   kmsg.ACLPermissionType      `json:"permission"`
}

func (a ACL) String() string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permissionType=%s) on %s:%s:%s",
		a.Principal, a.Host, a.Operation, a.Permission, a.ResourceType, a.PatternType, a.ResourceName)
}

// aclStore holds every ACL; it is the one owner of acls.json.
type aclStore struct {
	path string
	mu   sync.RWMutex
	acls []ACL
}

const aclsFile = "acls.json"

func openACLs(dir string) (*aclStore, error) {
	s := &aclStore{path: filepath.Join(dir, aclsFile)}
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ACLs: %w", err)
	}
	if s.acls, err = parseACLs(raw); err != nil {
		return nil, fmt.Errorf("ACL file %s is damaged (%v): restore it from a backup, or move it away and create the ACLs again", s.path, err)
	}
	return s, nil
}

// parseACLs decodes acls.json and validates every ACL.
func parseACLs(raw []byte) ([]ACL, error) {
	var f struct {
		ACLs []ACL `json:"acls"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	for _, a := range f.ACLs {
		if err := validateACL(a); err != nil {
			return nil, err
		}
	}
	return f.ACLs, nil
}

func (s *aclStore) persist(acls []ACL) error {
	raw, err := json.MarshalIndent(struct {
		Version int   `json:"version"`
		ACLs    []ACL `json:"acls"`
	}{1, acls}, "", "  ")
	if err != nil {
		return err
	}
	return commitlog.WriteFileAtomic(s.path, raw)
}

// authorize applies Kafka's rules (see authz.go) to one action.
func (s *aclStore) authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	allow := false
	for i := range s.acls {
		a := &s.acls[i]
		if a.ResourceType != rt || !a.appliesTo(name) {
			continue
		}
		if a.Principal != principal && a.Principal != "User:*" {
			continue
		}
		if a.Host != "*" && a.Host != host {
			continue
		}
		if a.Operation != kmsg.ACLOperationAll {
			if a.Permission == kmsg.ACLPermissionTypeAllow {
				if !implies(a.Operation, op) {
					continue
				}
			} else if a.Operation != op {
				continue
			}
		}
		if a.Permission == kmsg.ACLPermissionTypeDeny {
			return false
		}
		allow = true
	}
	return allow
}

// implies reports whether an ALLOW of have grants want.
func implies(have, want kmsg.ACLOperation) bool {
	if have == want {
		return true
	}
	switch want {
	case opDescribe:
		return have == opRead || have == opWrite || have == opDelete || have == opAlter
	case opDescribeConfigs:
		return have == opAlterConfigs
	}
	return false
}

func (a *ACL) appliesTo(name string) bool {
	switch a.PatternType {
	case kmsg.ACLResourcePatternTypeLiteral:
		return a.ResourceName == name || a.ResourceName == "*"
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(name, a.ResourceName)
	}
	return false
}

// aclFilter is Kafka's AclBindingFilter; nil strings match anything.
type aclFilter struct {
	rt        kmsg.ACLResourceType
	name      *string
	pattern   kmsg.ACLResourcePatternType
	principal *string
	host      *string
	op        kmsg.ACLOperation
	perm      kmsg.ACLPermissionType
}

func (f *aclFilter) validate() error {
	if f.rt == kmsg.ACLResourceTypeUnknown || f.pattern == kmsg.ACLResourcePatternTypeUnknown || f.op == kmsg.ACLOperationUnknown || f.perm == kmsg.ACLPermissionTypeUnknown {
		return errors.New("the filter has an UNKNOWN field")
	}
	return nil
}

func (f *aclFilter) matches(a *ACL) bool {
	if f.rt != kmsg.ACLResourceTypeAny && f.rt != a.ResourceType {
		return false
	}
	switch f.pattern {
	case kmsg.ACLResourcePatternTypeAny:
		if f.name != nil && *f.name != a.ResourceName {
			return false
		}
	case kmsg.ACLResourcePatternTypeMatch:
		if f.name != nil && !(a.appliesTo(*f.name)) {
			return false
		}
	default:
		if f.pattern != a.PatternType || (f.name != nil && *f.name != a.ResourceName) {
			return false
		}
	}
	if f.principal != nil && *f.principal != a.Principal {
		return false
	}
	if f.host != nil && *f.host != a.Host {
		return false
	}
	if f.op != kmsg.ACLOperationAny && f.op != a.Operation {
		return false
	}
	return f.perm == kmsg.ACLPermissionTypeAny || f.perm == a.Permission
}

func validateACL(a ACL) error {
	switch a.ResourceType {
	case resTopic, resGroup, resTxnID:
		if a.ResourceName == "" {
			return errors.New("empty resource name")
		}
	case resCluster:
		if a.ResourceName != clusterName {
			return fmt.Errorf("the cluster resource is named %q", clusterName)
		}
	default:
		return fmt.Errorf("resource type %s is not supported (use TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID)", a.ResourceType)
	}
	if a.PatternType != kmsg.ACLResourcePatternTypeLiteral && a.PatternType != kmsg.ACLResourcePatternTypePrefixed {
		return fmt.Errorf("pattern type %s: use LITERAL or PREFIXED", a.PatternType)
	}
	if a.PatternType == kmsg.ACLResourcePatternTypePrefixed && a.ResourceName == "*" {
		return errors.New("a PREFIXED pattern may not be \"*\" (use LITERAL \"*\")")
	}
	if typ, name, ok := strings.Cut(a.Principal, ":"); !ok || typ == "" || name == "" {
		return fmt.Errorf("principal %q: want Type:name, for example User:alice", a.Principal)
	}
	if a.Host == "" {
		return errors.New("empty host (use * for any host)")
	}
	if a.Operation <= kmsg.ACLOperationAny || a.Operation > kmsg.ACLOperationDescribeTokens {
		return fmt.Errorf("operation %s is not a concrete operation", a.Operation)
	}
	if a.Permission != kmsg.ACLPermissionTypeAllow && a.Permission != kmsg.ACLPermissionTypeDeny {
		return fmt.Errorf("permission %s: use ALLOW or DENY", a.Permission)
	}
	return nil
}

func handleCreateACLs(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	s := c.b.acls
	ok := c.allowedCluster(opAlter)
	s.mu.Lock()
	defer s.mu.Unlock()
	next := append([]ACL(nil), s.acls...)
	added := 0
	for _, cr := range req.Creations {
		r := kmsg.NewCreateACLsResponseResult()
		a := ACL{ResourceType: cr.ResourceType, ResourceName: cr.ResourceName, PatternType: cr.ResourcePatternType,
			Principal: cr.Principal, Host: cr.Host, Operation: cr.Operation, Permission: cr.PermissionType}
		if req.Version == 0 {
			a.PatternType = kmsg.ACLResourcePatternTypeLiteral
		}
		if !ok {
			r.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		} else if err := validateACL(a); err != nil {
			r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp(err.Error())
		} else if !containsACL(next, a) {
			next = append(next, a)
			added++
		}
		resp.Results = append(resp.Results, r)
	}
	if added > 0 {
		if err := s.persist(next); err != nil {
			c.b.log.Error("writing ACLs failed", "err", err)
			for i := range resp.Results {
				if resp.Results[i].ErrorCode == 0 {
					resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errUnknownServerError, strp("could not write the ACL file: "+err.Error())
				}
			}
			return respond(resp)
		}
		s.acls = next
	}
	return respond(resp)
}

func containsACL(acls []ACL, a ACL) bool {
	for _, x := range acls {
		if x == a {
			return true
		}
	}
	return false
}

func handleDescribeACLs(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	if !c.allowedCluster(opDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	}
	f := aclFilter{rt: req.ResourceType, name: req.ResourceName, pattern: req.ResourcePatternType, principal: req.Principal, host: req.Host, op: req.Operation, perm: req.PermissionType}
	if req.Version == 0 {
		f.pattern = kmsg.ACLResourcePatternTypeLiteral
	}
	if err := f.validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp(err.Error())
		return respond(resp)
	}
	c.b.acls.mu.RLock()
	var found []ACL
	for i := range c.b.acls.acls {
		if f.matches(&c.b.acls.acls[i]) {
			found = append(found, c.b.acls.acls[i])
		}
	}
	c.b.acls.mu.RUnlock()
	resp.Resources = groupACLs(found)
	return respond(resp)
}

// groupACLs groups ACLs by resource, sorted, as DescribeAcls answers.
func groupACLs(acls []ACL) []kmsg.DescribeACLsResponseResource {
	type key struct {
		rt   kmsg.ACLResourceType
		name string
		pt   kmsg.ACLResourcePatternType
	}
	byRes := map[key][]kmsg.DescribeACLsResponseResourceACL{}
	var keys []key
	for _, a := range acls {
		k := key{a.ResourceType, a.ResourceName, a.PatternType}
		if _, ok := byRes[k]; !ok {
			keys = append(keys, k)
		}
		e := kmsg.NewDescribeACLsResponseResourceACL()
		e.Principal, e.Host, e.Operation, e.PermissionType = a.Principal, a.Host, a.Operation, a.Permission
		byRes[k] = append(byRes[k], e)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].rt != keys[j].rt {
			return keys[i].rt < keys[j].rt
		}
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return keys[i].pt < keys[j].pt
	})
	out := make([]kmsg.DescribeACLsResponseResource, 0, len(keys))
	for _, k := range keys {
		r := kmsg.NewDescribeACLsResponseResource()
		r.ResourceType, r.ResourceName, r.ResourcePatternType, r.ACLs = k.rt, k.name, k.pt, byRes[k]
		out = append(out, r)
	}
	return out
}

func handleDeleteACLs(c *conn, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	s := c.b.acls
	ok := c.allowedCluster(opAlter)
	s.mu.Lock()
	defer s.mu.Unlock()
	remaining := append([]ACL(nil), s.acls...)
	deleted := 0
	for _, fl := range req.Filters {
		r := kmsg.NewDeleteACLsResponseResult()
		f := aclFilter{rt: fl.ResourceType, name: fl.ResourceName, pattern: fl.ResourcePatternType, principal: fl.Principal, host: fl.Host, op: fl.Operation, perm: fl.PermissionType}
		if req.Version == 0 {
			f.pattern = kmsg.ACLResourcePatternTypeLiteral
		}
		if !ok {
			r.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		} else if err := f.validate(); err != nil {
			r.ErrorCode, r.ErrorMessage = errInvalidRequest, strp(err.Error())
		} else {
			kept := remaining[:0:0]
			for _, a := range remaining {
				if !f.matches(&a) {
					kept = append(kept, a)
					continue
				}
				m := kmsg.NewDeleteACLsResponseResultMatchingACL()
				m.ResourceType, m.ResourceName, m.ResourcePatternType = a.ResourceType, a.ResourceName, a.PatternType
				m.Principal, m.Host, m.Operation, m.PermissionType = a.Principal, a.Host, a.Operation, a.Permission
				r.MatchingACLs = append(r.MatchingACLs, m)
				deleted++
			}
			remaining = kept
		}
		resp.Results = append(resp.Results, r)
	}
	if deleted > 0 {
		if err := s.persist(remaining); err != nil {
			c.b.log.Error("writing ACLs failed", "err", err)
			for i := range resp.Results {
				if resp.Results[i].ErrorCode == 0 {
					resp.Results[i].ErrorCode, resp.Results[i].ErrorMessage = errUnknownServerError, strp("could not write the ACL file: "+err.Error())
					resp.Results[i].MatchingACLs = nil
				}
			}
			return respond(resp)
		}
		s.acls = remaining
	}
	return respond(resp)
}

// anyAllow reports whether some ALLOW ACL could grant op on some resource of
// type rt to the principal (and no DENY on a literal "*" takes it back).
func (s *aclStore) anyAllow(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.acls {
		a := &s.acls[i]
		if a.ResourceType != rt || a.Permission != kmsg.ACLPermissionTypeAllow || (a.Operation != op && a.Operation != kmsg.ACLOperationAll) {
			continue
		}
		if (a.Principal == principal || a.Principal == "User:*") && (a.Host == "*" || a.Host == host) {
			return true
		}
	}
	return false
}
