// Package cached keeps the rows every request reads — the session behind a
// token, its user, the recording asked for — in the process for a short
// time, in front of any recvault.Catalog.
//
// Why: a download on an uncached catalogue reads the session, the user
// and its campaign and inspection assignments, and the recording, on every
// request: four or five queries for the same few rows, thousands of times
// a second, which cost more than serving the bytes.
//
// Correctness, which the README states for operators:
//
//   - A change made through this catalogue (a logout, a session rotated or
//     cut short, a user updated or disabled — which also ends its sessions
//     — a recording deleted or its blob or data key replaced) drops the
//     rows it touches before the call returns, so it takes effect at once
//     in this process.
//   - A change made by another process (another replica, a CLI command)
//     is seen once the cached row is older than the TTL (one second by
//     default): no row is served from the cache after it is TTL old.
//   - A read that raced with an invalidation is not cached (a generation
//     counter), so a stale row never re-enters after its drop.
//   - Misses (not found) are never cached: a new session or recording is
//     seen at once everywhere.
//
// Values are copied in and out, so a caller that changes a returned row
// (a principal's session times) never changes the cache. Freshness is
// measured on the process's monotonic clock, never on a service's (fake,
// in tests) clock.
package cached

import (
	"context"
	"sync"
	"time"

	"github.com/recvault/recvault"
)

// DefaultTTL bounds how stale a cached row may be when another process
// changed it.
const DefaultTTL = time.Second

// maxEntries bounds each map: past it, stale entries are dropped, and if
// that is not enough the map is emptied (the next reads refill it).
const maxEntries = 100_000

// Catalog is a recvault.Catalog that caches the hot reads of the one it
// wraps. Every method not named here passes straight through.
type Catalog struct {
	recvault.Catalog
	ttl time.Duration

	mu       sync.Mutex
	gen      uint64                             // bumped by every invalidation
	sessions map[string]entry[recvault.Session] // by token hash
	sessHash map[int64]string                   // session id → token hash, for the writes by id
	users    map[int64]entry[recvault.User]
	recs     map[string]entry[recvault.Recording]
	idents   map[ident]entry[string] // (campaign, crtObjectId) → recording id
}

type entry[T any] struct {
	v  T
	at time.Time
}

type ident struct {
	campaign int64
	crt      string
}

// New wraps c. ttl <= 0 means DefaultTTL.
func New(c recvault.Catalog, ttl time.Duration) *Catalog {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Catalog{Catalog: c, ttl: ttl,
		sessions: map[string]entry[recvault.Session]{},
		sessHash: map[int64]string{},
		users:    map[int64]entry[recvault.User]{},
		recs:     map[string]entry[recvault.Recording]{},
		idents:   map[ident]entry[string]{},
	}
}

// Unwrap returns the catalogue behind the cache.
func (c *Catalog) Unwrap() recvault.Catalog { return c.Catalog }

func (c *Catalog) fresh(at time.Time) bool { return time.Since(at) < c.ttl }

// generation is read before a catalogue read; put stores the result only
// if no invalidation happened in between.
func (c *Catalog) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func put[K comparable, T any](c *Catalog, m map[K]entry[T], gen uint64, k K, v T, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(m) >= maxEntries {
		for k, e := range m {
			if !c.fresh(e.at) {
				delete(m, k)
			}
		}
		if len(m) >= maxEntries {
			clear(m)
		}
	}
	m[k] = entry[T]{v: v, at: at}
}

func get[K comparable, T any](c *Catalog, m map[K]entry[T], k K) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[k]
	if !ok || !c.fresh(e.at) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// invalidate runs drop under the lock and bumps the generation.
func (c *Catalog) invalidate(drop func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	drop()
}

// --- Sessions ------------------------------------------------------------

// SessionByTokenHash returns the session, from the cache when fresh.
func (c *Catalog) SessionByTokenHash(ctx context.Context, hash string) (*recvault.Session, error) {
	if s, ok := get(c, c.sessions, hash); ok {
		return &s, nil
	}
	gen, at := c.generation(), time.Now()
	s, err := c.Catalog.SessionByTokenHash(ctx, hash)
	if err != nil {
		return nil, err
	}
	put(c, c.sessions, gen, hash, *s, at)
	c.mu.Lock()
	if len(c.sessHash) >= 2*maxEntries {
		clear(c.sessHash)
	}
	c.sessHash[s.ID] = hash
	c.mu.Unlock()
	return s, nil
}

// TouchSession records the activity and keeps the cached copy's LastSeen
// in step (no invalidation: the row is otherwise unchanged).
func (c *Catalog) TouchSession(ctx context.Context, id int64, at time.Time) error {
	err := c.Catalog.TouchSession(ctx, id, at)
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.sessHash[id]
	if e, cached := c.sessions[h]; ok && cached && e.v.ID == id {
		if err != nil {
			delete(c.sessions, h)
			c.gen++
		} else if at.After(e.v.LastSeen) {
			e.v.LastSeen = at
			c.sessions[h] = e
		}
	}
	return err
}

