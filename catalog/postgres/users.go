package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recvault/recvault"
)

// CreateUser stores u and sets u.ID.
func (c *DB) CreateUser(ctx context.Context, u *recvault.User) error {
	var id int64
	err := c.inTx(ctx, "create user", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (login, role, agent_id, password_hash, disabled, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			u.Login, string(u.Role), u.AgentID, u.PasswordHash, u.Disabled, nanos(u.CreatedAt)).Scan(&id)
		if isUnique(err) {
			return recvault.Errorf(recvault.ECONFLICT, "user %s already exists", u.Login)
		} else if err != nil {
			return fail("create user", err)
		}
		return writeAssignments(ctx, tx, id, u)
	})
	if err != nil {
		return err
	}
	u.ID = id // only once committed: a failed create leaves u as it was
	return nil
}

// UpdateUser replaces the stored fields of u (by ID).
func (c *DB) UpdateUser(ctx context.Context, u *recvault.User) error {
	return c.inTx(ctx, "update user", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET role = $1, agent_id = $2, password_hash = $3, disabled = $4 WHERE id = $5`,
			string(u.Role), u.AgentID, u.PasswordHash, u.Disabled, u.ID)
		if err != nil {
			return fail("update user", err)
		}
		if tag.RowsAffected() == 0 {
			return recvault.Errorf(recvault.ENOTFOUND, "user not found")
		}
		for _, q := range []string{`DELETE FROM user_campaigns WHERE user_id = $1`, `DELETE FROM user_inspects WHERE user_id = $1`} {
			if _, err := tx.Exec(ctx, q, u.ID); err != nil {
				return fmt.Errorf("update user: %w", err)
			}
		}
		return writeAssignments(ctx, tx, u.ID, u)
	})
}

// writeAssignments stores u's campaigns and inspected agents for user id,
// each list in one statement whatever its length (duplicates collapse, as
// SQLite's INSERT OR IGNORE does).
func writeAssignments(ctx context.Context, tx pgx.Tx, id int64, u *recvault.User) error {
	if len(u.Campaigns) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO user_campaigns (user_id, campaign_id)
			SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`, id, u.Campaigns); err != nil {
			return fail("assign campaign", err)
		}
	}
	if len(u.Inspects) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO user_inspects (user_id, agent_id)
			SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, u.Inspects); err != nil {
			return fail("assign inspected agent", err)
		}
	}
	return nil
}

// userSelect reads a user with its assignments in one statement (one round
// trip, one snapshot), in the order the SQLite catalog returns them.
const userSelect = `SELECT id, login, role, agent_id, password_hash, disabled, created_at,
	ARRAY(SELECT campaign_id FROM user_campaigns WHERE user_id = users.id ORDER BY campaign_id),
	ARRAY(SELECT agent_id FROM user_inspects WHERE user_id = users.id ORDER BY agent_id)
	FROM users`

func scanUser(row pgx.Row) (*recvault.User, error) {
	var u recvault.User
	var role string
	var created int64
	if err := row.Scan(&u.ID, &u.Login, &role, &u.AgentID, &u.PasswordHash, &u.Disabled, &created,
		&u.Campaigns, &u.Inspects); err != nil {
		return nil, err
	}
	u.Role = recvault.Role(role)
	u.CreatedAt = fromNanos(created)
	// No assignments are nil lists, as the SQLite catalog returns them.
	if len(u.Campaigns) == 0 {
		u.Campaigns = nil
	}
	if len(u.Inspects) == 0 {
		u.Inspects = nil
	}
	return &u, nil
}

func (c *DB) oneUser(ctx context.Context, where string, args ...any) (*recvault.User, error) {
	u, err := scanUser(c.pool.QueryRow(ctx, userSelect+` WHERE `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "user not found")
	} else if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// UserByLogin returns ENOTFOUND if no user has that login.
func (c *DB) UserByLogin(ctx context.Context, login string) (*recvault.User, error) {
	if !storable(login) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "user not found")
	}
	return c.oneUser(ctx, `login = $1`, login)
}

// UserByID returns ENOTFOUND if no user has that id.
func (c *DB) UserByID(ctx context.Context, id int64) (*recvault.User, error) {
	return c.oneUser(ctx, `id = $1`, id)
}

// UserByAgentID returns the first enabled user with that work number.
func (c *DB) UserByAgentID(ctx context.Context, agentID string) (*recvault.User, error) {
	if agentID == "" || !storable(agentID) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "user not found")
	}
	return c.oneUser(ctx, `agent_id = $1 AND NOT disabled ORDER BY id LIMIT 1`, agentID)
}

// Users lists all users by login.
func (c *DB) Users(ctx context.Context) ([]*recvault.User, error) {
	rows, err := c.pool.Query(ctx, userSelect+` ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []*recvault.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

const sessionInsert = `INSERT INTO sessions (token_hash, user_id, kind, created_at, last_seen, expires_at, idle_ns)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`

func sessionArgs(s *recvault.Session) []any {
	return []any{s.TokenHash, s.UserID, s.Kind, nanos(s.CreatedAt), nanos(s.LastSeen), nanos(s.ExpiresAt), int64(s.Idle)}
}

// CreateSession stores s and sets s.ID.
func (c *DB) CreateSession(ctx context.Context, s *recvault.Session) error {
	if err := c.pool.QueryRow(ctx, sessionInsert, sessionArgs(s)...).Scan(&s.ID); err != nil {
		return fail("create session", err)
	}
	return nil
}

const sessionCols = `id, token_hash, user_id, kind, created_at, last_seen, expires_at, idle_ns`

func scanSession(row pgx.Row) (*recvault.Session, error) {
	var s recvault.Session
	var created, seen, exp, idle int64
	if err := row.Scan(&s.ID, &s.TokenHash, &s.UserID, &s.Kind, &created, &seen, &exp, &idle); err != nil {
		return nil, err
	}
	s.Idle = time.Duration(idle)
	s.CreatedAt, s.LastSeen, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(exp)
	return &s, nil
}

// SessionByTokenHash returns ENOTFOUND for an unknown hash.
func (c *DB) SessionByTokenHash(ctx context.Context, hash string) (*recvault.Session, error) {
	if !storable(hash) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "session not found")
	}
	s, err := scanSession(c.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE token_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// UserSessions lists a user's stored sessions (expired ones included).
func (c *DB) UserSessions(ctx context.Context, userID int64) ([]*recvault.Session, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*recvault.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// TouchSession records activity on session id; last seen never moves back.
func (c *DB) TouchSession(ctx context.Context, id int64, at time.Time) error {
	_, err := c.pool.Exec(ctx, `UPDATE sessions SET last_seen = $1 WHERE id = $2 AND last_seen < $1`, nanos(at), id)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// SetSessionExpiry moves the absolute end of session id (a rotated GUID
// keeps working only for its grace period).
func (c *DB) SetSessionExpiry(ctx context.Context, id int64, at time.Time) error {
	if _, err := c.pool.Exec(ctx, `UPDATE sessions SET expires_at = $1 WHERE id = $2`, nanos(at), id); err != nil {
		return fmt.Errorf("set session expiry: %w", err)
	}
	return nil
}

// DeleteSession revokes session id.
func (c *DB) DeleteSession(ctx context.Context, id int64) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions revokes every session of a user.
func (c *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
