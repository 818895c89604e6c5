// Package sqlite is the embedded catalog: recordings, users, sessions and the
// audit trail in one SQLite database file, in WAL mode so that readers never
// wait for the writer and CLI commands can run beside a live server.
//
// The driver is modernc.org/sqlite, a pure-Go translation of SQLite: the
// binary stays static and cross-compiles without a C toolchain, at a cost of
// roughly 10-20 % against the cgo driver, which the catalog's small rows do
// not notice next to the media work.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/internal/cursor"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// cacheKiB is each connection's page cache: with at most 8 connections,
// a catalogue uses at most 8 times this (512 MiB), and only once it has
// read that much.
const cacheKiB = 64 << 10

// writerCacheKiB is the page cache of the write connection (DB.w):
// 2,000 pages, enough for the right edges of the audit table and its
// indexes and a share of the index leaves that records land on.
// Why not the pool's: when an insert splits b-tree pages and the new
// pages come out of order, SQLite swaps them through a temporary page
// number (the lock-byte page's, 1 GiB into the file), and on a file
// smaller than that the commit then drops the cached pages past the end
// of the file by visiting every slot of the cache's hash table, which is
// as large as the most pages the connection ever held. A pooled
// connection that had served reads (up to cacheKiB, 16,384 pages) made
// nearly every audit commit a scan of 16,384 slots
// (BenchmarkAppendAuditWarmPool: 750 of 835 commits); this cache keeps
// the table at 2,048 slots (the same benchmark: 767 of 836).
const writerCacheKiB = 8000

// writeWait bounds how long AppendAudit waits for the write connection
// (DB.w) while other writes of this process hold it: with the busy
// timeout, under the audit writer's 30 s per commit. Other writes wait as
// long as their callers' contexts let them.
const writeWait = 10 * time.Second

// DB is a catalog backed by one SQLite file.
type DB struct {
	db *sql.DB // the reads: up to 8 connections
	// w is the write connection: every write of this process (the audit
	// appends, ingests, sessions, users, leases) runs on its one
	// connection, with a smaller page cache (writerCacheKiB). Writers of
	// one process then queue for it in database/sql, not for SQLite's
	// write lock, whose busy handler sleeps and retries: a stream of
	// ingests on the pool kept an audit commit waiting up to 6.1 s
	// (TestWritersQueue against the code before). Its cache is never emptied
	// by another connection's commit (SQLite drops a connection's cache
	// when the file changed under it), and stays small for the reason
	// above. A write must not be started while the same goroutine holds
	// w in a transaction: no write path does.
	w     *sql.DB
	st    stmts     // the hot fixed statements, prepared at Open
	cache stmtCache // the listings' statements, prepared on first use
}

