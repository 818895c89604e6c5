package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recvault/recvault"
)

// CreateUser stores u and sets u.ID.
func (c *DB) CreateUser(ctx context.Context, u *recvault.User) error {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO users (login, role, agent_id, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, u.Login, string(u.Role), u.AgentID, u.PasswordHash, u.Disabled, nanos(u.CreatedAt))
	if isUnique(err) {
		return recvault.Errorf(recvault.ECONFLICT, "user %s already exists", u.Login)
	} else if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if u.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	if err := writeAssignments(ctx, tx, u); err != nil {
		return err
	}
	return tx.Commit()
}

// UpdateUser replaces the stored fields of u (by ID).
func (c *DB) UpdateUser(ctx context.Context, u *recvault.User) error {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, agent_id = ?, password_hash = ?, disabled = ? WHERE id = ?`,
		string(u.Role), u.AgentID, u.PasswordHash, u.Disabled, u.ID)
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "user not found")
	}
	for _, q := range []string{`DELETE FROM user_campaigns WHERE user_id = ?`, `DELETE FROM user_inspects WHERE user_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, u.ID); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
	}
	if err := writeAssignments(ctx, tx, u); err != nil {
		return err
	}
	return tx.Commit()
}

func writeAssignments(ctx context.Context, tx *sql.Tx, u *recvault.User) error {
	for _, cid := range u.Campaigns {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_campaigns (user_id, campaign_id) VALUES (?, ?)`, u.ID, cid); err != nil {
			return fmt.Errorf("assign campaign: %w", err)
		}
	}
	for _, a := range u.Inspects {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_inspects (user_id, agent_id) VALUES (?, ?)`, u.ID, a); err != nil {
			return fmt.Errorf("assign inspected agent: %w", err)
		}
	}
	return nil
}

const userCols = `id, login, role, agent_id, password_hash, disabled, created_at`

func (c *DB) loadUser(ctx context.Context, row *sql.Row) (*recvault.User, error) {
	var u recvault.User
	var role string
	var created int64
	err := row.Scan(&u.ID, &u.Login, &role, &u.AgentID, &u.PasswordHash, &u.Disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "user not found")
	} else if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	u.Role = recvault.Role(role)
	u.CreatedAt = fromNanos(created)
	if err := c.loadAssignments(ctx, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

func (c *DB) loadAssignments(ctx context.Context, u *recvault.User) error {
	rows, err := c.st.userCampaigns.QueryContext(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("get user campaigns: %w", err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		u.Campaigns = append(u.Campaigns, id)
	}
	rows.Close()
	rows, err = c.st.userInspects.QueryContext(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("get user inspections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return err
		}
		u.Inspects = append(u.Inspects, a)
	}
	return rows.Err()
}

// UserByLogin returns ENOTFOUND if no user has that login.
func (c *DB) UserByLogin(ctx context.Context, login string) (*recvault.User, error) {
	return c.loadUser(ctx, c.st.userByLogin.QueryRowContext(ctx, login))
}

// UserByID returns ENOTFOUND if no user has that id.
func (c *DB) UserByID(ctx context.Context, id int64) (*recvault.User, error) {
	return c.loadUser(ctx, c.st.userByID.QueryRowContext(ctx, id))
}

// UserByAgentID returns the first enabled user with that work number.
func (c *DB) UserByAgentID(ctx context.Context, agentID string) (*recvault.User, error) {
	if agentID == "" {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "user not found")
	}
	return c.loadUser(ctx, c.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE agent_id = ? AND disabled = 0 ORDER BY id LIMIT 1`, agentID))
}

// Users lists all users by login.
func (c *DB) Users(ctx context.Context) ([]*recvault.User, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id FROM users ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := make([]*recvault.User, 0, len(ids))
	for _, id := range ids {
		u, err := c.UserByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// CreateSession stores s and sets s.ID.
func (c *DB) CreateSession(ctx context.Context, s *recvault.Session) error {
	res, err := c.w.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, kind, created_at, last_seen, expires_at, idle_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, s.TokenHash, s.UserID, s.Kind, nanos(s.CreatedAt), nanos(s.LastSeen), nanos(s.ExpiresAt), int64(s.Idle))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	s.ID, err = res.LastInsertId()
	return err
}

const sessionCols = `id, token_hash, user_id, kind, created_at, last_seen, expires_at, idle_ns`

func scanSession(sc scanner) (*recvault.Session, error) {
	var s recvault.Session
	var created, seen, exp, idle int64
	if err := sc.Scan(&s.ID, &s.TokenHash, &s.UserID, &s.Kind, &created, &seen, &exp, &idle); err != nil {
		return nil, err
	}
	s.Idle = time.Duration(idle)
	s.CreatedAt, s.LastSeen, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(exp)
	return &s, nil
}

// SessionByTokenHash returns ENOTFOUND for an unknown hash.
func (c *DB) SessionByTokenHash(ctx context.Context, hash string) (*recvault.Session, error) {
	s, err := scanSession(c.st.sessionByToken.QueryRowContext(ctx, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "session not found")
	} else if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// UserSessions lists a user's stored sessions (expired ones included).
func (c *DB) UserSessions(ctx context.Context, userID int64) ([]*recvault.Session, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*recvault.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// TouchSession records activity on session id.
func (c *DB) TouchSession(ctx context.Context, id int64, at time.Time) error {
	_, err := c.st.touchSession.ExecContext(ctx, nanos(at), id, nanos(at))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// SetSessionExpiry moves the absolute end of session id (a rotated GUID
// keeps working only for its grace period).
func (c *DB) SetSessionExpiry(ctx context.Context, id int64, at time.Time) error {
	if _, err := c.w.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ?`, nanos(at), id); err != nil {
		return fmt.Errorf("set session expiry: %w", err)
	}
	return nil
}

// DeleteSession revokes session id.
func (c *DB) DeleteSession(ctx context.Context, id int64) error {
	if _, err := c.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions revokes every session of a user.
func (c *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := c.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}
