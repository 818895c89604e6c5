package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// stmts are the statements every request (or every ingest) runs, prepared
// once at Open: database/sql otherwise prepares, runs and finalises a
// statement per call, and SQLite's parse and plan of a query with a dozen
// columns costs as much as the indexed lookup itself. A *sql.Stmt is safe
// for concurrent use; database/sql prepares it again on each pooled
// connection the first time that connection runs it, and inside a
// transaction tx.StmtContext reuses the connection's copy.
type stmts struct {
	recording, recordingByIdentity, insertRecording *sql.Stmt
	sessionByToken, touchSession                    *sql.Stmt
	userByID, userByLogin                           *sql.Stmt
	userCampaigns, userInspects                     *sql.Stmt
	auditHead, auditInsert, auditListed, auditMove  *sql.Stmt
}

// prepare prepares every statement of s, the writes on w (the write
// connection, see DB.w) and the reads on db, closing those it made if one
// fails.
func (s *stmts) prepare(ctx context.Context, db, w *sql.DB) error {
	// on: the connection each runs on; the audit's head read too, as it
	// runs inside the audit's write transaction.
	all := []struct {
		p  *(*sql.Stmt)
		on *sql.DB
		q  string
	}{
		{&s.recording, db, `SELECT ` + recordingRead + ` FROM recordings WHERE id = ?`},
		{&s.recordingByIdentity, db, `SELECT ` + recordingRead + ` FROM recordings WHERE campaign_id = ? AND crt_object_id = ?`},
		{&s.insertRecording, w, `INSERT INTO recordings (` + recordingCols + `, original_norm)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.sessionByToken, db, `SELECT ` + sessionCols + ` FROM sessions WHERE token_hash = ?`},
		{&s.touchSession, w, `UPDATE sessions SET last_seen = ? WHERE id = ? AND last_seen < ?`},
		{&s.userByID, db, `SELECT ` + userCols + ` FROM users WHERE id = ?`},
		{&s.userByLogin, db, `SELECT ` + userCols + ` FROM users WHERE login = ?`},
		{&s.userCampaigns, db, `SELECT campaign_id FROM user_campaigns WHERE user_id = ? ORDER BY campaign_id`},
		{&s.userInspects, db, `SELECT agent_id FROM user_inspects WHERE user_id = ? ORDER BY agent_id`},
		{&s.auditHead, w, `SELECT seq, hash, id_offset FROM audit_head WHERE id = 1`},
		{&s.auditInsert, w, `INSERT INTO audit (id, seq, at, actor, role, via, action, outcome,
			recording_id, recording_ids, subject, format, byte_range, detail, remote, request_id, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.auditListed, w, `INSERT OR IGNORE INTO audit_recordings (recording_id, audit_id) VALUES (?, ?)`},
		{&s.auditMove, w, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`},
	}
	for _, st := range all {
		p, err := st.on.PrepareContext(ctx, st.q)
		if err != nil {
			return errors.Join(fmt.Errorf("prepare %q: %w", st.q, err), s.close())
		}
		*st.p = p
	}
	return nil
}

// close closes the statements prepared so far.
func (s *stmts) close() error {
	var errs []error
	for _, p := range []*sql.Stmt{s.recording, s.recordingByIdentity, s.insertRecording, s.sessionByToken,
		s.touchSession, s.userByID, s.userByLogin, s.userCampaigns, s.userInspects, s.auditHead,
		s.auditInsert, s.auditListed, s.auditMove} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// maxCached bounds the statements stmtCache keeps. The listings' SQL text
// depends only on which filter fields are set and how long the scope's
// lists are, so a deployment uses a few dozen shapes; the bound only stops
// an unusual caller (scopes of every length) from growing it without end.
const maxCached = 256

// stmtCache prepares the listings' statements, whose text is built per
// filter, the first time each text is run and keeps them, so that a
// repeated shape (a campaign's pages, a call id lookup) is parsed and
// planned once like the fixed statements of stmts.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// query runs q with args through its cached statement, preparing it first
// if it is new; past maxCached shapes it runs q unprepared.
func (c *stmtCache) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	if !ok && len(c.m) < maxCached {
		var err error
		// Preparing under the lock is brief (no I/O beyond the schema,
		// which is in memory) and keeps two first callers from preparing
		// the same text twice.
		if st, err = c.db.PrepareContext(ctx, q); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		if c.m == nil {
			c.m = map[string]*sql.Stmt{}
		}
		c.m[q] = st
	}
	c.mu.Unlock()
	if st == nil {
		return c.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
