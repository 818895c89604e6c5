package recvault

import (
	"context"
	"slices"
	"time"
)

// Role decides which recordings a user may have.
type Role string

const (
	RoleAgent      Role = "agent"      // the recordings of its own calls
	RoleSupervisor Role = "supervisor" // the recordings of its assigned campaigns
	RoleInspector  Role = "inspector"  // the recordings of the agents assigned to it
	RoleAdmin      Role = "admin"      // everything, and ingest
)

// Roles lists the valid roles in a stable order (for help and error texts).
var Roles = []Role{RoleAgent, RoleSupervisor, RoleInspector, RoleAdmin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// User is a person (or machine) that signs in.
type User struct {
	ID    int64  `json:"id"`
	Login string `json:"login"` // e.g. supervisor@example.com
	Role  Role   `json:"role"`
	// AgentID is the work number the contact centre knows the agent by
	// (e.g. 4977); recordings refer to agents by it. Optional for non-agents.
	AgentID   string   `json:"agentId,omitempty"`
	Campaigns []int64  `json:"campaigns,omitempty"` // supervisor: assigned campaigns
	Inspects  []string `json:"inspects,omitempty"`  // inspector: agent ids it inspects
	Disabled  bool     `json:"disabled"`
	// PasswordHash is a PHC-format memory-hard hash; never serialised.
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Validate checks a user before it is stored.
func (u *User) Validate() error {
	switch {
	case !validID(u.Login):
		return Errorf(EINVALID, "login is required (1-128 printable characters, no spaces)")
	case !u.Role.Valid():
		return Errorf(EINVALID, "role must be one of agent, supervisor, inspector, admin")
	case u.Role == RoleAgent && u.AgentID == "":
		return Errorf(EINVALID, "an agent needs an agent id")
	case u.AgentID != "" && !validID(u.AgentID):
		return Errorf(EINVALID, "agent id must be 1-128 printable characters, no spaces")
	case u.Role == RoleInspector && slices.Contains(u.Inspects, u.AgentID) && u.AgentID != "":
		return Errorf(EINVALID, "an inspector cannot inspect itself")
	}
	for _, c := range u.Campaigns {
		if c <= 0 {
			return Errorf(EINVALID, "campaign ids must be positive integers")
		}
	}
	for _, a := range u.Inspects {
		if !validID(a) {
			return Errorf(EINVALID, "inspected agent ids must be 1-128 printable characters")
		}
	}
	return nil
}

// Session is a signed-in user's session. The token itself is never stored:
// only its SHA-256, so a stolen database yields no usable session.
type Session struct {
	ID        int64
	TokenHash string // hex SHA-256 of the token
	UserID    int64
	Kind      string // "v1", "ameyo", "ccgw": which façade opened it
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // absolute lifetime
	// Idle is this session's idle timeout; zero means the service default.
	// CC-Gateway sign-ins end after two minutes without a call.
	Idle time.Duration
}

// Principal is who is asking: the user behind a valid session.
type Principal struct {
	User    *User
	Session *Session
}

// Scope is the set of recordings a principal may see, in the form a catalog
// can turn into a query. All wins over the lists.
type Scope struct {
	All       bool
	Campaigns []int64
	AgentIDs  []string
}

// DistinctCampaigns and DistinctAgents are the scope's values without
// repeats, in their first order: a catalogue reads one index range per
// value, so an assignment listed twice must not be read twice.
func (s Scope) DistinctCampaigns() []int64 { return distinct(s.Campaigns) }
func (s Scope) DistinctAgents() []string   { return distinct(s.AgentIDs) }

func distinct[T comparable](vs []T) []T {
	var out []T
	seen := make(map[T]bool, len(vs))
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Scope derives what p may see from its role. A disabled or nil principal
// sees nothing.
func (p *Principal) Scope() Scope {
	if p == nil || p.User == nil || p.User.Disabled {
		return Scope{}
	}
	u := p.User
	switch u.Role {
	case RoleAdmin:
		return Scope{All: true}
	case RoleSupervisor:
		return Scope{Campaigns: slices.Clone(u.Campaigns)}
	case RoleInspector:
		// An inspector never inspects itself, whatever the assignment says.
		var ids []string
		for _, a := range u.Inspects {
			if a != u.AgentID {
				ids = append(ids, a)
			}
		}
		return Scope{AgentIDs: ids}
	case RoleAgent:
		if u.AgentID == "" {
			return Scope{}
		}
		return Scope{AgentIDs: []string{u.AgentID}}
	}
	return Scope{}
}

// Allows reports whether a recording lies in the scope.
func (s Scope) Allows(r *Recording) bool {
	if r == nil {
		return false
	}
	return s.All || slices.Contains(s.Campaigns, r.CampaignID) || slices.Contains(s.AgentIDs, r.AgentID)
}

// Inspects reports whether p is an inspector with agents assigned to it
// (CC-Gateway's "is censor").
func (p *Principal) Inspects() bool {
	return p != nil && p.User != nil && !p.User.Disabled && p.User.Role == RoleInspector && len(p.User.Inspects) > 0
}

// MayAccess is the one authorisation rule of recvault: whether p may read r
// (metadata or media). Every façade and every listing goes through it.
func (p *Principal) MayAccess(r *Recording) bool { return p.Scope().Allows(r) }

// APIKey is a machine credential (Ameyo's token policy): a named key with
// a role and assignments like a user's, optionally bound to the hosts it
// may be used from. Only the key's SHA-256 is stored.
type APIKey struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	KeyHash   string    `json:"-"`
	Role      Role      `json:"role"`
	Campaigns []int64   `json:"campaigns,omitempty"`
	AgentID   string    `json:"agentId,omitempty"`
	Inspects  []string  `json:"inspects,omitempty"`
	Hosts     []string  `json:"hosts,omitempty"` // empty: any requesting host
	CreatedAt time.Time `json:"createdAt"`
	LastUsed  time.Time `json:"lastUsed"`
	Revoked   bool      `json:"revoked"`
}

// Principal returns the principal a request authenticated by k acts as.
func (k *APIKey) Principal() *Principal {
	return &Principal{User: &User{ID: -k.ID, Login: "apikey:" + k.Name, Role: k.Role, AgentID: k.AgentID,
		Campaigns: k.Campaigns, Inspects: k.Inspects, Disabled: k.Revoked}}
}

// Catalog is the metadata store: recordings, users, sessions and the audit
// trail. The embedded implementation is SQLite; a scale-out one is PostgreSQL;
// both pass the same test suite.
type Catalog interface {
	// CreateRecording stores r. Returns ECONFLICT with the existing row if
	// (CampaignID, CRTObjectID) is taken.
	CreateRecording(ctx context.Context, r *Recording) (existing *Recording, err error)
	// Recording returns ENOTFOUND if id does not exist.
	Recording(ctx context.Context, id string) (*Recording, error)
	// RecordingByIdentity returns ENOTFOUND if nothing is stored under the pair.
	RecordingByIdentity(ctx context.Context, campaignID int64, crtObjectID string) (*Recording, error)
	// BlobInUse reports whether a recording uses the blob key, or a write
	// of it began (BeginBlob) after pendingAfter and has not ended.
	BlobInUse(ctx context.Context, key string, pendingAfter time.Time) (bool, error)
	// BeginBlob marks key as being written (before the blob exists), so
	// that no replica's orphan sweep deletes it before its row commits;
	// EndBlob removes the mark once the row is committed or the write failed.
	BeginBlob(ctx context.Context, key string, at time.Time) error
	EndBlob(ctx context.Context, key string) error
	// FindRecordings lists recordings in f.Scope matching f, newest first,
	// with a cursor for the next page ("" at the end).
	FindRecordings(ctx context.Context, f RecordingFilter) ([]*Recording, string, error)
	// SetDataKey replaces recording id's wrapped data key (master key
	// rotation re-wraps it; the blob is untouched). ENOTFOUND if no such id.
	SetDataKey(ctx context.Context, id string, wk []byte) error
	// RecordingsWithDataKeys returns up to limit recordings with id >
	// afterID that have a DataKey, by id: the pages a rotation walks.
	RecordingsWithDataKeys(ctx context.Context, afterID string, limit int) ([]*Recording, error)
	// ReplaceBlob points recording id at the blob newKey with the wrapped
	// data key wk (nil: none), if it still uses oldKey: what rewriting a
	// blob into another form (recvault migrate-blobs) commits. ENOTFOUND if
	// no such id, ECONFLICT if its blob is no longer oldKey.
	ReplaceBlob(ctx context.Context, id, oldKey, newKey string, wk []byte) error

	CreateUser(ctx context.Context, u *User) error // ECONFLICT if the login exists
	UpdateUser(ctx context.Context, u *User) error
	UserByLogin(ctx context.Context, login string) (*User, error)
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserByAgentID returns the enabled user with that work number
	// (ENOTFOUND if none).
	UserByAgentID(ctx context.Context, agentID string) (*User, error)
	Users(ctx context.Context) ([]*User, error)

	CreateSession(ctx context.Context, s *Session) error
	SessionByTokenHash(ctx context.Context, hash string) (*Session, error)
	TouchSession(ctx context.Context, id int64, at time.Time) error
	SetSessionExpiry(ctx context.Context, id int64, at time.Time) error
	// RotateSession atomically gives session oldID a successor: only if the
	// old session's expiry is still seen (no other request, on any replica,
	// rotated it meanwhile) does it set that expiry to until and store succ
	// (setting succ.ID). false, nil: another rotation won; nothing changed.
	RotateSession(ctx context.Context, oldID int64, seen, until time.Time, succ *Session) (bool, error)
	DeleteSession(ctx context.Context, id int64) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	UserSessions(ctx context.Context, userID int64) ([]*Session, error)

	CreateAPIKey(ctx context.Context, k *APIKey) error // ECONFLICT if the name exists
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	APIKeys(ctx context.Context) ([]*APIKey, error)
	UpdateAPIKey(ctx context.Context, k *APIKey) error // revoked and last used

	// AppendAudit appends events to the audit trail, in order, in one
	// transaction: it locks the chain head (one chain for the whole
	// deployment, whatever the number of replicas), gives each event the
	// next Seq, PrevHash and Hash (ChainHash), setting them on the structs,
	// stores them and moves the head. Text the store cannot hold is
	// replaced first (and hashed as stored). Nothing is stored on error.
	AppendAudit(ctx context.Context, events []*AuditEvent) error
	// Audit returns the newest limit records, newest first.
	Audit(ctx context.Context, limit int) ([]AuditEvent, error)
	// FindAudit lists the records matching f in the order they were
	// appended, or if f is Timed by event time (ties in append order),
	// with a cursor for the next page ("" at the end).
	FindAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, string, error)
	// AuditChain returns up to limit chained records with Seq > afterSeq,
	// ascending by Seq, for verification.
	AuditChain(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error)
	// AuditHead returns the chain head: the Seq and Hash of the last
	// record appended (0, "" before the first).
	AuditHead(ctx context.Context) (seq int64, hash string, err error)

	// CreateGrant stores a single-use grant (and drops grants expired
	// before g.CreatedAt). ECONFLICT if the hash exists.
	CreateGrant(ctx context.Context, g *Grant) error
	// TakeGrant consumes the grant with that hash for that agent in one
	// atomic step: at most one caller, on any replica, ever gets it.
	// ENOTFOUND if it is unknown, already taken, another agent's (which
	// stays unused for its owner) or expired at now.
	TakeGrant(ctx context.Context, hash, agentID string, now time.Time) (*Grant, error)

	// AcquireLease takes the named lease for holder until until, if it is
	// free, expired at now, or already holder's (which renews it). false:
	// another holder has it. Leases serialise work across replicas
	// (sign-ins of one user, start-up sweeps).
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease frees the lease if holder still has it.
	ReleaseLease(ctx context.Context, name, holder string) error
	// ExpireLeases deletes the leases that expired at or before now (those
	// of finished playbacks, of a dead replica's sweeps) and says how many.
	ExpireLeases(ctx context.Context, now time.Time) (int, error)

	// EnsureSetting returns the deployment-wide value stored under name,
	// storing value first if there is none: the first replica's value wins
	// and every replica then agrees on it.
	EnsureSetting(ctx context.Context, name, value string) (string, error)

	// The sign-in throttle's state, shared by every replica: failed
	// sign-ins counted per key (the façade-independent keys of an account,
	// an account from one address, an address; vault decides the policy).
	//
	// LoginFailure counts one failure against each key at now, atomically
	// (concurrent failures on any replica are each counted once), and
	// blocks the key until now+delay(key, failures) unless it is already
	// blocked for longer: a block never shrinks. A key forgets its count
	// forget after its last failure or the end of its last block,
	// whichever is later, and then starts again from one. It also drops,
	// now and then, keys forgotten long ago, so the table stays small.
	LoginFailure(ctx context.Context, keys []string, now time.Time, forget time.Duration,
		delay func(key string, failures int) time.Duration) error
	// LoginBlocked returns the latest time until which one of keys is
	// blocked, if that is after now; otherwise the zero time.
	LoginBlocked(ctx context.Context, keys []string, now time.Time) (time.Time, error)
	// LoginSuccess forgets the failures (and blocks) of keys.
	LoginSuccess(ctx context.Context, keys []string) error

	// Retention, legal holds and deletion. A recording is deleted in two
	// steps so that a crash never leaves a row whose bytes are gone:
	// BeginDelete writes its tombstone (state TombstoneDeleting) and
	// removes its row in one transaction, the caller then deletes the blob,
	// and FinishDelete marks the tombstone TombstoneDone.
	//
	// SetRetention stores (or replaces) the policy of r.CampaignID (0: the
	// default); ClearRetention removes it (ENOTFOUND if there is none).
	// Retentions lists the policies, the default first, then by campaign.
	SetRetention(ctx context.Context, r *Retention) error
	ClearRetention(ctx context.Context, campaignID int64) error
	Retentions(ctx context.Context) ([]*Retention, error)
	// AddHold stores h (setting h.ID); ECONFLICT if its selector is held.
	// RemoveHold removes the hold with sel's selector (ENOTFOUND if none).
	// Holds lists the holds, oldest first.
	AddHold(ctx context.Context, h *Hold) error
	RemoveHold(ctx context.Context, sel Hold) error
	Holds(ctx context.Context) ([]*Hold, error)
	// PurgeCandidates returns up to limit recordings with id > afterID, by
	// id, whose StartedAt is more than their campaign's retention (or the
	// default's) before now and that no hold covers. No policy: none.
	PurgeCandidates(ctx context.Context, now time.Time, afterID string, limit int) ([]*Recording, error)
	// BeginDelete, in one transaction, writes the tombstone of recording
	// id (by, reason, at; state TombstoneDeleting) and removes its row.
	// ENOTFOUND if there is no such recording; ECONFLICT "recording is
	// under legal hold: REASON" if a hold covers it (nothing changes).
	BeginDelete(ctx context.Context, id, by, reason string, at time.Time) (*Tombstone, error)
	// FinishDelete marks the tombstone of recording id TombstoneDone
	// (idempotent; ENOTFOUND if there is none).
	FinishDelete(ctx context.Context, id string, at time.Time) error
	// Tombstones lists up to limit tombstones in state ("" for any),
	// newest first.
	Tombstones(ctx context.Context, state string, limit int) ([]*Tombstone, error)

	// Ping checks that the catalog answers (for readiness probes).
	Ping(ctx context.Context) error
	Close() error
}

// Grant is a single-use, short-lived permission kept in the catalog so that
// any replica can honour it once: the CC-Gateway agent portal's two-step
// download token. Only the token's SHA-256 is stored.
type Grant struct {
	Hash        string // hex SHA-256 of the token
	Kind        string // what it grants, e.g. "ccgw-quality"
	UserID      int64
	AgentID     string
	RecordingID string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Retention is how long recordings of a campaign are kept: a recording
// whose StartedAt is more than Days days ago is purged. CampaignID 0 is
// the default policy, for campaigns without one of their own; with no
// policy at all a recording is kept for ever.
type Retention struct {
	CampaignID int64     `json:"campaignId"` // 0: the default
	Days       int       `json:"days"`
	SetBy      string    `json:"setBy"`
	SetAt      time.Time `json:"setAt"`
}

// MaxRetentionDays bounds a policy (a century), so that a cut-off time
// stays representable.
const MaxRetentionDays = 36500

// Hold is a legal hold: the recordings it covers are never purged or
// deleted, whatever their age. Exactly one selector is set: a campaign,
// a call id (every recording of the call), or one recording.
type Hold struct {
	ID          int64     `json:"id"`
	CampaignID  int64     `json:"campaignId,omitempty"`
	CallID      string    `json:"callId,omitempty"`
	RecordingID string    `json:"recordingId,omitempty"`
	Reason      string    `json:"reason"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// Covers reports whether the hold applies to r.
func (h *Hold) Covers(r *Recording) bool {
	return (h.CampaignID != 0 && h.CampaignID == r.CampaignID) ||
		(h.CallID != "" && h.CallID == r.CallID) ||
		(h.RecordingID != "" && h.RecordingID == r.ID)
}

// Tombstone states.
const (
	TombstoneDeleting = "deleting" // the row is gone; the bytes may not be yet
	TombstoneDone     = "done"     // the bytes are gone too
)

// Tombstone is what the catalogue keeps of a deleted recording: who
// deleted it, when and why, and enough to find its bytes again until they
// are gone (BlobKey) and to answer for it (its identifiers).
type Tombstone struct {
	RecordingID string    `json:"recordingId"`
	CampaignID  int64     `json:"campaignId"`
	CRTObjectID string    `json:"crtObjectId"`
	CallID      string    `json:"callId"`
	SHA256      string    `json:"sha256"`
	BlobKey     string    `json:"-"`
	By          string    `json:"by"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
	State       string    `json:"state"`
	DoneAt      time.Time `json:"doneAt"`
}
