package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// pruneOneIn is how rarely LoginFailure also drops forgotten keys: the
// table has no index on time, so a sweep is a scan, cheap when amortised
// over this many failures and still bounding the table under a spray of
// addresses.
const pruneOneIn = 64

// throttleKeys sorts and deduplicates keys, so a key named twice is counted
// once and concurrent callers lock rows in one order.
func throttleKeys(keys []string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// LoginFailure counts one failure per key in one transaction: the upsert
// returns the new count (restarted at one if the key was forgotten), and
// the block is then raised to now+delay, never lowered. The transaction
// is IMMEDIATE (see Open), so concurrent failures are serialised.
func (c *DB) LoginFailure(ctx context.Context, keys []string, now time.Time, forget time.Duration,
	delay func(key string, failures int) time.Duration) error {
	keys = throttleKeys(keys)
	if len(keys) == 0 {
		return nil
	}
	tx, err := c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("login failure: %w", err)
	}
	defer tx.Rollback()
	cutoff := nanos(now.Add(-forget))
	for _, k := range keys {
		var n int
		err := tx.QueryRowContext(ctx, `INSERT INTO login_failures (key, failures, last_failure, blocked_until)
			VALUES (?, 1, ?, 0)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN MAX(login_failures.last_failure, login_failures.blocked_until) < ?
					THEN 1 ELSE login_failures.failures + 1 END,
				last_failure = excluded.last_failure
			RETURNING failures`, k, nanos(now), cutoff).Scan(&n)
		if err != nil {
			return fmt.Errorf("login failure: %w", err)
		}
		if d := delay(k, n); d > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE login_failures SET blocked_until = MAX(blocked_until, ?) WHERE key = ?`,
				nanos(now.Add(d)), k); err != nil {
				return fmt.Errorf("login failure: %w", err)
			}
		}
	}
	if rand.IntN(pruneOneIn) == 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_failures WHERE last_failure < ? AND blocked_until < ?`,
			cutoff, cutoff); err != nil {
			return fmt.Errorf("login failure: prune: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("login failure: %w", err)
	}
	return nil
}

// LoginBlocked returns the latest block among keys still running at now.
func (c *DB) LoginBlocked(ctx context.Context, keys []string, now time.Time) (time.Time, error) {
	keys = throttleKeys(keys)
	if len(keys) == 0 {
		return time.Time{}, nil
	}
	args := []any{nanos(now)}
	for _, k := range keys {
		args = append(args, k)
	}
	var until int64
	err := c.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(blocked_until), 0) FROM login_failures
		WHERE blocked_until > ? AND key IN (`+placeholders(len(keys))+`)`, args...).Scan(&until)
	if err != nil {
		return time.Time{}, fmt.Errorf("login blocked: %w", err)
	}
	return fromNanos(until), nil
}

// LoginSuccess deletes the keys' rows.
func (c *DB) LoginSuccess(ctx context.Context, keys []string) error {
	keys = throttleKeys(keys)
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	if _, err := c.w.ExecContext(ctx, `DELETE FROM login_failures WHERE key IN (`+placeholders(len(keys))+`)`, args...); err != nil {
		return fmt.Errorf("login success: %w", err)
	}
	return nil
}
