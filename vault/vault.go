// Package vault is recvault's core service: it signs users in and out,
// ingests recordings (bytes to the blob store, then metadata to the catalog),
// decides who may read what through recvault.Principal.MayAccess, and writes
// every attempt to the audit trail. Façades call it; it knows no wire format
// and no storage driver (stores and the format prober are injected), and asks
// the media engine for the output a download wants.
package vault

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
	"github.com/recvault/recvault/media/cache"
)

// Probe identifies the media in a stored blob. codecHint is "alaw" or "ulaw"
// for headerless G.711 (which no byte pattern reveals) and "" otherwise. The
// error's message must name what is wrong with the media.
type Probe func(r io.ReaderAt, size int64, codecHint string) (Probed, error)

// Probed is what a Probe learnt.
type Probed struct {
	Kind     recvault.Kind
	Format   recvault.MediaFormat
	Duration time.Duration
}

// Config tunes a Service. Zero values get the defaults noted.
type Config struct {
	SessionIdle    time.Duration    // idle timeout; default 30 min
	SessionMax     time.Duration    // absolute lifetime; default 12 h
	PasswordParams auth.Params      // default auth.DefaultParams
	Now            func() time.Time // default time.Now; tests pass a fake clock
	Logger         *slog.Logger     // default slog.Default()
	Probe          Probe            // required for ingest
	// Cache keeps conversions whose size is unknown in advance (MP3), so
	// repeated and ranged requests are file serves. Nil: always convert.
	Cache *cache.Cache
	// MaxIngestBytes bounds one recording: a larger upload is refused
	// (EINVALID) and nothing is kept. 0: DefaultMaxIngestBytes; negative:
	// no limit.
	MaxIngestBytes int64
	// AuditCheckpoint is a file the audit writer appends "seq hash time"
	// to after each commit, so that a cut tail is detectable; "" for none.
	AuditCheckpoint string
}

// Service is the core. It is safe for concurrent use.
type Service struct {
	cat   recvault.Catalog
	blobs recvault.BlobStore
	cfg   Config
	log   *slog.Logger
	// holder names this service (replica) as the holder of catalog leases.
	holder string
	// auditW is the group-commit audit writer, made on first use.
	auditOnce sync.Once
	auditW    *auditWriter
}

// New returns a service over a catalog and a blob store.
func New(cat recvault.Catalog, blobs recvault.BlobStore, cfg Config) *Service {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.PasswordParams == (auth.Params{}) {
		cfg.PasswordParams = auth.DefaultParams
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cat: cat, blobs: blobs, cfg: cfg, log: cfg.Logger, holder: newID()}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// RequestInfo describes where a call came from, for the audit trail and logs.
type RequestInfo struct {
	Remote    string
	RequestID string
	Via       string // v1, ameyo, ccgw, cli
	// Route is the request's method and path (never its query, which may
	// carry credentials), named in the audit record of a refused request.
	Route string
	// Note, when set (by the server, per request), learns who the request
	// acted as and which output it was served, for the access log. It is
	// a pointer so that the façades' copies of RequestInfo share it.
	Note *RequestNote
}

// RequestNote is what the core learnt about a request, for its log line:
// the principal as the audit trail names it (a login, "apikey:NAME"; never
// a secret) and the format of a download; and, from the API that served
// it, the route pattern its router matched (SetRoute).
type RequestNote struct {
	mu               sync.Mutex
	principal, media string
	route            string
	routed           bool
}

// SetRoute notes the route pattern the API's own router matched ("" for
// none), for the server's labels: a façade that says it spares the
// server routing the request again to name it.
func (n *RequestNote) SetRoute(pattern string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.route, n.routed = pattern, true
}

// Route returns the pattern SetRoute noted, and whether it was called.
func (n *RequestNote) Route() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.route, n.routed
}

// Principal and Format return what was noted ("" for nothing).
func (n *RequestNote) Principal() string { n.mu.Lock(); defer n.mu.Unlock(); return n.principal }
func (n *RequestNote) Format() string    { n.mu.Lock(); defer n.mu.Unlock(); return n.media }

