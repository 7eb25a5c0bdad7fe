package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Mechanism is a SCRAM mechanism as Kafka names it.
type Mechanism string

// The SCRAM mechanisms Kafka defines (ScramMechanism).
const (
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
)

// Mechanisms lists the SCRAM mechanisms in Kafka's order (type 1, 2).
var Mechanisms = []Mechanism{ScramSHA256, ScramSHA512}

// KafkaType is the mechanism's number in DescribeUserScramCredentials and
// AlterUserScramCredentials (1 = SHA-256, 2 = SHA-512; 0 = unknown).
func (m Mechanism) KafkaType() int8 {
	switch m {
	case ScramSHA256:
		return 1
	case ScramSHA512:
		return 2
	}
	return 0
}

// MechanismForKafkaType is the inverse of KafkaType; ok is false for unknown types.
func MechanismForKafkaType(t int8) (Mechanism, bool) {
	switch t {
	case 1:
		return ScramSHA256, true
	case 2:
		return ScramSHA512, true
	}
	return "", false
}

// ParseMechanism accepts a SCRAM mechanism name in any case.
func ParseMechanism(s string) (Mechanism, error) {
	switch m := Mechanism(strings.ToUpper(s)); m {
	case ScramSHA256, ScramSHA512:
		return m, nil
	}
	return "", fmt.Errorf("unknown SCRAM mechanism %q: use SCRAM-SHA-256 or SCRAM-SHA-512", s)
}

func (m Mechanism) hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// Iteration bounds Kafka enforces (ScramMechanism minIterations/maxIterations).
const (
	MinIterations     = 4096
	MaxIterations     = 16384
	DefaultIterations = 8192
)

// Credential is one user's stored SCRAM credential for one mechanism.
type Credential struct {
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// CredentialFromSalted derives the stored and server keys from a salted
// password (Hi(password, salt, i)), as AlterUserScramCredentials sends it.
func CredentialFromSalted(m Mechanism, salt, saltedPassword []byte, iterations int) Credential {
	h := m.hash()
	clientKey := hmacSum(h, saltedPassword, "Client Key")
	stored := h()
	stored.Write(clientKey)
	return Credential{Salt: append([]byte(nil), salt...), Iterations: iterations, StoredKey: stored.Sum(nil), ServerKey: hmacSum(h, saltedPassword, "Server Key")}
}

// NewCredential salts and iterates a password with a fresh random salt.
func NewCredential(m Mechanism, password string, iterations int) (Credential, error) {
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, err
	}
	return CredentialFromSalted(m, salt, saltPassword(m, password, salt, iterations), iterations), nil
}

func saltPassword(m Mechanism, password string, salt []byte, iterations int) []byte {
	k, err := pbkdf2.Key(m.hash(), password, salt, iterations, m.hash()().Size())
	if err != nil {
		return nil // only in FIPS-140 mode for weak parameters: such a credential never verifies
	}
	return k
}

