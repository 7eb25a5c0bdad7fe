package registry

// Leader election. Every instance joins the consumer group GroupID with its
// own group protocol: the join metadata carries the instance's id, its
// advertised URL and whether it may lead; the group leader (whichever member
// Kafka picked to compute assignments) chooses the registry leader, keeping
// the current one while it is still a member, and tells every member who it
// is in the assignment bytes. No partitions are assigned, so nothing is
// consumed through the group. Confluent Schema Registry elects its leader the
// same way, though the bytes differ.
//
// The group's protocol type is "sr", as Confluent's, never "consumer": tools
// such as kafka-consumer-groups decode the assignments of every "consumer"
// group as Kafka's consumer assignment format, and our JSON is not that (the
// Java admin client fails with "Tried to allocate a collection of size ...").
//
// An instance stops considering itself leader as soon as it rejoins (every
// rebalance starts with a join), and the write path re-reads the topic to its
// end before every write, so a deposed leader that has not noticed yet
// still sees the new leader's records before it writes.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// electionProtocolType is the group protocol type of the election group.
const electionProtocolType = "sr"

type election struct {
	r  *Registry
	id string
	cl *kgo.Client

	mu        sync.Mutex
	leaderID  string // "" while unknown (no election finished since the last join)
	leaderURL string
	changed   chan struct{} // closed and replaced whenever the leader changes
}

type memberMeta struct {
	ID       string `json:"id"`
	URL      string `json:"url,omitempty"`
	Eligible bool   `json:"eligible"`
	Leader   bool   `json:"leader,omitempty"` // it leads now
}

type leaderAssignment struct {
	LeaderID  string `json:"leader_id"`
	LeaderURL string `json:"leader_url,omitempty"`
}

func startElection(r *Registry) (*election, error) {
	var b [8]byte
	rand.Read(b[:])
	e := &election{r: r, id: hex.EncodeToString(b[:]), changed: make(chan struct{})}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ConsumerGroup(r.cfg.GroupID),
		kgo.GroupProtocol(electionProtocolType),
		kgo.ConsumeTopics(r.cfg.Topic),
		kgo.Balancers(electionBalancer{e}),
		kgo.DisableAutoCommit(),
	}, r.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	e.cl = cl
	return e, nil
}

func (e *election) close() {
	if e.cl != nil {
		e.cl.LeaveGroup()
		e.cl.Close()
	}
}

// leader returns the elected leader: whether it is this instance, its URL,
// and a channel closed at the next change.
func (e *election) leader() (self bool, known bool, url string, changed <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leaderID == e.id, e.leaderID != "", e.leaderURL, e.changed
}

func (e *election) set(id, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id == e.leaderID && url == e.leaderURL {
		return
	}
	if id == e.id && e.leaderID != e.id {
		e.r.log.Debug("this instance now writes the schemas topic", "group", e.r.cfg.GroupID)
	}
	e.leaderID, e.leaderURL = id, url
	close(e.changed)
	e.changed = make(chan struct{})
}

type electionBalancer struct{ e *election }

func (b electionBalancer) ProtocolName() string { return "tickertape-registry-v1" }
func (b electionBalancer) IsCooperative() bool  { return false }

func (b electionBalancer) JoinGroupMetadata([]string, map[string][]int32, int32) []byte {
	self, _, _, _ := b.e.leader()
	b.e.set("", "") // rejoining: not leader until the election says so
	return marshal(memberMeta{ID: b.e.id, URL: b.e.r.cfg.AdvertisedURL, Eligible: !b.e.r.cfg.LeaderIneligible, Leader: self})
}

func (b electionBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a leaderAssignment
	if err := json.Unmarshal(assignment, &a); err != nil {
		b.e.r.log.Warn("leader election: unreadable assignment", "err", err)
		return nil, nil
	}
	b.e.set(a.LeaderID, a.LeaderURL)
	return nil, nil
}

func (b electionBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	return electionMembers(members), map[string]struct{}{b.e.r.cfg.Topic: {}}, nil
}

type electionMembers []kmsg.JoinGroupResponseMember

type syncAssignments []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignments) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }

// Balance picks the leader: the current one if it is still here, else the
// eligible member with the smallest id.
func (ms electionMembers) Balance(map[string]int32) kgo.IntoSyncAssignment {
	var metas []memberMeta
	for _, m := range ms {
		var mm memberMeta
		if json.Unmarshal(m.ProtocolMetadata, &mm) == nil && mm.Eligible {
			metas = append(metas, mm)
		}
	}
	sort.Slice(metas, func(i, j int) bool {
		if metas[i].Leader != metas[j].Leader {
			return metas[i].Leader
		}
		return metas[i].ID < metas[j].ID
	})
	var a leaderAssignment
	if len(metas) > 0 {
		a = leaderAssignment{LeaderID: metas[0].ID, LeaderURL: metas[0].URL}
	}
	out := make(syncAssignments, len(ms))
	for i, m := range ms {
		out[i] = kmsg.SyncGroupRequestGroupAssignment{MemberID: m.MemberID, MemberAssignment: marshal(a)}
	}
	return out
}