func (n *RequestNote) set(principal, format string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if principal != "" {
		n.principal = principal
	}
	if format != "" {
		n.media = format
	}
}

type requestInfoKey struct{}

// WithRequestInfo attaches ri to ctx.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the RequestInfo attached to ctx, if any.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return ri
}

// newID makes an id for a lease holder: 80 random bits in 20 hex digits.
func newID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// newRecordingID makes a recording's id, 20 hex digits as before: the
// first 8 are the ingest time in Unix seconds, the other 12 (48 bits)
// random. Ids made in ingest order then land at the right-hand edge of
// the catalogue's primary key, and of the indexes that end in the id,
// where the pages being written stay in cache; a fully random id sent
// every ingest to a random page of a key index that outgrows the cache.
// Loading 3 M rows in the catalogue's bulk load took 31.4 s with ids in
// order against 54.5 s with random ones (bench/catalog).
//
// The id is still no secret (authorisation guards every recording) and
// no guess: 48 random bits in each second. Two ingests in one second get
// the same id with odds of 2^-48 per pair: at a sustained 100 ingests a
// second, once in some 1,800 years (a fully random id: never). The
// second of the two then fails with a server error that a retry mends,
// and nothing is lost: a blob store never replaces a blob (its Put is
// exclusive), so the first recording's bytes stay.
func newRecordingID(now time.Time) string {
	var b [10]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// --- Sessions -----------------------------------------------------------

// LoginOptions shape a sign-in for a façade.
type LoginOptions struct {
	// Kind names the façade whose session this is ("v1", "ameyo", "ccgw").
	Kind string
	// NewToken makes the session token; nil makes a 256-bit random one.
	// Façades whose clients expect a vendor-shaped session id supply their
	// own, which must carry at least 128 random bits.
	NewToken func(u *recvault.User) string
	// Exclusive refuses a sign-in (ECONFLICT) while the user has a live
	// session of the same Kind, unless Force, which revokes those sessions.
	Exclusive, Force bool
	// Idle overrides the service's idle timeout for this session.
	Idle time.Duration
	// User, when set, signs in that user instead of looking up login (the
	// façade found it another way, e.g. by work number).
	User *recvault.User
	// AgentID, when set (and User is not), signs in the enabled user with
	// that work number. An unknown one fails like a wrong password, in the
	// same time and throttled alike, so work numbers cannot be probed.
	AgentID string
	// Lease, when set, names the catalog lease an Exclusive sign-in's
	// session check-and-create runs under, instead of waiting for the
	// user's default one: if another sign-in holds it, LoginWith fails at
	// once with ECONFLICT wrapping ErrSignInBusy (CC-Gateway's "sign-in in
	// progress").
	Lease string
}

// Login checks a login and password and opens a session of the given kind.
// Unknown login, wrong password and disabled user give the same error and
// take the same time.
func (s *Service) Login(ctx context.Context, login, password, kind string) (string, *recvault.Principal, error) {
	return s.LoginWith(ctx, login, password, LoginOptions{Kind: kind})
}

// LoginWith is Login with façade options.
func (s *Service) LoginWith(ctx context.Context, login, password string, o LoginOptions) (string, *recvault.Principal, error) {
	var u *recvault.User
	var err error
	switch {
	case o.User != nil:
		u, err = s.CheckPassword(ctx, o.User.Login, password)
	case o.AgentID != "":
		u, err = s.checkAgentPassword(ctx, o.AgentID, password)
	default:
		u, err = s.CheckPassword(ctx, login, password)
	}
	if err != nil {
		return "", nil, err
	}
	p := &recvault.Principal{User: u}
	if o.Exclusive {
		// Check and create under a catalog lease, so that two sign-ins of
		// one user racing on two replicas cannot both see "no session".
		// It is taken only now, after the password proved right: were it
		// held during the slow hash, anyone sending wrong passwords for a
		// user would keep the user's correct sign-ins out.
		var release func()
		var ok bool
		if o.Lease != "" {
			release, ok, err = s.TryLease(ctx, o.Lease, 30*time.Second)
		} else {
			release, ok, err = s.WaitLease(ctx, fmt.Sprintf("signin:%s:%d", o.Kind, u.ID), 30*time.Second, 10*time.Second)
		}
		if err != nil {
			return "", nil, err
		}
		if !ok {
			return "", nil, &recvault.Error{Code: recvault.ECONFLICT,
				Message: fmt.Sprintf("another sign-in of user %s is in progress", u.Login), Err: ErrSignInBusy}
		}
		defer release()
		live, err := s.liveSessions(ctx, u.ID, o.Kind)
		if err != nil {
			return "", nil, err
		}
		if len(live) > 0 && !o.Force {
			s.note(ctx, p, recvault.AuditEvent{Action: recvault.ActionLogin, Outcome: recvault.OutcomeDenied, Detail: "already signed in"})
			return "", nil, recvault.Errorf(recvault.ECONFLICT, "user %s is already logged in; log in with forceLogin to replace that session", u.Login)
		}
		for _, ls := range live {
			if err := s.cat.DeleteSession(ctx, ls.ID); err != nil {
				return "", nil, err
			}
		}
	}
	token := ""
	if o.NewToken != nil {
		token = o.NewToken(u)
	} else {
		token = auth.NewToken(32)
	}
	token, sess, err := s.openSession(ctx, u, o.Kind, token, o.Idle)
	if err != nil {
		return "", nil, err
	}
	p.Session = sess
	if err := s.audit(ctx, p, recvault.ActionLogin, "", recvault.OutcomeGranted, o.Kind); err != nil {
		return "", nil, err
	}
	return token, p, nil
}

// CheckPassword returns the enabled user whose login and password match, or
// EUNAUTHENTICATED, audited, in the same time whatever was wrong; or
// ETHROTTLED, audited, without checking the password, while the sign-in
// throttle (throttle.go) blocks the account or the client's address.
func (s *Service) CheckPassword(ctx context.Context, login, password string) (*recvault.User, error) {
	return s.checkCredentials(ctx, login, "unknown login", password,
		func() (*recvault.User, error) { return s.cat.UserByLogin(ctx, login) })
}

// liveSessions lists u's unexpired sessions of one kind.
func (s *Service) liveSessions(ctx context.Context, userID int64, kind string) ([]*recvault.Session, error) {
	all, err := s.cat.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var live []*recvault.Session
	for _, ss := range all {
		if ss.Kind == kind && s.alive(ss, now) {
			live = append(live, ss)
		}
	}
	return live, nil
}

// alive reports whether a session is neither past its lifetime nor idle.
func (s *Service) alive(ss *recvault.Session, now time.Time) bool {
	idle := ss.Idle
	if idle <= 0 {
		idle = s.cfg.SessionIdle
	}
	return now.Before(ss.ExpiresAt) && now.Sub(ss.LastSeen) < idle
}

// LogoutKind ends every session of p's user of one kind (CC-Gateway's
// logout ends the agent's sign-in, whichever GUID it holds), audited.
func (s *Service) LogoutKind(ctx context.Context, p *recvault.Principal, kind string) (int, error) {
	n, err := s.RevokeSessions(ctx, p.User, kind)
	if err != nil {
		return 0, err
	}
	return n, s.audit(ctx, p, recvault.ActionLogout, "", recvault.OutcomeGranted, kind+" sessions ("+strconv.Itoa(n)+")")
}

// RevokeSessions ends every session of u of one kind.
func (s *Service) RevokeSessions(ctx context.Context, u *recvault.User, kind string) (int, error) {
	live, err := s.liveSessions(ctx, u.ID, kind)
	if err != nil {
		return 0, err
	}
	for _, ls := range live {
		if err := s.cat.DeleteSession(ctx, ls.ID); err != nil {
			return 0, err
		}
	}
	return len(live), nil
}

// Rotate gives p's session a successor with a new token and lets the old
// token work for grace more. The successor inherits the user, kind and
// idle timeout. It is atomic across replicas: if another request rotated
// the session since p was authenticated, nothing changes and the error is
// ECONFLICT, so a session never gets two successors.
func (s *Service) Rotate(ctx context.Context, p *recvault.Principal, newToken string, grace time.Duration) (*recvault.Session, error) {
	old := p.Session
	now := s.now()
	sess := &recvault.Session{TokenHash: auth.HashToken(newToken), UserID: old.UserID, Kind: old.Kind,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.SessionMax), Idle: old.Idle}
	end := now.Add(grace)
	if !end.Before(old.ExpiresAt) {
		// Still move the expiry, by a nanosecond, so that the move itself
		// marks the session as rotated for any concurrent request.
		end = old.ExpiresAt.Add(-time.Nanosecond)
	}
	ok, err := s.cat.RotateSession(ctx, old.ID, old.ExpiresAt, end, sess)
	if err != nil {
		return nil, fmt.Errorf("rotate session: %w", err)
	}
	if !ok {
		return nil, recvault.Errorf(recvault.ECONFLICT, "the session was rotated by another request")
	}
	old.ExpiresAt = end
	return sess, nil
}