func (c *Catalog) dropSession(id int64) {
	c.invalidate(func() {
		if h, ok := c.sessHash[id]; ok {
			delete(c.sessions, h)
			delete(c.sessHash, id)
		}
	})
}

// SetSessionExpiry changes the session and drops its cached copy.
func (c *Catalog) SetSessionExpiry(ctx context.Context, id int64, at time.Time) error {
	defer c.dropSession(id)
	return c.Catalog.SetSessionExpiry(ctx, id, at)
}

// RotateSession rotates and drops the old session's cached copy.
func (c *Catalog) RotateSession(ctx context.Context, oldID int64, seen, until time.Time, succ *recvault.Session) (bool, error) {
	defer c.dropSession(oldID)
	return c.Catalog.RotateSession(ctx, oldID, seen, until, succ)
}

// DeleteSession ends the session and drops its cached copy.
func (c *Catalog) DeleteSession(ctx context.Context, id int64) error {
	defer c.dropSession(id)
	return c.Catalog.DeleteSession(ctx, id)
}

// DeleteUserSessions ends a user's sessions and drops their cached copies.
func (c *Catalog) DeleteUserSessions(ctx context.Context, userID int64) error {
	defer c.invalidate(func() {
		for h, e := range c.sessions {
			if e.v.UserID == userID {
				delete(c.sessions, h)
			}
		}
	})
	return c.Catalog.DeleteUserSessions(ctx, userID)
}

// --- Users ---------------------------------------------------------------

// UserByID returns the user, from the cache when fresh.
func (c *Catalog) UserByID(ctx context.Context, id int64) (*recvault.User, error) {
	if u, ok := get(c, c.users, id); ok {
		return &u, nil
	}
	gen, at := c.generation(), time.Now()
	u, err := c.Catalog.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	put(c, c.users, gen, id, *u, at)
	return u, nil
}

// UpdateUser changes the user (role, assignments, password, disabled) and
// drops its cached copy.
func (c *Catalog) UpdateUser(ctx context.Context, u *recvault.User) error {
	defer c.invalidate(func() { delete(c.users, u.ID) })
	return c.Catalog.UpdateUser(ctx, u)
}

// --- Recordings ----------------------------------------------------------

// Recording returns the recording, from the cache when fresh.
func (c *Catalog) Recording(ctx context.Context, id string) (*recvault.Recording, error) {
	if r, ok := get(c, c.recs, id); ok {
		return &r, nil
	}
	gen, at := c.generation(), time.Now()
	r, err := c.Catalog.Recording(ctx, id)
	if err != nil {
		return nil, err
	}
	put(c, c.recs, gen, id, *r, at)
	return r, nil
}

// RecordingByIdentity returns the recording with that identity, from the
// cache when fresh.
func (c *Catalog) RecordingByIdentity(ctx context.Context, campaignID int64, crtObjectID string) (*recvault.Recording, error) {
	k := ident{campaignID, crtObjectID}
	if id, ok := get(c, c.idents, k); ok {
		if r, ok := get(c, c.recs, id); ok {
			return &r, nil
		}
	}
	gen, at := c.generation(), time.Now()
	r, err := c.Catalog.RecordingByIdentity(ctx, campaignID, crtObjectID)
	if err != nil {
		return nil, err
	}
	put(c, c.recs, gen, r.ID, *r, at)
	put(c, c.idents, gen, k, r.ID, at)
	return r, nil
}

// Forget drops recording id's cached row, for a caller that found it stale
// (its blob gone because another process migrated it).
func (c *Catalog) Forget(id string) { c.dropRecording(id) }

// dropRecording drops id's row and, through it, its identity entry, in
// constant time (a purge drops thousands). An identity entry whose row is
// gone already only leads RecordingByIdentity to the (missing) row and so
// to the catalogue: it can never serve a dropped recording.
func (c *Catalog) dropRecording(id string) {
	c.invalidate(func() {
		if e, ok := c.recs[id]; ok {
			k := ident{e.v.CampaignID, e.v.CRTObjectID}
			if ie, ok := c.idents[k]; ok && ie.v == id {
				delete(c.idents, k)
			}
			delete(c.recs, id)
		}
	})
}

// BeginDelete deletes the recording's row and drops its cached copy.
func (c *Catalog) BeginDelete(ctx context.Context, id, by, reason string, at time.Time) (*recvault.Tombstone, error) {
	defer c.dropRecording(id)
	return c.Catalog.BeginDelete(ctx, id, by, reason, at)
}

// SetDataKey replaces the recording's data key and drops its cached copy.
func (c *Catalog) SetDataKey(ctx context.Context, id string, wk []byte) error {
	defer c.dropRecording(id)
	return c.Catalog.SetDataKey(ctx, id, wk)
}

// ReplaceBlob replaces the recording's blob and drops its cached copy.
func (c *Catalog) ReplaceBlob(ctx context.Context, id, oldKey, newKey string, wk []byte) error {
	defer c.dropRecording(id)
	return c.Catalog.ReplaceBlob(ctx, id, oldKey, newKey, wk)
}