var _ recvault.Catalog = (*DB)(nil)

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	// synchronous(FULL): a commit is on disk when it returns, so an
	// acknowledged ingest survives a power cut, not only a process crash.
	// analysis_limit(1000): ANALYZE (and PRAGMA optimize, below) samples
	// about a thousand rows per index instead of reading every index
	// whole, which on 10 M recordings takes 0.3 s instead of minutes; the
	// planner needs the rough shape (rows per campaign, agent, call),
	// not exact counts.
	// cache_size(-cacheKiB): each connection keeps up to that many KiB of
	// pages instead of SQLite's 2 MiB, which at 10 M recordings holds
	// not even the interior pages of the recordings table, so that every
	// row of a list page cost three or four page reads from the OS
	// instead of one (the leaf); the cache grows only as pages are read.
	dsn := func(cache int) string {
		return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(15000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=analysis_limit(1000)" +
			"&_pragma=cache_size(-" + strconv.Itoa(cache) + ")&_txlock=immediate"
	}
	db, err := sql.Open("sqlite", dsn(cacheKiB))
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	// As many idle connections as open ones: database/sql keeps two idle
	// by default and closes the rest as they come back, so a burst of
	// concurrent reads opened connections again and again, each running
	// the pragmas above and reading the schema (a flood of requests with
	// an unknown token spent a third of its CPU on that).
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	c := &DB{db: db, cache: stmtCache{db: db}}
	if err := c.migrate(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	// Opened after the migrations, so that its connection reads the
	// current schema. One connection: SQLite has one writer per file.
	w, err := sql.Open("sqlite", dsn(writerCacheKiB))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open catalog: %w", err), db.Close())
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	c.w = w
	closeBoth := func() error { return errors.Join(w.Close(), db.Close()) }
	// Refresh the planner's statistics where they are missing or stale
	// (0x10000: every table, not only those this connection has used; a
	// table analysed when it was small is analysed again once it has
	// grown tenfold): a catalogue created empty and grown by ingest
	// would otherwise keep the plans of an empty one. It analyses a
	// bounded sample (analysis_limit), so it stays quick on a big file.
	if _, err := db.ExecContext(ctx, `PRAGMA optimize = 0x10002`); err != nil {
		return nil, errors.Join(fmt.Errorf("optimize catalog: %w", err), closeBoth())
	}
	if err := c.st.prepare(ctx, db, w); err != nil {
		return nil, errors.Join(fmt.Errorf("open catalog: %w", err), closeBoth())
	}
	return c, nil
}

// Close closes the database, first letting SQLite update the statistics
// that this process's queries showed to be worth refreshing (what the
// SQLite documentation asks of a connection before it closes).
func (c *DB) Close() error {
	_, oerr := c.db.Exec(`PRAGMA optimize`)
	return errors.Join(oerr, c.st.close(), c.cache.close(), c.w.Close(), c.db.Close())
}

func (c *DB) migrate(ctx context.Context) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("catalog schema version %d is newer than this binary knows (%d)", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit()
}

// SchemaVersion reports how many migrations the database has applied.
func (c *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := c.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
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

// recordingCols are a recordings row's columns, for its INSERT.
const recordingCols = `id, campaign_id, crt_object_id, call_id, agent_id, kind, container, codec,
	sample_rate, channels, agent_channel, customer_channel, started_at, duration_ms, size, sha256,
	blob_key, original_path, created_at, data_offset, data_size, data_key`

// recordingInts and recordingTexts are a recordings row's integer and
// text columns as scanRecording reads them (recordingRead): the integers
// one by one, the texts packed (packTexts), the data key last.
var (
	recordingInts = [...]string{"campaign_id", "sample_rate", "channels", "agent_channel", "customer_channel",
		"started_at", "duration_ms", "size", "created_at", "data_offset", "data_size"}
	recordingTexts = [...]string{"id", "crt_object_id", "call_id", "agent_id", "kind", "container", "codec",
		"sha256", "blob_key", "original_path"}
)

// recordingRead is what a query of recordings selects for scanRecording.
var recordingRead = recordingSelect("")

// recordingSelect is recordingRead with every column qualified by p
// ("r." in a join).
func recordingSelect(p string) string {
	var b strings.Builder
	for _, c := range recordingInts {
		b.WriteString(p + c + ", ")
	}
	b.WriteString(packTexts(p, recordingTexts[:]))
	b.WriteString(", " + p + "data_key")
	return b.String()
}

// packTexts is an expression of the text columns cols (qualified by p)
// as one text: LENGTH ":" VALUE each, by concat(), LENGTH in bytes
// (octet_length) so that a value may hold any byte, a colon included;
// unpackTexts splits it again. The driver reads a column through three
// calls into SQLite (its type, its text, its length), each taking the
// connection's mutex (the driver opens connections serialised), which on
// a page of 100 audit records was 5,400 calls and 40 % of the page's
// time; a packed column is three calls a row and one string, whose
// fields are its substrings.
func packTexts(p string, cols []string) string {
	var b strings.Builder
	b.WriteString("concat(")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("octet_length(" + p + c + "), ':', " + p + c)
	}
	b.WriteString(")")
	return b.String()
}

// unpackTexts splits a packTexts column into out, one field for each of
// the columns names (for errors).
func unpackTexts(p string, out []string, names []string) error {
	for i := range out {
		colon := strings.IndexByte(p, ':')
		n, err := strconv.Atoi(p[:max(colon, 0)])
		if colon < 1 || err != nil || n < 0 || n > len(p)-colon-1 {
			return fmt.Errorf("column %s: packed value damaged", names[i])
		}
		out[i], p = p[colon+1:colon+1+n], p[colon+1+n:]
	}
	if p != "" {
		return errors.New("packed columns: value too long")
	}
	return nil
}

type scanner interface{ Scan(...any) error }

// driverValues is a Scan destination that keeps the values the driver
// gave (int64, string, []byte, nil) without conversion; pooled, so that
// reading a page does not allocate one per row.
type driverValues struct {
	v    []any
	dest []any // pointers to v's elements
}

func newDriverValues(n int) *driverValues {
	dv := &driverValues{v: make([]any, n), dest: make([]any, n)}
	for i := range dv.v {
		dv.dest[i] = &dv.v[i]
	}
	return dv
}

// put returns dv to pool, holding no value of the last row.
func (dv *driverValues) put(pool *sync.Pool) {
	clear(dv.v)
	pool.Put(dv)
}

var (
	recordingValues = sync.Pool{New: func() any { return newDriverValues(len(recordingInts) + 2) }}
	auditValues     = sync.Pool{New: func() any { return newDriverValues(4) }}
)

// sqlInt is an integer column's value as the driver gave it (SQLite
// keeps what was stored, so a number stored as text is read as text).
func sqlInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	}
	return 0, fmt.Errorf("integer column holds %T", v)
}

