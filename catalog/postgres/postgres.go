// Package postgres is the scale-out catalog: recordings, users, sessions,
// the audit trail and the state replicas share (grants, leases, settings)
// in one PostgreSQL database, so that any number of recvault replicas can
// serve the same vault. It behaves exactly as the embedded SQLite catalog
// (both pass catalog/catalogtest) and stores the same values the same way:
// times as BIGINT unix nanoseconds, API key lists as JSON text.
//
// It talks to the server through pgx v5's native interface (pgxpool) rather
// than database/sql: the pool prepares each distinct statement once per
// connection and reuses it, so a request costs one round trip per statement
// instead of a parse and plan each time; PostgreSQL's errors arrive typed
// (*pgconn.PgError with its SQLSTATE), which is how unique violations become
// ECONFLICT without matching message texts; and arrays bind directly, so
// scope lists are one `= ANY($n)` parameter however long they are.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/internal/cursor"
)

// DB is a catalog backed by one PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
}

var _ recvault.Catalog = (*DB)(nil)

// defaultConnectTimeout bounds a connection attempt when the URL sets no
// connect_timeout: without it an unreachable (firewalled) server would hold
// Open, and every request that needs a new connection, for the operating
// system's TCP timeout of about two minutes.
const defaultConnectTimeout = 10 * time.Second

// Open connects to the database at url (a libpq URL such as
// postgres://user:pass@host:5432/db?sslmode=disable, or keyword/value
// settings), checks that the server answers and the credentials work, and
// brings the schema up to date. The pool's size and other settings can be
// set in the URL (pool_max_conns and friends, see pgxpool.ParseConfig).
//
// Every error names the server and database and says what failed, on one
// line, and never contains the password.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, parseError(url, err)
	}
	target, secret := describe(&cfg.ConnConfig.Config), cfg.ConnConfig.Password
	// Statement caching: unless the URL asks otherwise
	// (default_query_exec_mode, e.g. for a transaction-pooling proxy),
	// pgx runs every query in QueryExecModeCacheStatement, its default:
	// each connection prepares a distinct SQL text once, keeps it in an
	// LRU of statement_cache_capacity (512) and afterwards sends only
	// Bind/Execute, one round trip without a parse. The hot queries are
	// written for it: fixed texts for lookups by id, identity, session and
	// user, and the listings' texts depend only on which filter fields are
	// set (scope lists are one = ANY($n) array, whatever their length), so
	// a deployment uses a few dozen texts, all cached.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, &openError{target: target, what: "cannot create connection pool", err: err, secret: secret}
	}
	// The pool connects lazily; ping now so that an unreachable server or
	// wrong credentials stop the start rather than the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, &openError{target: target, what: connectProblem(err), err: err, secret: secret}
	}
	c := &DB{pool: pool}
	if err := c.migrate(ctx); err != nil {
		pool.Close()
		return nil, &openError{target: target, err: err, secret: secret}
	}
	return c, nil
}