func hmacSum(h func() hash.Hash, key []byte, msg string) []byte {
	mac := hmac.New(h, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}

// Verify reports whether password matches the credential (used for PLAIN
// and HTTP basic auth). It takes as long as one SCRAM exchange.
func (c Credential) Verify(m Mechanism, password string) bool {
	got := CredentialFromSalted(m, c.Salt, saltPassword(m, password, c.Salt, c.Iterations), c.Iterations)
	return hmac.Equal(got.StoredKey, c.StoredKey)
}

// ErrNoSuchUser is returned for a user (or a user's mechanism) that has no credential.
var ErrNoSuchUser = errors.New("no such user")

// Users is the users file of one data directory. It is safe for concurrent use.
type Users struct {
	path string
	mu   sync.RWMutex
	m    map[string]map[Mechanism]Credential
}

// UsersFile is the file name of the users store inside a data directory.
const UsersFile = "users.json"

type usersFile struct {
	Version int                                 `json:"version"`
	Users   map[string]map[Mechanism]Credential `json:"users"`
}

// OpenUsers loads dir/users.json, or starts empty when it does not exist.
func OpenUsers(dir string) (*Users, error) {
	u := &Users{path: filepath.Join(dir, UsersFile), m: map[string]map[Mechanism]Credential{}}
	raw, err := os.ReadFile(u.path)
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	if u.m, err = parseUsers(raw); err != nil {
		return nil, fmt.Errorf("users file %s is damaged (%v): restore it from a backup or move it away and create the users again", u.path, err)
	}
	return u, nil
}

// parseUsers decodes users.json and checks every credential is complete.
func parseUsers(raw []byte) (map[string]map[Mechanism]Credential, error) {
	var f usersFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	m := map[string]map[Mechanism]Credential{}
	for name, creds := range f.Users {
		for mech, c := range creds {
			if mech.KafkaType() == 0 || c.Iterations < 1 || c.Iterations > MaxIterations || len(c.StoredKey) == 0 || len(c.ServerKey) == 0 {
				return nil, fmt.Errorf("user %q has an invalid %s credential", name, mech)
			}
		}
		if len(creds) > 0 {
			m[name] = creds
		}
	}
	return m, nil
}

// Lookup returns the credential of name for m.
func (u *Users) Lookup(name string, m Mechanism) (Credential, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	c, ok := u.m[name][m]
	if !ok {
		return Credential{}, ErrNoSuchUser
	}
	return c, nil
}

// VerifyPassword checks a password against the user's strongest credential.
func (u *Users) VerifyPassword(name, password string) bool {
	for _, m := range []Mechanism{ScramSHA512, ScramSHA256} {
		if c, err := u.Lookup(name, m); err == nil {
			return c.Verify(m, password)
		}
	}
	// Spend the same time for an unknown user, so timing does not tell users apart.
	saltPassword(ScramSHA512, password, []byte("tickertape-no-user"), DefaultIterations)
	return false
}

// Exists reports whether name has any credential.
func (u *Users) Exists(name string) bool {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return len(u.m[name]) > 0
}

// UserInfo is what List and Describe report: never a key or a salt.
type UserInfo struct {
	Name       string
	Mechanisms map[Mechanism]int // mechanism -> iterations
}

// List returns every user, sorted by name.
func (u *Users) List() []UserInfo {
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]UserInfo, 0, len(u.m))
	for name, creds := range u.m {
		ui := UserInfo{Name: name, Mechanisms: map[Mechanism]int{}}
		for m, c := range creds {
			ui.Mechanisms[m] = c.Iterations
		}
		out = append(out, ui)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Change is one upsert (Cred set) or deletion (Cred nil) of a user's credential.
type Change struct {
	User string
	Mech Mechanism
	Cred *Credential
}

// Apply applies changes together and rewrites the file once (atomically,
// fsynced). Deleting a credential that does not exist is ErrNoSuchUser and
// nothing is changed.
func (u *Users) Apply(changes ...Change) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	next := make(map[string]map[Mechanism]Credential, len(u.m))
	for n, cs := range u.m {
		next[n] = make(map[Mechanism]Credential, len(cs))
		for m, c := range cs {
			next[n][m] = c
		}
	}
	for _, ch := range changes {
		if err := ValidateName(ch.User); err != nil {
			return err
		}
		if ch.Cred == nil {
			if _, ok := next[ch.User][ch.Mech]; !ok {
				return fmt.Errorf("user %q has no %s credential: %w", ch.User, ch.Mech, ErrNoSuchUser)
			}
			delete(next[ch.User], ch.Mech)
			if len(next[ch.User]) == 0 {
				delete(next, ch.User)
			}
			continue
		}
		if next[ch.User] == nil {
			next[ch.User] = map[Mechanism]Credential{}
		}
		next[ch.User][ch.Mech] = *ch.Cred
	}
	if err := writeFileAtomic(u.path, next); err != nil {
		return err
	}
	u.m = next
	return nil
}

// SetPassword gives name credentials for both SCRAM mechanisms.
func (u *Users) SetPassword(name, password string, iterations int) error {
	if password == "" {
		return errors.New("empty password")
	}
	if iterations == 0 {
		iterations = DefaultIterations
	}
	var changes []Change
	for _, m := range Mechanisms {
		c, err := NewCredential(m, password, iterations)
		if err != nil {
			return err
		}
		changes = append(changes, Change{User: name, Mech: m, Cred: &c})
	}
	return u.Apply(changes...)
}

// Delete removes every credential of name.
func (u *Users) Delete(name string) error {
	u.mu.RLock()
	var changes []Change
	for m := range u.m[name] {
		changes = append(changes, Change{User: name, Mech: m})
	}
	u.mu.RUnlock()
	if len(changes) == 0 {
		return fmt.Errorf("user %q: %w", name, ErrNoSuchUser)
	}
	return u.Apply(changes...)
}

// ValidateName rejects user names SASL cannot carry.
func ValidateName(name string) error {
	if name == "" {
		return errors.New("empty user name")
	}
	if len(name) > 255 || strings.ContainsAny(name, "\x00,=:") {
		return fmt.Errorf("user name %q: at most 255 bytes, without NUL, ',', '=' or ':'", name)
	}
	return nil
}

func writeFileAtomic(path string, users map[string]map[Mechanism]Credential) error {
	raw, err := json.MarshalIndent(usersFile{Version: 1, Users: users}, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".users-*.tmp")
	if err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("write users: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("fsync users: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