// Now is the service's clock (fake in tests).
func (s *Service) Now() time.Time { return s.now() }

// OpenSessionFor opens a further session for an already authenticated user
// (a refreshed token), with a token made by newToken.
func (s *Service) OpenSessionFor(ctx context.Context, u *recvault.User, kind string, newToken func(*recvault.User) string) (string, *recvault.Session, error) {
	return s.openSession(ctx, u, kind, newToken(u), 0)
}

func (s *Service) openSession(ctx context.Context, u *recvault.User, kind, token string, idle time.Duration) (string, *recvault.Session, error) {
	now := s.now()
	sess := &recvault.Session{TokenHash: auth.HashToken(token), UserID: u.ID, Kind: kind,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(s.cfg.SessionMax), Idle: idle}
	if err := s.cat.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// Authenticate turns a presented token into a principal. Unknown, expired
// (idle or absolute), revoked or disabled-user sessions are EUNAUTHENTICATED.
//
// A refused request is audited (anonymous, with its route), so that every
// API records unauthenticated attempts the same way.
func (s *Service) Authenticate(ctx context.Context, token string) (*recvault.Principal, error) {
	p, err := s.authenticate(ctx, token)
	if recvault.ErrorCode(err) == recvault.EUNAUTHENTICATED {
		if aerr := s.record(ctx, nil, recvault.AuditEvent{Action: recvault.ActionRequest, Subject: RequestInfoFrom(ctx).Route,
			Outcome: recvault.OutcomeDenied, Detail: recvault.ErrorMessage(err)}); aerr != nil {
			return nil, aerr
		}
	}
	return p, err
}

// AuthenticateAgent is Authenticate for a façade whose sessions belong to
// one work number (CC-Gateway: the GUID must be a session of that kind,
// and of the agent named in the path). Another kind's token is
// EUNAUTHENTICATED; another agent's session is EFORBIDDEN; both audited.
func (s *Service) AuthenticateAgent(ctx context.Context, token, kind, agentID string) (*recvault.Principal, error) {
	p, err := s.authenticate(ctx, token)
	if err == nil && p.Session.Kind != kind {
		err = recvault.Errorf(recvault.EUNAUTHENTICATED, "not a %s session", kind)
	}
	route := RequestInfoFrom(ctx).Route
	if recvault.ErrorCode(err) == recvault.EUNAUTHENTICATED {
		if aerr := s.record(ctx, nil, recvault.AuditEvent{Action: recvault.ActionRequest, Subject: route,
			Outcome: recvault.OutcomeDenied, Detail: recvault.ErrorMessage(err)}); aerr != nil {
			return nil, aerr
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	if p.User.AgentID != agentID {
		if aerr := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionRequest, Subject: route,
			Outcome: recvault.OutcomeDenied, Detail: "session of another agent"}); aerr != nil {
			return nil, aerr
		}
		return nil, recvault.Errorf(recvault.EFORBIDDEN, "the session is another agent's")
	}
	return p, nil
}

// errUnauth is authenticate's refusal, made once rather than per request.
var errUnauth = recvault.Errorf(recvault.EUNAUTHENTICATED, "missing, invalid or expired session")

func (s *Service) authenticate(ctx context.Context, token string) (*recvault.Principal, error) {
	if token == "" || len(token) > 512 {
		return nil, errUnauth
	}
	hash := auth.HashToken(token)
	sess, err := s.cat.SessionByTokenHash(ctx, hash)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		return nil, errUnauth
	} else if err != nil {
		return nil, err
	}
	// Lookup was by hash; compare again in constant time so that no timing
	// of the index walk or string compare tells an attacker anything (the
	// hash computed once: a second SHA-256 of the token would add nothing).
	if !auth.HashesMatch(hash, sess.TokenHash) {
		return nil, errUnauth
	}
	now := s.now()
	if !s.alive(sess, now) {
		if err := s.cat.DeleteSession(ctx, sess.ID); err != nil {
			s.log.Warn("delete dead session", "err", err)
		}
		return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "session expired")
	}
	u, err := s.cat.UserByID(ctx, sess.UserID)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND || (err == nil && u.Disabled) {
		if err := s.cat.DeleteSession(ctx, sess.ID); err != nil {
			s.log.Warn("delete dead session", "err", err)
		}
		return nil, errUnauth
	} else if err != nil {
		return nil, err
	}
	// Touching on every request would make every read a write; a second
	// of slack in the idle timer is harmless.
	if now.Sub(sess.LastSeen) > time.Second {
		if err := s.cat.TouchSession(ctx, sess.ID, now); err != nil {
			s.log.Warn("touch session", "err", err)
		}
		sess.LastSeen = now
	}
	return &recvault.Principal{User: u, Session: sess}, nil
}