// sqlText is a text column's value as the driver gave it.
func sqlText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v) // a number stored in a text column
}

// scanRecording reads a row of recordingRead, converting the driver's
// values itself as scanAudit does: Scan into an int field formatted each
// int64 as text and parsed it back, four times a row.
func scanRecording(s scanner) (*recvault.Recording, error) {
	dv := recordingValues.Get().(*driverValues)
	defer dv.put(&recordingValues)
	if err := s.Scan(dv.dest...); err != nil {
		return nil, err
	}
	v := dv.v
	var n [len(recordingInts)]int64
	for i := range n {
		x, err := sqlInt(v[i])
		if err != nil {
			return nil, fmt.Errorf("recording column %s: %w", recordingInts[i], err)
		}
		n[i] = x
	}
	var t [len(recordingTexts)]string
	if err := unpackTexts(sqlText(v[len(n)]), t[:], recordingTexts[:]); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	r := &recvault.Recording{
		ID: t[0], CampaignID: n[0], CRTObjectID: t[1], CallID: t[2], AgentID: t[3], Kind: recvault.Kind(t[4]),
		StartedAt: fromNanos(n[5]), Duration: time.Duration(n[6]) * time.Millisecond, Size: n[7],
		SHA256: t[7], BlobKey: t[8], OriginalPath: t[9], CreatedAt: fromNanos(n[8]),
	}
	r.Format.Container, r.Format.Codec = t[5], t[6]
	r.Format.SampleRate, r.Format.Channels = int(n[1]), int(n[2])
	r.Format.AgentChannel, r.Format.CustomerChannel = int(n[3]), int(n[4])
	r.Format.DataOffset, r.Format.DataSize = n[9], n[10]
	key := v[len(n)+1]
	switch k := key.(type) {
	case nil:
	case []byte:
		r.DataKey = k
	default:
		return nil, fmt.Errorf("recording data key holds %T", key)
	}
	return r, nil
}