// Close closes every connection of the pool, waiting for those in use.
func (c *DB) Close() error {
	c.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (c *DB) Ping(ctx context.Context) error {
	if err := c.pool.Ping(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// SchemaVersion reports how many migrations the database has applied.
func (c *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := c.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// migrationLock is the key of the transaction-scoped advisory lock that
// serialises migrations: replicas starting at once on an empty database
// queue behind the first, which applies the schema; the others then find
// it applied. Advisory locks are per database, so the constant only has to
// be unique among the users of the catalog's own database. (It is "recvault"
// in ASCII.)
const migrationLock int64 = 0x7265637661756c74

func (c *DB) migrate(ctx context.Context) error {
	return c.inTx(ctx, "migrate", func(tx pgx.Tx) error {
		// Take the lock before anything else: even CREATE TABLE IF NOT
		// EXISTS fails (on pg_type's unique index) when run concurrently.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if have > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this binary knows (%d)", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			// No arguments: pgx sends it in the simple protocol, which
			// allows the several statements of a migration in one string.
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				v, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
		}
		return nil
	})
}

// inTx runs fn in a transaction, committing if it returns nil. fn's own
// errors are returned as they are (they already say what failed), so that
// ECONFLICT and ENOTFOUND read exactly as the SQLite catalog's.
func (c *DB) inTx(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(ctx); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			return fmt.Errorf("%w (rollback failed too: %v)", err, rerr)
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SQLSTATEs the catalog reacts to.
const (
	uniqueViolation = "23505"
	// badText: a string that is not valid UTF-8 or holds a NUL byte, which
	// PostgreSQL's text type cannot store (SQLite's can).
	badText         = "22021"
	untranslatable  = "22P05"
	undefinedDB     = "3D000"
	authClassPrefix = "28"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool { return pgCode(err) == uniqueViolation }

// fail wraps err for op. Text PostgreSQL cannot store is the caller's
// input, not a fault of the catalog, so it is EINVALID rather than an
// internal error.
func fail(op string, err error) error {
	switch pgCode(err) {
	case badText, untranslatable:
		return &recvault.Error{Code: recvault.EINVALID, Message: "text must be valid UTF-8 without NUL bytes",
			Err: fmt.Errorf("%s: %w", op, err)}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// storable reports whether every s can be held in a text column. A lookup
// by a string that cannot be stored cannot find anything: answering
// "not found" at once gives what SQLite answers, where sending it would
// make the server fail the whole statement.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// cleanText makes s storable, replacing invalid bytes and NULs with U+FFFD.
// Only the audit trail uses it: an attempt must be recorded whatever bytes
// a client sent, and a client must not be able to make the audit write fail.
func cleanText(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

const recordingCols = `id, campaign_id, crt_object_id, call_id, agent_id, kind, container, codec,
	sample_rate, channels, agent_channel, customer_channel, started_at, duration_ms, size, sha256,
	blob_key, original_path, created_at, data_offset, data_size, data_key`

func scanRecording(row pgx.Row) (*recvault.Recording, error) {
	var r recvault.Recording
	var started, created, durMS int64
	var kind string
	err := row.Scan(&r.ID, &r.CampaignID, &r.CRTObjectID, &r.CallID, &r.AgentID, &kind,
		&r.Format.Container, &r.Format.Codec, &r.Format.SampleRate, &r.Format.Channels,
		&r.Format.AgentChannel, &r.Format.CustomerChannel, &started, &durMS, &r.Size, &r.SHA256,
		&r.BlobKey, &r.OriginalPath, &created, &r.Format.DataOffset, &r.Format.DataSize, &r.DataKey)
	if err != nil {
		return nil, err
	}
	r.Kind = recvault.Kind(kind)
	r.StartedAt = fromNanos(started)
	r.CreatedAt = fromNanos(created)
	r.Duration = time.Duration(durMS) * time.Millisecond
	return &r, nil
}

// CreateRecording inserts r, or returns ECONFLICT and the row that holds r's
// identity.
func (c *DB) CreateRecording(ctx context.Context, r *recvault.Recording) (*recvault.Recording, error) {
	_, err := c.pool.Exec(ctx, `INSERT INTO recordings (`+recordingCols+`, original_norm)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
		r.ID, r.CampaignID, r.CRTObjectID, r.CallID, r.AgentID, string(r.Kind), r.Format.Container,
		r.Format.Codec, r.Format.SampleRate, r.Format.Channels, r.Format.AgentChannel,
		r.Format.CustomerChannel, nanos(r.StartedAt), r.Duration.Milliseconds(), r.Size, r.SHA256,
		r.BlobKey, r.OriginalPath, nanos(r.CreatedAt), r.Format.DataOffset, r.Format.DataSize, dataKey(r.DataKey),
		recvault.NormalizeVendorPath(r.OriginalPath))
	if isUnique(err) {
		existing, gerr := c.RecordingByIdentity(ctx, r.CampaignID, r.CRTObjectID)
		if gerr != nil {
			return nil, gerr
		}
		return existing, recvault.Errorf(recvault.ECONFLICT,
			"campaign %d already has a different recording under crtObjectId %s", r.CampaignID, r.CRTObjectID)
	} else if err != nil {
		return nil, fail("insert recording", err)
	}
	return nil, nil
}

// Recording returns the recording id.
func (c *DB) Recording(ctx context.Context, id string) (*recvault.Recording, error) {
	if !storable(id) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	r, err := scanRecording(c.pool.QueryRow(ctx, `SELECT `+recordingCols+` FROM recordings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get recording: %w", err)
	}
	return r, nil
}

// RecordingByIdentity returns the recording stored under (campaign, crt object).
func (c *DB) RecordingByIdentity(ctx context.Context, campaignID int64, crt string) (*recvault.Recording, error) {
	if !storable(crt) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	r, err := scanRecording(c.pool.QueryRow(ctx,
		`SELECT `+recordingCols+` FROM recordings WHERE campaign_id = $1 AND crt_object_id = $2`, campaignID, crt))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get recording: %w", err)
	}
	return r, nil
}

// BlobInUse reports whether a recording uses the blob key or a write of it
// began after pendingAfter.
func (c *DB) BlobInUse(ctx context.Context, key string, pendingAfter time.Time) (bool, error) {
	if !storable(key) {
		return false, nil
	}
	var used bool
	err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM recordings WHERE blob_key = $1)
		OR EXISTS (SELECT 1 FROM pending_blobs WHERE blob_key = $1 AND started_at > $2)`, key, nanos(pendingAfter)).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("blob reference: %w", err)
	}
	return used, nil
}

// BeginBlob marks key as being written.
func (c *DB) BeginBlob(ctx context.Context, key string, at time.Time) error {
	if _, err := c.pool.Exec(ctx, `INSERT INTO pending_blobs (blob_key, started_at) VALUES ($1, $2)
		ON CONFLICT (blob_key) DO UPDATE SET started_at = excluded.started_at`, key, nanos(at)); err != nil {
		return fail("begin blob", err)
	}
	return nil
}

// EndBlob removes the mark BeginBlob set.
func (c *DB) EndBlob(ctx context.Context, key string) error {
	if !storable(key) {
		return nil // never begun: BeginBlob cannot have stored it
	}
	if _, err := c.pool.Exec(ctx, `DELETE FROM pending_blobs WHERE blob_key = $1`, key); err != nil {
		return fmt.Errorf("end blob: %w", err)
	}
	return nil
}

// maxMerged is the most scope values (campaigns and agents) whose
// listing mergedScope reads value by value. Up to there, a descent of
// each value's index and the page's rows cost less than reading the
// newest recordings of all campaigns until enough of them are in scope
// (the one-query plan, which reads about limit × recordings / in-scope
// recordings rows); beyond it the scope is a large enough share of the
// catalogue for that plan to be the cheaper, and the statement (a branch
// per value, up to twice that once rounded) would keep growing.
const maxMerged = 32

// mergedScope writes a listing whose scope is several campaigns or agents
// (a supervisor's, an inspector's) as one newest-first index scan per
// value, each a UNION ALL branch cut to limit, under an ORDER BY and
// LIMIT that the planner runs as a Merge Append: it pulls rows from the
// branches in order and stops at limit, so a page reads about limit +
// branches rows, each fetched from the table by its index entry. (A
// LATERAL subquery per array element read limit entries from every
// value's index and then looked each survivor up again by id: for ten
// agents 1,010 index entries and 101 primary-key descents, 2.0 ms of
// server time against 0.35 ms this way at 10 M recordings.) With
// "campaign_id = ANY($n)" the planner can only either sort every
// recording of the scope or walk the newest recordings of the whole
// catalogue until limit of them are in scope.
//
// campaigns and agents are the parameters of the two arrays ("" for
// none) and nc, na their lengths. Branch k reads element k of its array
// ("($n::bigint[])[k]"); the branch count is rounded up to a power of two
// and the extra branches read past the array's end, a NULL that matches
// nothing, so that a deployment's scopes map to a handful of statement
// texts that pgx prepares once per connection. An agent's rows leave out
// the scope's campaigns, if any, so that a recording in both appears
// once. where holds the filter's other conditions, which every branch
// repeats.
func mergedScope(campaigns string, nc int, agents string, na int, where []string, limit string) string {
	rest := ""
	if len(where) > 0 {
		rest = " AND " + strings.Join(where, " AND ")
	}
	page := ` ORDER BY started_at DESC, id DESC LIMIT ` + limit
	var branches []string
	for k := range branchCount(nc) {
		branches = append(branches, `(SELECT `+recordingCols+` FROM recordings WHERE campaign_id = (`+
			campaigns+`::bigint[])[`+strconv.Itoa(k+1)+`]`+rest+page+`)`)
	}
	not := ""
	if nc > 0 {
		not = ` AND campaign_id <> ALL (` + campaigns + `::bigint[])`
	}
	for k := range branchCount(na) {
		branches = append(branches, `(SELECT `+recordingCols+` FROM recordings WHERE agent_id = (`+
			agents+`::text[])[`+strconv.Itoa(k+1)+`]`+not+rest+page+`)`)
	}
	return `SELECT ` + recordingCols + ` FROM (` + strings.Join(branches, " UNION ALL ") + `) m` + page
}

// branchCount is n rounded up to a power of two (0 stays 0).
func branchCount(n int) int {
	if n == 0 {
		return 0
	}
	c := 1
	for c < n {
		c *= 2
	}
	return c
}

// findGeneric runs the listing q (a mergedScope) on a generic plan: in
// one pipeline with a transaction-local plan_cache_mode, which ends with
// it. PostgreSQL would otherwise plan each execution afresh (a custom
// plan, whose estimates for the given values it prefers), and planning
// a branch per value costs more than running them: with ten agents 1.1
// ms of planning for 0.35 ms of execution, against 0.02 ms to bind the
// generic plan (the same Merge Append of index scans).
func (c *DB) findGeneric(ctx context.Context, q string, limit int, args []any) ([]*recvault.Recording, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	var out []*recvault.Recording
	b.Queue(q, args...).Query(func(rows pgx.Rows) error {
		var err error
		out, err = readRecordings(rows, limit)
		return err
	})
	if err := c.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// readRecordings reads and closes rows of recordingCols, expecting up to
// limit of them.
func readRecordings(rows pgx.Rows, limit int) ([]*recvault.Recording, error) {
	defer rows.Close()
	out := make([]*recvault.Recording, 0, min(max(limit, 0), 1000)) // room for those expected, within reason
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// FindRecordings lists the recordings in f.Scope that match f, newest first.
func (c *DB) FindRecordings(ctx context.Context, f recvault.RecordingFilter) ([]*recvault.Recording, string, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var campaigns []int64
	var agents []string
	if !f.Scope.All {
		campaigns = f.Scope.DistinctCampaigns()
		// An agent id that cannot be stored matches no recording.
		for _, a := range f.Scope.DistinctAgents() {
			if storable(a) {
				agents = append(agents, a)
			}
		}
		if len(campaigns)+len(agents) == 0 {
			return nil, "", nil // an empty scope sees nothing
		}
	}
	if !storable(f.AgentID, f.CallID, f.CRTObject, string(f.Kind), f.OriginalPath) {
		return nil, "", nil // no stored recording can match
	}
	if f.CampaignID != 0 {
		where = append(where, "campaign_id = "+arg(f.CampaignID))
	}
	if f.AgentID != "" {
		where = append(where, "agent_id = "+arg(f.AgentID))
	}
	if f.CallID != "" {
		where = append(where, "call_id = "+arg(f.CallID))
	}
	if f.CRTObject != "" {
		where = append(where, "crt_object_id = "+arg(f.CRTObject))
	}
	if f.MinDuration > 0 {
		where = append(where, "duration_ms >= "+arg(f.MinDuration.Milliseconds()))
	}
	if f.MaxDuration > 0 {
		where = append(where, "duration_ms <= "+arg(f.MaxDuration.Milliseconds()))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if f.OriginalPath != "" {
		where = append(where, "original_norm = "+arg(recvault.NormalizeVendorPath(f.OriginalPath)))
	}
	if !f.From.IsZero() {
		where = append(where, "started_at >= "+arg(f.From.UnixNano()))
	}
	if !f.To.IsZero() {
		where = append(where, "started_at < "+arg(f.To.UnixNano()))
	}
	if f.Cursor != "" {
		at, id, err := cursor.Decode(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		if !storable(id) {
			return nil, "", recvault.Errorf(recvault.EINVALID, "invalid cursor") // never one we made
		}
		// The row-value comparison is the same order as ORDER BY below
		// and lets the (started_at, id) index start right at the cursor.
		where = append(where, "(started_at, id) < ("+arg(at)+", "+arg(id)+")")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var q string
	merged := false
	if n := len(campaigns) + len(agents); n > 1 && n <= maxMerged && f.CampaignID == 0 && f.AgentID == "" &&
		f.CallID == "" && f.CRTObject == "" && f.OriginalPath == "" {
		cs, as := "", ""
		if len(campaigns) > 0 {
			cs = arg(campaigns)
		}
		if len(agents) > 0 {
			as = arg(agents)
		}
		q = mergedScope(cs, len(campaigns), as, len(agents), where, arg(limit+1))
		merged = true
	} else {
		switch {
		case f.Scope.All:
		// One campaign or one agent (an agent's own recordings) as a plain
		// equality: with "= ANY($n)" the planner cannot read the index in
		// ORDER BY's order and sorts every recording of the agent instead.
		case len(campaigns) == 1 && len(agents) == 0:
			where = append(where, "campaign_id = "+arg(campaigns[0]))
		case len(agents) == 1 && len(campaigns) == 0:
			where = append(where, "agent_id = "+arg(agents[0]))
		default:
			var or []string
			if len(campaigns) > 0 {
				or = append(or, "campaign_id = ANY("+arg(campaigns)+")")
			}
			if len(agents) > 0 {
				or = append(or, "agent_id = ANY("+arg(agents)+")")
			}
			where = append(where, "("+strings.Join(or, " OR ")+")")
		}
		q = `SELECT ` + recordingCols + ` FROM recordings`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += " ORDER BY started_at DESC, id DESC LIMIT " + arg(limit+1)
	}
	var out []*recvault.Recording
	var err error
	if merged {
		out, err = c.findGeneric(ctx, q, limit+1, args)
	} else {
		var rows pgx.Rows
		if rows, err = c.pool.Query(ctx, q, args...); err == nil {
			out, err = readRecordings(rows, limit+1)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("find recordings: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = cursor.Encode(nanos(last.StartedAt), last.ID)
	}
	return out, next, nil
}
