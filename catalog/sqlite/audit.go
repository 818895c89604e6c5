package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/internal/cursor"
)

// auditTexts are an audit row's text columns, in the order scanAudit
// unpacks them.
var auditTexts = [...]string{"actor", "role", "via", "action", "outcome", "recording_id", "recording_ids",
	"subject", "format", "byte_range", "detail", "remote", "request_id", "prev_hash", "hash"}

// auditCols selects a record as its three integers (id, seq, at) and its
// fifteen texts packed into one column (packTexts).
var auditCols = "id, seq, at, " + packTexts("", auditTexts[:])

// AppendAudit appends events to the hash chain in one transaction. The
// transaction is IMMEDIATE (the DSN's _txlock), so it holds SQLite's write
// lock from its first statement: the head read, the inserts and the head
// update of one batch cannot interleave with another writer's, in this
// process or any other on the file.
//
// The transaction runs under ctx's values only, not its cancellation:
// with a context that can end, database/sql watches it with a goroutine
// per transaction and the driver with one per statement (to interrupt
// SQLite), forty goroutines for a batch of forty records
// (BenchmarkAppendAudit, whose batches have a timeout like the writer's:
// 38.4 → 36.2 µs of CPU a record without them, medians of five
// alternating runs). What could hold an append up is bounded without
// them: the wait for the write connection by writeWait (10 s) and the
// wait for the write lock, held by another process's writer, by the busy
// timeout (15 s; together under the audit writer's 30 s), and no
// interrupt would end a write the disk holds up.
func (c *DB) AppendAudit(ctx context.Context, events []*recvault.AuditEvent) (err error) {
	if len(events) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	defer func() {
		if err != nil {
			unchain(events)
		}
	}()
	// The wait for the write connection (DB.w) is bounded like the wait
	// for SQLite's write lock; the transaction is not watched (above).
	wait, cancel := context.WithTimeout(ctx, writeWait)
	conn, err := c.w.Conn(wait)
	cancel()
	if err != nil {
		return fmt.Errorf("append audit: wait for the write connection: %w", err)
	}
	defer conn.Close() // gives the connection back (fails only if given back already)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	defer tx.Rollback()
	var seq, offset int64
	var hash string
	if err := tx.StmtContext(ctx, c.st.auditHead).QueryRowContext(ctx).Scan(&seq, &hash, &offset); err != nil {
		return fmt.Errorf("append audit: read chain head: %w", err)
	}
	insert := tx.StmtContext(ctx, c.st.auditInsert)
	listed := tx.StmtContext(ctx, c.st.auditListed)
	for _, e := range events {
		ids := recvault.JoinRecordingIDs(e.RecordingIDs)
		e.RecordingIDs = recvault.SplitRecordingIDs(ids)
		seq++
		e.Seq, e.PrevHash = seq, hash
		e.Hash = e.ChainHash(hash)
		hash = e.Hash
		// The record's place in the chain is its place in the table
		// (migration 14): a row already there (one the writer did not
		// append) fails the batch, as a taken seq did before.
		row := e.Seq + offset
		if _, err := insert.ExecContext(ctx, row, e.Seq, nanos(e.At), e.Actor, e.Role, e.API, string(e.Action), string(e.Outcome),
			e.RecordingID, ids, e.Subject, e.Format, e.Range, e.Detail, e.Remote, e.RequestID, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		// The ids a listing returned, one row each, so that FindAudit
		// finds the record by any of them through an index.
		for _, id := range e.RecordingIDs {
			if _, err := listed.ExecContext(ctx, id, row); err != nil {
				return fmt.Errorf("append audit: index listed recording: %w", err)
			}
		}
	}
	if _, err := tx.StmtContext(ctx, c.st.auditMove).ExecContext(ctx, seq, hash); err != nil {
		return fmt.Errorf("append audit: move chain head: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// unchain undoes what a failed AppendAudit set on the events, so that no
// caller mistakes an unstored event for a chained one.
func unchain(events []*recvault.AuditEvent) {
	for _, e := range events {
		e.Seq, e.PrevHash, e.Hash = 0, "", ""
	}
}

// scanAudit reads a row of auditCols. It takes the driver's values as
// they are (int64, string) and converts them itself: database/sql's Scan
// converts by reflection into anything but *string and *[]byte (an int64
// column into *int64, text into a named string type such as AuditAction,
// NullInt64 through its Scanner), which on a page of 100 records cost a
// quarter of the page's time.
func scanAudit(sc scanner) (recvault.AuditEvent, int64, error) {
	dv := auditValues.Get().(*driverValues)
	defer dv.put(&auditValues)
	var e recvault.AuditEvent
	if err := sc.Scan(dv.dest...); err != nil {
		return e, 0, err
	}
	v := dv.v
	var ints [3]int64 // id, seq (NULL before the chain: 0), at
	for i := range ints {
		n, err := sqlInt(v[i])
		if err != nil {
			return e, 0, fmt.Errorf("audit column %d: %w", i, err)
		}
		ints[i] = n
	}
	var t [len(auditTexts)]string
	if err := unpackTexts(sqlText(v[3]), t[:], auditTexts[:]); err != nil {
		return e, 0, err
	}
	e.Seq, e.At = ints[1], fromNanos(ints[2])
	e.Actor, e.Role, e.API = t[0], t[1], t[2]
	e.Action, e.Outcome = recvault.AuditAction(t[3]), recvault.AuditOutcome(t[4])
	e.RecordingID, e.RecordingIDs = t[5], recvault.SplitRecordingIDs(t[6])
	e.Subject, e.Format, e.Range, e.Detail = t[7], t[8], t[9], t[10]
	e.Remote, e.RequestID, e.PrevHash, e.Hash = t[11], t[12], t[13], t[14]
	return e, ints[0], nil
}

// queryAudit runs q and reads its records (at most limit), with their
// row ids.
func (c *DB) queryAudit(ctx context.Context, op string, limit int, q string, args ...any) ([]recvault.AuditEvent, []int64, error) {
	rows, err := c.db.QueryContext(ctx, q, args...)
	return readAudit(op, limit, rows, err)
}

// queryAuditCached is queryAudit through the statement cache, for the
// searches whose text is built per filter.
func (c *DB) queryAuditCached(ctx context.Context, op string, limit int, q string, args ...any) ([]recvault.AuditEvent, []int64, error) {
	rows, err := c.cache.query(ctx, q, args...)
	return readAudit(op, limit, rows, err)
}

// readAudit reads the records and row ids of rows (the result of a query
// that failed with err if err is not nil).
func readAudit(op string, limit int, rows *sql.Rows, err error) ([]recvault.AuditEvent, []int64, error) {
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	limit = min(limit, 1000) // room for the records expected, within reason
	out := make([]recvault.AuditEvent, 0, limit)
	ids := make([]int64, 0, limit)
	for rows.Next() {
		e, id, err := scanAudit(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		out, ids = append(out, e), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, ids, nil
}

// Audit returns the newest limit records, newest first.
func (c *DB) Audit(ctx context.Context, limit int) ([]recvault.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	out, _, err := c.queryAudit(ctx, "read audit", limit, `SELECT `+auditCols+` FROM audit ORDER BY id DESC LIMIT ?`, limit)
	return out, err
}

// FindAudit lists the records matching f in the order they were appended:
// by row id, which follows Seq for chained records (they are inserted
// under the write lock, in Seq order) and puts records from before the
// chain first. A listing bounded in time (Since or Until) or of one
// actor (f.Timed) is in event time order instead, ties by row id: the
// index on at, or on actor and at, then yields a page's records in order,
// where ordering a range by row id read and sorted every record in it (a
// day of a busy trail took 2 ms). The cursor is the last record's row id,
// and event time if timed.
func (c *DB) FindAudit(ctx context.Context, f recvault.AuditFilter) ([]recvault.AuditEvent, string, error) {
	var where []string
	var args []any
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UnixNano())
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.RecordingID != "" {
		// Acted on, or among the ids a listing returned (audit_recordings
		// holds them as stored: spelt as JoinRecordingIDs spells them).
		id := recvault.JoinRecordingIDs([]string{f.RecordingID})
		where = append(where, `id IN (SELECT id FROM audit WHERE recording_id = ?
			UNION SELECT audit_id FROM audit_recordings WHERE recording_id = ?)`)
		args = append(args, f.RecordingID, id)
	}
	timed := f.Timed()
	if f.Cursor != "" {
		at, after, err := cursor.DecodeAudit(f.Cursor, timed)
		if err != nil {
			return nil, "", err
		}
		if timed {
			// at >= ? bounds the index range; the rest skips the ties
			// already listed.
			where, args = append(where, "at >= ? AND (at > ? OR id > ?)"), append(args, at, at, after)
		} else {
			where, args = append(where, "id > ?"), append(args, after)
		}
	}
	limit := f.AuditPageLimit()
	q := `SELECT ` + auditCols + ` FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	order := " ORDER BY id"
	if timed {
		order = " ORDER BY at, id"
	}
	q += order + " LIMIT ?"
	args = append(args, limit+1)
	out, ids, err := c.queryAuditCached(ctx, "find audit", limit+1, q, args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = cursor.EncodeAudit(timed, nanos(out[limit-1].At), ids[limit-1])
	}
	return out, next, nil
}

// AuditChain returns up to limit chained records after afterSeq, in the
// order they are stored: the writer stores record seq at row id seq +
// id_offset (migration 14), so for a chain as the writer left it that is
// Seq order, read from the table itself with no index on seq. A chain
// someone renumbered or reordered comes back as it lies, which is what
// VerifyAudit must see.
func (c *DB) AuditChain(ctx context.Context, afterSeq int64, limit int) ([]recvault.AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	out, _, err := c.queryAudit(ctx, "read audit chain", limit,
		`SELECT `+auditCols+` FROM audit WHERE id > ? + (SELECT id_offset FROM audit_head WHERE id = 1)
		AND seq IS NOT NULL ORDER BY id LIMIT ?`, afterSeq, limit)
	return out, err
}

// AuditHead returns the Seq and Hash of the last record appended.
func (c *DB) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := c.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", recvault.Internal(errors.New("audit head: the audit_head row is missing"))
	} else if err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return seq, hash, nil
}