// KeepAlive marks p's session as active now (an explicit keep-alive call).
func (s *Service) KeepAlive(ctx context.Context, p *recvault.Principal) error {
	if p == nil || p.Session == nil {
		return recvault.Errorf(recvault.EUNAUTHENTICATED, "no session")
	}
	now := s.now()
	p.Session.LastSeen = now
	return s.cat.TouchSession(ctx, p.Session.ID, now)
}

// Logout revokes p's session.
func (s *Service) Logout(ctx context.Context, p *recvault.Principal) error {
	if p == nil || p.Session == nil {
		return recvault.Errorf(recvault.EUNAUTHENTICATED, "no session")
	}
	if err := s.cat.DeleteSession(ctx, p.Session.ID); err != nil {
		return err
	}
	if err := s.audit(ctx, p, recvault.ActionLogout, "", recvault.OutcomeGranted, ""); err != nil {
		return err
	}
	return nil
}

// LogoutAll ends every session of p's user, of every kind and on every
// façade ("sign me out everywhere", e.g. after a lost device: sessions
// otherwise end only one by one, or when they expire). It returns how many
// of them were still live.
func (s *Service) LogoutAll(ctx context.Context, p *recvault.Principal) (int, error) {
	if p == nil || p.Session == nil || p.User == nil {
		return 0, recvault.Errorf(recvault.EUNAUTHENTICATED, "no session")
	}
	all, err := s.cat.UserSessions(ctx, p.User.ID)
	if err != nil {
		return 0, fmt.Errorf("list sessions of user %d: %w", p.User.ID, err)
	}
	now := s.now()
	live := 0
	for _, ss := range all {
		if s.alive(ss, now) {
			live++
		}
	}
	if err := s.cat.DeleteUserSessions(ctx, p.User.ID); err != nil {
		return 0, fmt.Errorf("end sessions of user %d: %w", p.User.ID, err)
	}
	if err := s.audit(ctx, p, recvault.ActionLogout, "", recvault.OutcomeGranted, fmt.Sprintf("all sessions (%d)", live)); err != nil {
		return live, err
	}
	return live, nil
}

