package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/catalog/internal/cursor"
)

const auditCols = `id, seq, at, actor, role, via, action, outcome, recording_id, recording_ids,
	subject, format, byte_range, detail, remote, request_id, prev_hash, hash`

const auditInsert = `INSERT INTO audit (seq, at, actor, role, via, action, outcome, recording_id,
	recording_ids, subject, format, byte_range, detail, remote, request_id, prev_hash, hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// auditInsertListed is auditInsert for a record with RecordingIDs: it also
// stores each of them in audit_recordings (one row per id, in the same
// statement so the pipeline needs no returned id), so that FindAudit
// finds the record by any of them through an index.
const auditInsertListed = `WITH a AS (` + auditInsert + ` RETURNING id)
	INSERT INTO audit_recordings (recording_id, audit_id)
	SELECT DISTINCT r, a.id FROM a, unnest(string_to_array($9, ' ')) AS r`

// AppendAudit appends events to the hash chain in one transaction. The
// chain is one sequence for every replica: the head row, locked FOR
// UPDATE, orders concurrent writers (a second batch waits for the first to
// commit and then continues from its head), and a batch costs four round
// trips whatever its size (begin, head, all inserts and the head update in
// one pipeline, commit).
//
// Text PostgreSQL cannot store (invalid UTF-8, NUL) is replaced on the
// events before they are hashed, rather than refused: a record is the
// trace of an attempt and must be written whatever a client sent, and its
// hash must be over what is stored.
func (c *DB) AppendAudit(ctx context.Context, events []*recvault.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	err := c.inTx(ctx, "append audit", func(tx pgx.Tx) error {
		var seq int64
		var hash string
		if err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`).Scan(&seq, &hash); err != nil {
			return fmt.Errorf("append audit: lock chain head: %w", err)
		}
		b := &pgx.Batch{}
		for _, e := range events {
			cleanEvent(e)
			ids := cleanText(recvault.JoinRecordingIDs(e.RecordingIDs))
			e.RecordingIDs = recvault.SplitRecordingIDs(ids)
			seq++
			e.Seq, e.PrevHash = seq, hash
			e.Hash = e.ChainHash(hash)
			hash = e.Hash
			q := auditInsert
			if ids != "" {
				q = auditInsertListed
			}
			b.Queue(q, e.Seq, nanos(e.At), e.Actor, e.Role, e.API, string(e.Action), string(e.Outcome),
				e.RecordingID, ids, e.Subject, e.Format, e.Range, e.Detail, e.Remote, e.RequestID, e.PrevHash, e.Hash)
		}
		b.Queue(`UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, hash)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		return nil
	})
	if err != nil {
		for _, e := range events {
			e.Seq, e.PrevHash, e.Hash = 0, "", ""
		}
		return err
	}
	return nil
}

// cleanEvent makes every text of e storable (see cleanText); the
// recording ids are cleaned once joined, as stored.
func cleanEvent(e *recvault.AuditEvent) {
	for _, s := range []*string{&e.Actor, &e.Role, &e.API, &e.RecordingID, &e.Subject, &e.Format,
		&e.Range, &e.Detail, &e.Remote, &e.RequestID} {
		*s = cleanText(*s)
	}
	e.Action = recvault.AuditAction(cleanText(string(e.Action)))
	e.Outcome = recvault.AuditOutcome(cleanText(string(e.Outcome)))
}

// queryAudit runs q and reads its records (at most limit), with their
// row ids.
func (c *DB) queryAudit(ctx context.Context, op string, limit int, q string, args ...any) ([]recvault.AuditEvent, []int64, error) {
	rows, err := c.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	limit = min(limit, 1000) // room for the records expected, within reason
	out := make([]recvault.AuditEvent, 0, limit)
	ids := make([]int64, 0, limit)
	var texts []byte
	for rows.Next() {
		var e recvault.AuditEvent
		var id int64
		if texts, err = decodeAudit(rows, texts[:0], &e, &id); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		out, ids = append(out, e), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, ids, nil
}

// decodeAudit reads the current row of auditCols into e and id from the
// values as they came over the wire, with texts as scratch space (returned
// for reuse). Every text of the record (columns 3 to 17 of auditCols) is a
// piece of one string, one allocation per record: through Scan each text
// was its own, and decoding a page of 100 records cost the client more
// than the server its query (0.35 against 0.2 ms).
func decodeAudit(rows pgx.Rows, texts []byte, e *recvault.AuditEvent, id *int64) ([]byte, error) {
	raw := rows.RawValues()
	fields := rows.FieldDescriptions()
	if len(raw) != 18 || len(fields) != 18 {
		return texts, fmt.Errorf("audit row of %d columns, want 18", len(raw))
	}
	ints := [3]int64{}
	for i := range ints {
		if raw[i] == nil {
			continue // seq of a record from before the chain
		}
		v, err := wireInt(raw[i], fields[i].Format)
		if err != nil {
			return texts, fmt.Errorf("audit column %s: %w", fields[i].Name, err)
		}
		ints[i] = v
	}
	*id, e.Seq, e.At = ints[0], ints[1], fromNanos(ints[2])
	var ends [18]int // column c's text is texts[ends[c-1]:ends[c]]
	ends[2] = len(texts)
	for c := 3; c < 18; c++ {
		texts = append(texts, raw[c]...)
		ends[c] = len(texts)
	}
	all := string(texts)
	col := func(c int) string { return all[ends[c-1]:ends[c]] }
	e.Actor, e.Role, e.API = col(3), col(4), col(5)
	e.Action, e.Outcome = recvault.AuditAction(col(6)), recvault.AuditOutcome(col(7))
	e.RecordingID, e.RecordingIDs = col(8), recvault.SplitRecordingIDs(col(9))
	e.Subject, e.Format, e.Range, e.Detail = col(10), col(11), col(12), col(13)
	e.Remote, e.RequestID, e.PrevHash, e.Hash = col(14), col(15), col(16), col(17)
	return texts, nil
}

// wireInt decodes a bigint as PostgreSQL sent it: eight bytes big-endian
// in the binary format, decimal digits in the text one.
func wireInt(b []byte, format int16) (int64, error) {
	if format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("binary bigint of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// Audit returns the newest limit records, newest first.
func (c *DB) Audit(ctx context.Context, limit int) ([]recvault.AuditEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	out, _, err := c.queryAudit(ctx, "read audit", limit, `SELECT `+auditCols+` FROM audit ORDER BY id DESC LIMIT $1`, limit)
	return out, err
}

// FindAudit lists the records matching f in the order they were appended:
// by row id, which follows Seq for chained records (ids are drawn while
// the chain head is locked, so in Seq order) and puts records from before
// the chain first. A listing bounded in time (Since or Until) or of one
// actor (f.Timed) is in event time order instead, ties by row id: the
// index on at, or on actor and at, then yields a page's records in order
// (an incremental sort breaks the ties), where ordering a range by row id
// read and sorted every record in it. The cursor is the last record's row
// id, and event time if timed.
func (c *DB) FindAudit(ctx context.Context, f recvault.AuditFilter) ([]recvault.AuditEvent, string, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !storable(f.Actor, f.RecordingID) {
		return nil, "", nil // no stored record can match
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since.UnixNano()))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(f.Until.UnixNano()))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.RecordingID != "" {
		// Acted on, or among the ids a listing returned (audit_recordings
		// holds them as stored: spelt as JoinRecordingIDs spells them).
		id := recvault.JoinRecordingIDs([]string{f.RecordingID})
		where = append(where, "id IN (SELECT id FROM audit WHERE recording_id = "+arg(f.RecordingID)+
			" UNION SELECT audit_id FROM audit_recordings WHERE recording_id = "+arg(id)+")")
	}
	timed := f.Timed()
	if f.Cursor != "" {
		at, after, err := cursor.DecodeAudit(f.Cursor, timed)
		if err != nil {
			return nil, "", err
		}
		if timed {
			// at >= bounds the index range; the rest skips the ties
			// already listed.
			a := arg(at)
			where = append(where, "at >= "+a+" AND (at > "+a+" OR id > "+arg(after)+")")
		} else {
			where = append(where, "id > "+arg(after))
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
	q += order + " LIMIT " + arg(limit+1)
	out, ids, err := c.queryAudit(ctx, "find audit", limit+1, q, args...)
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

// AuditChain returns up to limit chained records after afterSeq, by Seq.
func (c *DB) AuditChain(ctx context.Context, afterSeq int64, limit int) ([]recvault.AuditEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	out, _, err := c.queryAudit(ctx, "read audit chain", limit,
		`SELECT `+auditCols+` FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	return out, err
}

// AuditHead returns the Seq and Hash of the last record appended.
func (c *DB) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := c.pool.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", recvault.Internal(errors.New("audit head: the audit_head row is missing"))
	} else if err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return seq, hash, nil
}
