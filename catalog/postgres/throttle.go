package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// pruneOneIn is how rarely LoginFailure also drops forgotten keys: the
// table has no index on time, so a sweep is a scan, cheap when amortised
// over this many failures and still bounding the table under a spray of
// addresses.
const pruneOneIn = 64

// throttleKeys sorts and deduplicates keys: a key named twice is counted
// once, and concurrent transactions lock their rows in one order, so two
// failures sharing keys (one address, two accounts) cannot deadlock.
func throttleKeys(keys []string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// storedKeys is throttleKeys without the keys PostgreSQL cannot hold as
// text: such a key cannot have been stored, so it is neither blocked nor
// anything to forget, and sending it would fail the whole statement.
func storedKeys(keys []string) []string {
	return slices.DeleteFunc(throttleKeys(keys), func(k string) bool { return !storable(k) })
}

// LoginFailure counts one failure per key in one transaction. The upsert
// locks the key's row and returns the new count (restarted at one if the
// key was forgotten); the block is then raised to now+delay, never
// lowered. A concurrent failure on the same key, on any replica, waits for
// the row lock and counts on top, so no failure is lost and the delay
// follows the true count.
func (c *DB) LoginFailure(ctx context.Context, keys []string, now time.Time, forget time.Duration,
	delay func(key string, failures int) time.Duration) error {
	keys = throttleKeys(keys)
	if len(keys) == 0 {
		return nil
	}
	cutoff := nanos(now.Add(-forget))
	return c.inTx(ctx, "login failure", func(tx pgx.Tx) error {
		for _, k := range keys {
			var n int
			err := tx.QueryRow(ctx, `INSERT INTO login_failures (key, failures, last_failure, blocked_until)
				VALUES ($1, 1, $2, 0)
				ON CONFLICT (key) DO UPDATE SET
					failures = CASE WHEN GREATEST(login_failures.last_failure, login_failures.blocked_until) < $3
						THEN 1 ELSE login_failures.failures + 1 END,
					last_failure = excluded.last_failure
				RETURNING failures`, k, nanos(now), cutoff).Scan(&n)
			if err != nil {
				return fail("login failure", err)
			}
			if d := delay(k, n); d > 0 {
				if _, err := tx.Exec(ctx, `UPDATE login_failures SET blocked_until = GREATEST(blocked_until, $1) WHERE key = $2`,
					nanos(now.Add(d)), k); err != nil {
					return fmt.Errorf("login failure: %w", err)
				}
			}
		}
		if rand.IntN(pruneOneIn) == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE last_failure < $1 AND blocked_until < $1`, cutoff); err != nil {
				return fmt.Errorf("login failure: prune: %w", err)
			}
		}
		return nil
	})
}

// LoginBlocked returns the latest block among keys still running at now.
func (c *DB) LoginBlocked(ctx context.Context, keys []string, now time.Time) (time.Time, error) {
	keys = storedKeys(keys)
	if len(keys) == 0 {
		return time.Time{}, nil
	}
	var until int64
	err := c.pool.QueryRow(ctx, `SELECT COALESCE(MAX(blocked_until), 0) FROM login_failures
		WHERE key = ANY($1) AND blocked_until > $2`, keys, nanos(now)).Scan(&until)
	if err != nil {
		return time.Time{}, fmt.Errorf("login blocked: %w", err)
	}
	return fromNanos(until), nil
}

// LoginSuccess deletes the keys' rows.
func (c *DB) LoginSuccess(ctx context.Context, keys []string) error {
	keys = storedKeys(keys)
	if len(keys) == 0 {
		return nil
	}
	if _, err := c.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = ANY($1)`, keys); err != nil {
		return fmt.Errorf("login success: %w", err)
	}
	return nil
}
