package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recvault/recvault"
)

// dayNanos is one retention day in the unit times are stored in.
const dayNanos = int64(24 * time.Hour)

// SetRetention stores or replaces the policy of r.CampaignID.
func (c *DB) SetRetention(ctx context.Context, r *recvault.Retention) error {
	if _, err := c.w.ExecContext(ctx, `INSERT INTO retention (campaign_id, days, set_by, set_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (campaign_id) DO UPDATE SET days = excluded.days, set_by = excluded.set_by, set_at = excluded.set_at`,
		r.CampaignID, r.Days, r.SetBy, nanos(r.SetAt)); err != nil {
		return fmt.Errorf("set retention: %w", err)
	}
	return nil
}

// ClearRetention removes the policy of campaignID.
func (c *DB) ClearRetention(ctx context.Context, campaignID int64) error {
	res, err := c.w.ExecContext(ctx, `DELETE FROM retention WHERE campaign_id = ?`, campaignID)
	if err != nil {
		return fmt.Errorf("clear retention: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("clear retention: %w", err)
	} else if n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "no retention policy for campaign %d", campaignID)
	}
	return nil
}

// Retentions lists the policies, the default (campaign 0) first.
func (c *DB) Retentions(ctx context.Context) ([]*recvault.Retention, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT campaign_id, days, set_by, set_at FROM retention ORDER BY campaign_id`)
	if err != nil {
		return nil, fmt.Errorf("list retention: %w", err)
	}
	defer rows.Close()
	var out []*recvault.Retention
	for rows.Next() {
		var r recvault.Retention
		var at int64
		if err := rows.Scan(&r.CampaignID, &r.Days, &r.SetBy, &at); err != nil {
			return nil, fmt.Errorf("list retention: %w", err)
		}
		r.SetAt = fromNanos(at)
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list retention: %w", err)
	}
	return out, nil
}

// AddHold stores h; its selector (campaign, call, recording) is unique.
func (c *DB) AddHold(ctx context.Context, h *recvault.Hold) error {
	res, err := c.w.ExecContext(ctx, `INSERT INTO holds (campaign_id, call_id, recording_id, reason, held_by, held_at)
		VALUES (?, ?, ?, ?, ?, ?)`, h.CampaignID, h.CallID, h.RecordingID, h.Reason, h.By, nanos(h.At))
	if isUnique(err) {
		return recvault.Errorf(recvault.ECONFLICT, "already under legal hold")
	} else if err != nil {
		return fmt.Errorf("add hold: %w", err)
	}
	if h.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("add hold: %w", err)
	}
	return nil
}

// RemoveHold removes the hold with sel's selector.
func (c *DB) RemoveHold(ctx context.Context, sel recvault.Hold) error {
	res, err := c.w.ExecContext(ctx, `DELETE FROM holds WHERE campaign_id = ? AND call_id = ? AND recording_id = ?`,
		sel.CampaignID, sel.CallID, sel.RecordingID)
	if err != nil {
		return fmt.Errorf("remove hold: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("remove hold: %w", err)
	} else if n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "no such legal hold")
	}
	return nil
}

// Holds lists the holds, oldest first.
func (c *DB) Holds(ctx context.Context) ([]*recvault.Hold, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT id, campaign_id, call_id, recording_id, reason, held_by, held_at FROM holds ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	defer rows.Close()
	var out []*recvault.Hold
	for rows.Next() {
		var h recvault.Hold
		var at int64
		if err := rows.Scan(&h.ID, &h.CampaignID, &h.CallID, &h.RecordingID, &h.Reason, &h.By, &at); err != nil {
			return nil, fmt.Errorf("list holds: %w", err)
		}
		h.At = fromNanos(at)
		out = append(out, &h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	return out, nil
}

// heldBy is the condition "a hold covers recording row r". Unused
// selectors are 0 and the empty string, which no recording has.
const heldBy = `EXISTS (SELECT 1 FROM holds h WHERE h.campaign_id = r.campaign_id OR h.call_id = r.call_id OR h.recording_id = r.id)`

// PurgeCandidates returns the recordings past their retention that no hold
// covers. A campaign without a policy falls back to the default; without
// either the cut-off is NULL and the comparison never true.
func (c *DB) PurgeCandidates(ctx context.Context, now time.Time, afterID string, limit int) ([]*recvault.Recording, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+recordingSelect("r.")+` FROM recordings r
		LEFT JOIN retention p ON p.campaign_id = r.campaign_id
		WHERE r.id > ?
		AND r.started_at < ? - COALESCE(p.days, (SELECT d.days FROM retention d WHERE d.campaign_id = 0)) * ?
		AND NOT `+heldBy+`
		ORDER BY r.id LIMIT ?`, afterID, nanos(now), dayNanos, limit)
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", err)
	}
	out, err := readRecordings(rows, limit)
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", err)
	}
	return out, nil
}

// BeginDelete writes the tombstone and removes the row in one
// transaction; it is an immediate (write-locked) one, so no hold can be
// added between the check and the removal.
func (c *DB) BeginDelete(ctx context.Context, id, by, reason string, at time.Time) (*recvault.Tombstone, error) {
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	defer tx.Rollback()
	r, err := scanRecording(tx.QueryRowContext(ctx, `SELECT `+recordingRead+` FROM recordings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	} else if err != nil {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	var holdReason string
	err = tx.QueryRowContext(ctx, `SELECT reason FROM holds WHERE campaign_id = ? OR call_id = ? OR recording_id = ? ORDER BY id LIMIT 1`,
		r.CampaignID, r.CallID, r.ID).Scan(&holdReason)
	if err == nil {
		return nil, recvault.Errorf(recvault.ECONFLICT, "recording is under legal hold: %s", holdReason)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	t := &recvault.Tombstone{RecordingID: r.ID, CampaignID: r.CampaignID, CRTObjectID: r.CRTObjectID, CallID: r.CallID,
		SHA256: r.SHA256, BlobKey: r.BlobKey, By: by, Reason: reason, At: at, State: recvault.TombstoneDeleting}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (recording_id, campaign_id, crt_object_id, call_id, sha256,
		blob_key, deleted_by, reason, deleted_at, state, done_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
		t.RecordingID, t.CampaignID, t.CRTObjectID, t.CallID, t.SHA256, t.BlobKey, t.By, t.Reason, nanos(t.At), t.State); err != nil {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("begin delete: %w", err)
	}
	return t, nil
}

// FinishDelete marks the tombstone done (keeping the first done time).
func (c *DB) FinishDelete(ctx context.Context, id string, at time.Time) error {
	res, err := c.w.ExecContext(ctx, `UPDATE tombstones SET state = ?,
		done_at = CASE WHEN state = ? THEN done_at ELSE ? END WHERE recording_id = ?`,
		recvault.TombstoneDone, recvault.TombstoneDone, nanos(at), id)
	if err != nil {
		return fmt.Errorf("finish delete: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish delete: %w", err)
	} else if n == 0 {
		return recvault.Errorf(recvault.ENOTFOUND, "no tombstone for recording %s", id)
	}
	return nil
}

// Tombstones lists tombstones in state ("" for any), newest first.
func (c *DB) Tombstones(ctx context.Context, state string, limit int) ([]*recvault.Tombstone, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := c.db.QueryContext(ctx, `SELECT recording_id, campaign_id, crt_object_id, call_id, sha256, blob_key,
		deleted_by, reason, deleted_at, state, done_at FROM tombstones WHERE ? = '' OR state = ?
		ORDER BY deleted_at DESC, recording_id DESC LIMIT ?`, state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("list tombstones: %w", err)
	}
	defer rows.Close()
	var out []*recvault.Tombstone
	for rows.Next() {
		var t recvault.Tombstone
		var at, done int64
		if err := rows.Scan(&t.RecordingID, &t.CampaignID, &t.CRTObjectID, &t.CallID, &t.SHA256, &t.BlobKey,
			&t.By, &t.Reason, &at, &t.State, &done); err != nil {
			return nil, fmt.Errorf("list tombstones: %w", err)
		}
		t.At, t.DoneAt = fromNanos(at), fromNanos(done)
		out = append(out, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tombstones: %w", err)
	}
	return out, nil
}