// readRecordings reads and closes rows of recordingRead, expecting up to
// limit of them.
func readRecordings(rows *sql.Rows, limit int) ([]*recvault.Recording, error) {
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

// CreateRecording inserts r, or returns ECONFLICT and the row that holds r's
// identity.
func (c *DB) CreateRecording(ctx context.Context, r *recvault.Recording) (*recvault.Recording, error) {
	_, err := c.st.insertRecording.ExecContext(ctx,
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
		return nil, fmt.Errorf("insert recording: %w", err)
	}
	return nil, nil
}

// Recording returns the recording id.
func (c *DB) Recording(ctx context.Context, id string) (*recvault.Recording, error) {
	r, err := scanRecording(c.st.recording.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	var n int
	err := c.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM recordings WHERE blob_key = ?) +
		(SELECT COUNT(*) FROM pending_blobs WHERE blob_key = ? AND started_at > ?)`, key, key, nanos(pendingAfter)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("blob reference: %w", err)
	}
	return n > 0, nil
}

// BeginBlob marks key as being written.
func (c *DB) BeginBlob(ctx context.Context, key string, at time.Time) error {
	if _, err := c.w.ExecContext(ctx, `INSERT INTO pending_blobs (blob_key, started_at) VALUES (?, ?)
		ON CONFLICT (blob_key) DO UPDATE SET started_at = excluded.started_at`, key, nanos(at)); err != nil {
		return fmt.Errorf("begin blob: %w", err)
	}
	return nil
}

// EndBlob removes the mark BeginBlob set.
func (c *DB) EndBlob(ctx context.Context, key string) error {
	if _, err := c.w.ExecContext(ctx, `DELETE FROM pending_blobs WHERE blob_key = ?`, key); err != nil {
		return fmt.Errorf("end blob: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (c *DB) Ping(ctx context.Context) error {
	var one int
	if err := c.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// RecordingByIdentity returns the recording stored under (campaign, crt object).
func (c *DB) RecordingByIdentity(ctx context.Context, campaignID int64, crt string) (*recvault.Recording, error) {
	r, err := scanRecording(c.st.recordingByIdentity.QueryRowContext(ctx, campaignID, crt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "recording not found")
	}
	if err != nil {
		return nil, fmt.Errorf("get recording: %w", err)
	}
	return r, nil
}

// FindRecordings lists the recordings in f.Scope that match f, newest first.
func (c *DB) FindRecordings(ctx context.Context, f recvault.RecordingFilter) ([]*recvault.Recording, string, error) {
	var where []string
	var args []any
	// A crtObjectId, recorder path or call id picks one or two rows
	// through its own index; every other column is then compared with a
	// unary + (SQLite's way of saying "not through an index"), so that
	// the planner cannot prefer an index that merely avoids the sort,
	// e.g. the agent's (agent_id, started_at, id) for callId + agent,
	// which reads every recording of the agent to find one or two.
	key := ""
	switch {
	case f.CRTObject != "":
		key = "crt_object_id"
	case f.OriginalPath != "":
		key = "original_norm"
	case f.CallID != "":
		key = "call_id"
	}
	col := func(name string) string {
		if key != "" && name != key {
			return "+" + name
		}
		return name
	}
	var campaigns []int64
	var agentIDs []string
	if !f.Scope.All {
		campaigns, agentIDs = f.Scope.DistinctCampaigns(), f.Scope.DistinctAgents()
		if len(campaigns)+len(agentIDs) == 0 {
			return nil, "", nil // an empty scope sees nothing
		}
	}
	if f.CampaignID != 0 {
		where, args = append(where, col("campaign_id")+" = ?"), append(args, f.CampaignID)
	}
	if f.AgentID != "" {
		where, args = append(where, col("agent_id")+" = ?"), append(args, f.AgentID)
	}
	if f.CallID != "" {
		where, args = append(where, col("call_id")+" = ?"), append(args, f.CallID)
	}
	if f.CRTObject != "" {
		where, args = append(where, col("crt_object_id")+" = ?"), append(args, f.CRTObject)
	}
	if f.MinDuration > 0 {
		where, args = append(where, "duration_ms >= ?"), append(args, f.MinDuration.Milliseconds())
	}
	if f.MaxDuration > 0 {
		where, args = append(where, "duration_ms <= ?"), append(args, f.MaxDuration.Milliseconds())
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if f.OriginalPath != "" {
		where, args = append(where, col("original_norm")+" = ?"), append(args, recvault.NormalizeVendorPath(f.OriginalPath))
	}
	if !f.From.IsZero() {
		where, args = append(where, col("started_at")+" >= ?"), append(args, f.From.UnixNano())
	}
	if !f.To.IsZero() {
		where, args = append(where, col("started_at")+" < ?"), append(args, f.To.UnixNano())
	}
	if f.Cursor != "" {
		at, id, err := cursor.Decode(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// A row value in ORDER BY's order: SQLite turns it into a range
		// of the (campaign_id | agent_id | -, started_at, id) indexes, so
		// a deep page starts at the cursor instead of skipping every row
		// before it (the OR of two comparisons it could not).
		where = append(where, "(started_at, id) < (?, ?)")
		args = append(args, at, id)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var q string
	if n := len(campaigns) + len(agentIDs); n > 1 && n <= maxMerged && key == "" && f.CampaignID == 0 && f.AgentID == "" {
		q, args = mergedScope(campaigns, agentIDs, where, args, limit+1)
	} else {
		if !f.Scope.All {
			var or []string
			var scope []any
			if len(campaigns) > 0 {
				or = append(or, col("campaign_id")+" IN ("+placeholders(len(campaigns))+")")
				for _, c := range campaigns {
					scope = append(scope, c)
				}
			}
			if len(agentIDs) > 0 {
				or = append(or, col("agent_id")+" IN ("+placeholders(len(agentIDs))+")")
				for _, a := range agentIDs {
					scope = append(scope, a)
				}
			}
			where = append([]string{"(" + strings.Join(or, " OR ") + ")"}, where...)
			args = append(scope, args...)
		}
		q = `SELECT ` + recordingRead + ` FROM recordings`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		q += " ORDER BY started_at DESC, id DESC LIMIT ?"
		args = append(args, limit+1)
	}
	rows, err := c.cache.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("find recordings: %w", err)
	}
	out, err := readRecordings(rows, limit+1)
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

// maxMerged is the most scope values (campaigns and agents) whose
// listing mergedScope writes as one branch per value. Up to there, reading
// a page from each value's index costs less than reading the newest
// recordings of all campaigns until enough of them are in scope (the
// one-statement plan, which reads about limit × recordings / in-scope
// recordings rows); beyond it the scope is a large enough share of the
// catalogue for that plan to be the cheaper.
const maxMerged = 32

// mergedScope writes a listing whose scope is several campaigns or
// agents (a supervisor's, an inspector's) as one newest-first branch per
// value, each reading at most limit entries of the (campaign_id |
// agent_id, started_at, id) index from the cursor on, and only the index
// (the rowid, started_at and id are all in it); the branches are merged
// and cut to limit, and only those rows are read from the table. As one
// statement with "campaign_id IN (...)" the planner can only either sort
// every recording of the scope or walk the newest recordings of the whole
// catalogue until limit of them are in scope. An agent's branch leaves out
// the scope's campaigns, so that a recording in both appears once. where
// and args are the filter's other conditions, which every branch repeats.
func mergedScope(campaigns []int64, agentIDs []string, where []string, args []any, limit int) (string, []any) {
	rest := ""
	if len(where) > 0 {
		rest = " AND " + strings.Join(where, " AND ")
	}
	branch := func(cond string) string {
		return `SELECT * FROM (SELECT rowid AS r, started_at AS s, id AS i FROM recordings WHERE ` + cond + rest +
			` ORDER BY started_at DESC, id DESC LIMIT ?)`
	}
	var branches []string
	var all []any
	for _, c := range campaigns {
		branches = append(branches, branch("campaign_id = ?"))
		all = append(append(append(all, c), args...), limit)
	}
	notCampaigns := ""
	var campaignArgs []any
	if len(campaigns) > 0 {
		notCampaigns = " AND campaign_id NOT IN (" + placeholders(len(campaigns)) + ")"
		for _, c := range campaigns {
			campaignArgs = append(campaignArgs, c)
		}
	}
	for _, a := range agentIDs {
		branches = append(branches, branch("agent_id = ?"+notCampaigns))
		all = append(append(append(append(all, a), campaignArgs...), args...), limit)
	}
	q := `SELECT ` + recordingRead + ` FROM recordings WHERE rowid IN (SELECT r FROM (` + strings.Join(branches, " UNION ALL ") +
		`) ORDER BY s DESC, i DESC LIMIT ?) ORDER BY started_at DESC, id DESC`
	return q, append(all, limit)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