// SessionTimes reports the idle timeout and absolute lifetime in force.
func (s *Service) SessionTimes() (idle, max time.Duration) {
	return s.cfg.SessionIdle, s.cfg.SessionMax
}

// --- Users ----------------------------------------------------------------

// AddUser validates u, hashes password and stores the user.
func (s *Service) AddUser(ctx context.Context, u *recvault.User, password string) (err error) {
	defer s.administered(ctx, recvault.ActionUserAdmin, "add user "+u.Login+" role "+string(u.Role), &err)
	if err := u.Validate(); err != nil {
		return err
	}
	if len(password) < 8 {
		return recvault.Errorf(recvault.EINVALID, "password must have at least 8 characters")
	}
	h, err := auth.HashPassword(password, s.cfg.PasswordParams)
	if err != nil {
		return recvault.Internal(err)
	}
	u.PasswordHash = h
	u.CreatedAt = s.now()
	return s.cat.CreateUser(ctx, u)
}

// Users lists every user with its role and assignments, for an admin (the
// console's read-only user list); anyone else is EFORBIDDEN. Password
// hashes never leave the catalogue's User (json "-").
func (s *Service) Users(ctx context.Context, p *recvault.Principal) ([]*recvault.User, error) {
	if p == nil || p.User == nil || p.User.Disabled || p.User.Role != recvault.RoleAdmin {
		return nil, recvault.Errorf(recvault.EFORBIDDEN, "only admins may list users")
	}
	users, err := s.cat.Users(ctx)
	if err != nil {
		return nil, recvault.Internal(fmt.Errorf("list users: %w", err))
	}
	return users, nil
}

