package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recvault/recvault"
)

// RotateSession shortens session oldID's expiry from seen to until and
// stores succ, in one transaction, only if the expiry is still seen.
func (c *DB) RotateSession(ctx context.Context, oldID int64, seen, until time.Time, succ *recvault.Session) (bool, error) {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET expires_at = ? WHERE id = ? AND expires_at = ?`, nanos(until), oldID, nanos(seen))
	if err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	} else if n == 0 {
		return false, nil
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, kind, created_at, last_seen, expires_at, idle_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, succ.TokenHash, succ.UserID, succ.Kind, nanos(succ.CreatedAt), nanos(succ.LastSeen),
		nanos(succ.ExpiresAt), int64(succ.Idle))
	if err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("rotate session: %w", err)
	}
	succ.ID = id
	return true, nil
}

// CreateGrant stores g and drops grants that expired before it was made.
func (c *DB) CreateGrant(ctx context.Context, g *recvault.Grant) error {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE expires_at < ?`, nanos(g.CreatedAt)); err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO grants (hash, kind, user_id, agent_id, recording_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, g.Hash, g.Kind, g.UserID, g.AgentID, g.RecordingID, nanos(g.CreatedAt), nanos(g.ExpiresAt))
	if isUnique(err) {
		return recvault.Errorf(recvault.ECONFLICT, "grant exists")
	} else if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	return nil
}

// TakeGrant deletes and returns the grant in one statement, so that two
// concurrent takers cannot both have it.
func (c *DB) TakeGrant(ctx context.Context, hash, agentID string, now time.Time) (*recvault.Grant, error) {
	var g recvault.Grant
	var created, expires int64
	err := c.w.QueryRowContext(ctx, `DELETE FROM grants WHERE hash = ? AND agent_id = ?
		RETURNING hash, kind, user_id, agent_id, recording_id, created_at, expires_at`, hash, agentID).
		Scan(&g.Hash, &g.Kind, &g.UserID, &g.AgentID, &g.RecordingID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "grant not found")
	} else if err != nil {
		return nil, fmt.Errorf("take grant: %w", err)
	}
	g.CreatedAt, g.ExpiresAt = fromNanos(created), fromNanos(expires)
	if !now.Before(g.ExpiresAt) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "grant expired")
	}
	return &g, nil
}

// AcquireLease takes or renews the lease with one conditional upsert.
func (c *DB) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	res, err := c.w.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ? OR leases.holder = excluded.holder`, name, holder, nanos(until), nanos(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ExpireLeases deletes the leases that expired at or before now.
func (c *DB) ExpireLeases(ctx context.Context, now time.Time) (int, error) {
	res, err := c.w.ExecContext(ctx, `DELETE FROM leases WHERE expires_at <= ?`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("expire leases: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire leases: %w", err)
	}
	return int(n), nil
}

// ReleaseLease frees the lease if holder has it.
func (c *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := c.w.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// EnsureSetting stores value under name unless a value is there, and
// returns the stored one.
func (c *DB) EnsureSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := c.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	var v string
	if err := c.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	return v, nil
}

// dataKey is how a wrapped data key is stored: NULL when there is none, so
// that "no key in the catalogue" has one representation, never an empty
// BLOB that would read back as a non-nil key.
func dataKey(wk []byte) any {
	if len(wk) == 0 {
		return nil
	}
	return wk
}

// SetDataKey replaces recording id's wrapped data key in one statement, so
// that a rotation killed at any point leaves each row with its old key or
// its new one, never neither.
func (c *DB) SetDataKey(ctx context.Context, id string, wk []byte) error {
	res, err := c.w.ExecContext(ctx, `UPDATE recordings SET data_key = ? WHERE id = ?`, dataKey(wk), id)
	if err != nil {
		return fmt.Errorf("set data key of recording %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set data key of recording %s: %w", id, err)
	} else if n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	return nil
}

// ReplaceBlob swaps recording id's blob key and data key in one
// conditional statement: two migrations of one recording cannot both win,
// and a migration never resurrects a recording deleted meanwhile.
func (c *DB) ReplaceBlob(ctx context.Context, id, oldKey, newKey string, wk []byte) error {
	res, err := c.w.ExecContext(ctx, `UPDATE recordings SET blob_key = ?, data_key = ? WHERE id = ? AND blob_key = ?`,
		newKey, dataKey(wk), id, oldKey)
	if err != nil {
		return fmt.Errorf("replace blob of recording %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("replace blob of recording %s: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = c.db.QueryRowContext(ctx, `SELECT 1 FROM recordings WHERE id = ?`, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	case err != nil:
		return fmt.Errorf("replace blob of recording %s: %w", id, err)
	}
	return recvault.Errorf(recvault.ECONFLICT, "the blob of recording %s changed meanwhile", id)
}

// RecordingsWithDataKeys pages through the recordings that have a data
// key, by id (keyset paging: rows added or re-keyed meanwhile do not shift
// the pages).
func (c *DB) RecordingsWithDataKeys(ctx context.Context, afterID string, limit int) ([]*recvault.Recording, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := c.db.QueryContext(ctx, `SELECT `+recordingRead+` FROM recordings
		WHERE id > ? AND data_key IS NOT NULL ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("recordings with data keys: %w", err)
	}
	out, err := readRecordings(rows, limit)
	if err != nil {
		return nil, fmt.Errorf("recordings with data keys: %w", err)
	}
	return out, nil
}
