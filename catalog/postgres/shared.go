package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recvault/recvault"
)

// The operations below decide races between replicas. Each relies on
// PostgreSQL's row locking under the default READ COMMITTED isolation: a
// statement that finds its row locked by another transaction waits for it,
// then re-checks its WHERE clause against the committed row, so of several
// concurrent callers exactly one sees the state it expects.

// RotateSession shortens session oldID's expiry from seen to until and
// stores succ, in one transaction, only if the expiry is still seen.
func (c *DB) RotateSession(ctx context.Context, oldID int64, seen, until time.Time, succ *recvault.Session) (bool, error) {
	var won bool
	var id int64
	err := c.inTx(ctx, "rotate session", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET expires_at = $1 WHERE id = $2 AND expires_at = $3`, nanos(until), oldID, nanos(seen))
		if err != nil {
			return fmt.Errorf("rotate session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // another rotation won; committing the no-op is harmless
		}
		if err := tx.QueryRow(ctx, sessionInsert, sessionArgs(succ)...).Scan(&id); err != nil {
			return fail("rotate session", err)
		}
		won = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if won {
		succ.ID = id
	}
	return won, nil
}

// CreateGrant stores g and drops grants that expired before it was made.
func (c *DB) CreateGrant(ctx context.Context, g *recvault.Grant) error {
	return c.inTx(ctx, "create grant", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM grants WHERE expires_at < $1`, nanos(g.CreatedAt)); err != nil {
			return fmt.Errorf("create grant: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO grants (hash, kind, user_id, agent_id, recording_id, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, g.Hash, g.Kind, g.UserID, g.AgentID, g.RecordingID, nanos(g.CreatedAt), nanos(g.ExpiresAt))
		if isUnique(err) {
			return recvault.Errorf(recvault.ECONFLICT, "grant exists")
		} else if err != nil {
			return fail("create grant", err)
		}
		return nil
	})
}

// TakeGrant deletes and returns the grant in one statement, so that two
// concurrent takers cannot both have it. An expired grant is deleted too
// (it can never be used again) and reported as not found.
func (c *DB) TakeGrant(ctx context.Context, hash, agentID string, now time.Time) (*recvault.Grant, error) {
	if !storable(hash, agentID) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "grant not found")
	}
	var g recvault.Grant
	var created, expires int64
	err := c.pool.QueryRow(ctx, `DELETE FROM grants WHERE hash = $1 AND agent_id = $2
		RETURNING hash, kind, user_id, agent_id, recording_id, created_at, expires_at`, hash, agentID).
		Scan(&g.Hash, &g.Kind, &g.UserID, &g.AgentID, &g.RecordingID, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
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

// AcquireLease takes or renews the lease with one conditional upsert: the
// row is inserted, or updated only if it expired or is holder's own; no
// row affected means another holder has it.
func (c *DB) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	tag, err := c.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder`, name, holder, nanos(until), nanos(now))
	if err != nil {
		return false, fail("acquire lease "+name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ExpireLeases deletes the leases that expired at or before now.
func (c *DB) ExpireLeases(ctx context.Context, now time.Time) (int, error) {
	tag, err := c.pool.Exec(ctx, `DELETE FROM leases WHERE expires_at <= $1`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("expire leases: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ReleaseLease frees the lease if holder has it.
func (c *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if !storable(name, holder) {
		return nil // such a lease cannot have been taken
	}
	if _, err := c.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// EnsureSetting stores value under name unless a value is there, and
// returns the stored one. A concurrent second insert waits for the first
// to commit and then does nothing, so the SELECT sees the winner's value.
func (c *DB) EnsureSetting(ctx context.Context, name, value string) (string, error) {
	if _, err := c.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return "", fail("setting "+name, err)
	}
	var v string
	if err := c.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	return v, nil
}

// dataKey is how a wrapped data key is stored: NULL when there is none, so
// that "no key in the catalogue" has one representation, never an empty
// BYTEA that would read back as a non-nil key.
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
	if !storable(id) {
		return recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	tag, err := c.pool.Exec(ctx, `UPDATE recordings SET data_key = $1 WHERE id = $2`, dataKey(wk), id)
	if err != nil {
		return fmt.Errorf("set data key of recording %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	return nil
}

// ReplaceBlob swaps recording id's blob key and data key in one
// conditional statement: two migrations of one recording cannot both win,
// and a migration never resurrects a recording deleted meanwhile.
func (c *DB) ReplaceBlob(ctx context.Context, id, oldKey, newKey string, wk []byte) error {
	if !storable(id, oldKey, newKey) {
		return recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	tag, err := c.pool.Exec(ctx, `UPDATE recordings SET blob_key = $1, data_key = $2 WHERE id = $3 AND blob_key = $4`,
		newKey, dataKey(wk), id, oldKey)
	if err != nil {
		return fmt.Errorf("replace blob of recording %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = c.pool.QueryRow(ctx, `SELECT 1 FROM recordings WHERE id = $1`, id).Scan(&one)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
	if !storable(afterID) {
		return nil, recvault.Errorf(recvault.EINVALID, "bad recording id")
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := c.pool.Query(ctx, `SELECT `+recordingCols+` FROM recordings
		WHERE id > $1 AND data_key IS NOT NULL ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("recordings with data keys: %w", err)
	}
	out, err := readRecordings(rows, limit)
	if err != nil {
		return nil, fmt.Errorf("recordings with data keys: %w", err)
	}
	return out, nil
}