// SetPassword replaces a user's password and revokes its sessions.
func (s *Service) SetPassword(ctx context.Context, login, password string) (err error) {
	defer s.administered(ctx, recvault.ActionUserAdmin, "set password of "+login, &err)
	if len(password) < 8 {
		return recvault.Errorf(recvault.EINVALID, "password must have at least 8 characters")
	}
	u, err := s.cat.UserByLogin(ctx, login)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = auth.HashPassword(password, s.cfg.PasswordParams); err != nil {
		return recvault.Internal(err)
	}
	if err := s.cat.UpdateUser(ctx, u); err != nil {
		return err
	}
	return s.cat.DeleteUserSessions(ctx, u.ID)
}

// SetDisabled disables (or re-enables) a user; disabling revokes its sessions.
func (s *Service) SetDisabled(ctx context.Context, login string, disabled bool) (err error) {
	defer s.administered(ctx, recvault.ActionUserAdmin, "set disabled="+strconv.FormatBool(disabled)+" on "+login, &err)
	u, err := s.cat.UserByLogin(ctx, login)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	if err := s.cat.UpdateUser(ctx, u); err != nil {
		return err
	}
	if disabled {
		return s.cat.DeleteUserSessions(ctx, u.ID)
	}
	return nil
}

// administered records an administrative change (users, API keys) with
// its outcome; deferred with the operation's named error, it turns an
// unrecordable change into a failure.
func (s *Service) administered(ctx context.Context, action recvault.AuditAction, subject string, err *error) {
	e := recvault.AuditEvent{Action: action, Subject: subject, Outcome: recvault.OutcomeGranted}
	switch code := recvault.ErrorCode(*err); code {
	case "":
	case recvault.EINVALID, recvault.ECONFLICT:
		e.Outcome, e.Detail = recvault.OutcomeInvalid, recvault.ErrorMessage(*err)
	case recvault.ENOTFOUND:
		e.Outcome, e.Detail = recvault.OutcomeNotFound, recvault.ErrorMessage(*err)
	default:
		e.Outcome, e.Detail = recvault.OutcomeError, recvault.ErrorMessage(*err)
	}
	if aerr := s.record(ctx, nil, e); aerr != nil && *err == nil {
		*err = aerr
	}
}

// --- Recordings -----------------------------------------------------------

// IngestRequest is the caller-supplied metadata of a new recording.
type IngestRequest struct {
	CampaignID   int64
	CRTObjectID  string
	CallID       string
	AgentID      string
	Kind         recvault.Kind // "" = as probed
	OriginalPath string
	StartedAt    time.Time // zero = ingest time
	Codec        string    // "alaw" or "ulaw" for headerless G.711, else ""
	AgentChannel int       // dual-track voice: the agent's channel (0 or 1); the other is the customer's
}

// Ingest stores a recording: the bytes first, durably, then the catalog row.
// p nil means the operator at the data directory (the CLI); otherwise only
// admins may ingest. Re-ingesting the same bytes with the same metadata
// returns the existing recording with created=false; anything else under
// the same (campaign, crtObjectId) is ECONFLICT and nothing is overwritten.
func (s *Service) Ingest(ctx context.Context, p *recvault.Principal, req IngestRequest, body io.Reader) (rec *recvault.Recording, created bool, err error) {
	if p != nil && (p.User == nil || p.User.Role != recvault.RoleAdmin) {
		s.note(ctx, p, recvault.AuditEvent{Action: recvault.ActionIngest, Outcome: recvault.OutcomeDenied, Detail: "not an admin"})
		return nil, false, recvault.Errorf(recvault.EFORBIDDEN, "only admins may ingest recordings")
	}
	defer func() {
		e := recvault.AuditEvent{Action: recvault.ActionIngest, Outcome: recvault.OutcomeGranted}
		if err != nil {
			e.Outcome, e.Detail = recvault.OutcomeError, recvault.ErrorMessage(err)
			if code := recvault.ErrorCode(err); code == recvault.EINVALID || code == recvault.ECONFLICT {
				e.Outcome = recvault.OutcomeInvalid
			}
		}
		if rec != nil {
			e.RecordingID = rec.ID
		}
		if aerr := s.record(ctx, p, e); aerr != nil && err == nil {
			err = aerr // an ingest that cannot be recorded is reported as failed
		}
	}()
	if req.Codec != "" && req.Codec != "alaw" && req.Codec != "ulaw" {
		return nil, false, recvault.Errorf(recvault.EINVALID, "codec must be alaw or ulaw (for headerless G.711)")
	}
	if req.AgentChannel != 0 && req.AgentChannel != 1 {
		return nil, false, recvault.Errorf(recvault.EINVALID, "agent channel must be 0 or 1")
	}
	now := s.now()
	r := &recvault.Recording{
		ID: newRecordingID(now), CampaignID: req.CampaignID, CRTObjectID: req.CRTObjectID, CallID: req.CallID,
		AgentID: req.AgentID, Kind: req.Kind, OriginalPath: req.OriginalPath, StartedAt: req.StartedAt.UTC(),
		CreatedAt: now,
	}
	if r.Kind == "" {
		r.Kind = recvault.KindVoice // provisional, for validation; replaced by the probe
	}
	if err := r.Validate(); err != nil {
		return nil, false, err
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	if s.cfg.Probe == nil {
		return nil, false, recvault.Internal(errors.New("no media prober configured"))
	}
	r.BlobKey = now.Format("2006/01/02/") + r.ID
	// Mark the blob as being written before it exists, so that no
	// replica's orphan sweep takes it for a crash's leftover before its
	// row is committed; the mark goes once the ingest is decided.
	if err := s.cat.BeginBlob(ctx, r.BlobKey, now); err != nil {
		return nil, false, err
	}
	defer func() {
		if err := s.cat.EndBlob(context.WithoutCancel(ctx), r.BlobKey); err != nil {
			s.log.Warn("end blob mark", "key", r.BlobKey, "err", err)
		}
	}()
	body = s.guardIngest(body, req.Codec) // size limit; refuse non-media early (ingestlimit.go)
	info, err := s.putBlob(ctx, r, body)
	if err != nil {
		if refused := refusedIngest(err); refused != nil {
			return nil, false, refused
		}
		if ctx.Err() != nil {
			return nil, false, recvault.Errorf(recvault.EINVALID, "upload interrupted")
		}
		return nil, false, recvault.Internal(fmt.Errorf("store blob: %w", err))
	}
	keep := false
	defer func() {
		if !keep {
			if err := s.blobs.Delete(context.WithoutCancel(ctx), r.BlobKey); err != nil {
				s.log.Error("remove unused blob", "key", r.BlobKey, "err", err)
			}
		}
	}()
	if info.Size == 0 {
		return nil, false, recvault.Errorf(recvault.EINVALID, "empty file: no media to ingest")
	}
	r.Size, r.SHA256 = info.Size, info.SHA256
	b, err := s.openRecordingBlob(ctx, r)
	if err != nil {
		return nil, false, recvault.Internal(fmt.Errorf("reopen blob: %w", err))
	}
	pr, err := s.cfg.Probe(b, b.Size(), req.Codec)
	b.Close()
	if err != nil {
		return nil, false, recvault.Errorf(recvault.EINVALID, "unsupported or corrupt media: %v", err)
	}
	if req.Kind != "" && req.Kind != pr.Kind {
		return nil, false, recvault.Errorf(recvault.EINVALID, "kind %s was given but the file is %s (%s)", req.Kind, pr.Kind, pr.Format.Container)
	}
	r.Kind, r.Format, r.Duration = pr.Kind, pr.Format, pr.Duration
	r.Format.AgentChannel, r.Format.CustomerChannel = -1, -1
	if r.Kind == recvault.KindVoice && r.Format.Channels == 2 {
		r.Format.AgentChannel, r.Format.CustomerChannel = req.AgentChannel, 1-req.AgentChannel
	}
	existing, err := s.cat.CreateRecording(ctx, r)
	if recvault.ErrorCode(err) == recvault.ECONFLICT && existing != nil {
		same := *r
		if req.StartedAt.IsZero() {
			same.StartedAt = time.Time{}
		}
		if existing.SameIdentity(&same) {
			return existing, false, nil
		}
		return nil, false, err
	} else if err != nil {
		return nil, false, err
	}
	keep = true
	return r, true, nil
}

// putBlob stores an ingest's bytes under r.BlobKey. An encrypting sealed
// store keeps the wrapped data key out of the blob: it goes into r.DataKey
// and so into the row CreateRecording writes, bound to r.ID. Any other
// store writes as Put always has (key in the header, if any).
func (s *Service) putBlob(ctx context.Context, r *recvault.Recording, body io.Reader) (recvault.BlobInfo, error) {
	ss, ok := s.blobs.(sealingStore)
	if !ok || !ss.Encrypting() {
		return s.blobs.Put(ctx, r.BlobKey, body)
	}
	info, wk, err := ss.PutSealed(ctx, r.BlobKey, r.ID, body)
	if err != nil {
		return recvault.BlobInfo{}, err
	}
	r.DataKey = wk
	return info, nil
}

// UserByAgentID returns the enabled user with that work number.
func (s *Service) UserByAgentID(ctx context.Context, agentID string) (*recvault.User, error) {
	return s.cat.UserByAgentID(ctx, agentID)
}

// readyError names the backend that failed a readiness check.
type readyError struct {
	backend string
	err     error
}

func (e *readyError) Error() string { return e.backend + ": " + e.err.Error() }
func (e *readyError) Unwrap() error { return e.err }

// Ready checks that the catalog and the blob store both answer.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.cat.Ping(ctx); err != nil {
		return &readyError{"catalog", err}
	}
	if err := s.blobs.Ping(ctx); err != nil {
		return &readyError{"blob store", err}
	}
	return nil
}

// ReadyFailure names the backend a Ready error is about ("catalog",
// "blob store"), for an answer that must not carry the cause.
func ReadyFailure(err error) string {
	var re *readyError
	if errors.As(err, &re) {
		return re.backend
	}
	return "backend"
}
