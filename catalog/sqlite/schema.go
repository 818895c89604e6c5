package sqlite

// migrations are applied in order, each once, inside one transaction; the
// number of applied migrations is kept in schema_migrations. Append only:
// never edit a migration that has shipped.
var migrations = []string{
	// 1: recordings, users, sessions, audit.
	`
CREATE TABLE recordings (
	id               TEXT PRIMARY KEY,
	campaign_id      INTEGER NOT NULL,
	crt_object_id    TEXT NOT NULL,
	call_id          TEXT NOT NULL,
	agent_id         TEXT NOT NULL,
	kind             TEXT NOT NULL,
	container        TEXT NOT NULL,
	codec            TEXT NOT NULL,
	sample_rate      INTEGER NOT NULL,
	channels         INTEGER NOT NULL,
	agent_channel    INTEGER NOT NULL,
	customer_channel INTEGER NOT NULL,
	started_at       INTEGER NOT NULL, -- unix nanoseconds
	duration_ms      INTEGER NOT NULL,
	size             INTEGER NOT NULL,
	sha256           TEXT NOT NULL,
	blob_key         TEXT NOT NULL,
	original_path    TEXT NOT NULL,
	original_norm    TEXT NOT NULL,   -- NormalizeVendorPath(original_path)
	created_at       INTEGER NOT NULL,
	UNIQUE (campaign_id, crt_object_id)
);
CREATE INDEX recordings_call_agent ON recordings (call_id, agent_id);
CREATE INDEX recordings_original ON recordings (original_norm);
CREATE INDEX recordings_started ON recordings (started_at, id);
CREATE INDEX recordings_agent_started ON recordings (agent_id, started_at);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY,
	login         TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	agent_id      TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL
);
CREATE INDEX users_agent ON users (agent_id);
CREATE TABLE user_campaigns (
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	campaign_id INTEGER NOT NULL,
	PRIMARY KEY (user_id, campaign_id)
);
CREATE TABLE user_inspects (
	user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	agent_id TEXT NOT NULL,
	PRIMARY KEY (user_id, agent_id)
);

CREATE TABLE sessions (
	id         INTEGER PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,
	actor        TEXT NOT NULL,
	action       TEXT NOT NULL,
	recording_id TEXT NOT NULL,
	outcome      TEXT NOT NULL,
	detail       TEXT NOT NULL,
	remote       TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	via          TEXT NOT NULL
);
CREATE INDEX audit_recording ON audit (recording_id, at);
`,
	// 2: where the samples lie in the blob, so serving need not re-parse it.
	`
ALTER TABLE recordings ADD COLUMN data_offset INTEGER NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN data_size INTEGER NOT NULL DEFAULT 0;
`,
	// 3: per-session idle timeouts (CC-Gateway sign-ins idle out after 2 min).
	`
ALTER TABLE sessions ADD COLUMN idle_ns INTEGER NOT NULL DEFAULT 0;
`,
	// 4: API keys for machine clients (Ameyo's token-based authorization policy).
	`
CREATE TABLE api_keys (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	key_hash   TEXT NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	campaigns  TEXT NOT NULL, -- JSON array
	agent_id   TEXT NOT NULL,
	inspects   TEXT NOT NULL, -- JSON array
	hosts      TEXT NOT NULL, -- JSON array
	created_at INTEGER NOT NULL,
	last_used  INTEGER NOT NULL,
	revoked    INTEGER NOT NULL DEFAULT 0
);
`,
	// 5: find a recording by its blob, for the orphan sweep.
	`
CREATE INDEX recordings_blob ON recordings (blob_key);
`,
	// 6: state every replica must share: single-use grants, leases,
	// deployment-wide settings, blobs being written.
	`
CREATE TABLE grants (
	hash         TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	user_id      INTEGER NOT NULL,
	agent_id     TEXT NOT NULL,
	recording_id TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
);
CREATE INDEX grants_expires ON grants (expires_at);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE pending_blobs (
	blob_key   TEXT PRIMARY KEY,
	started_at INTEGER NOT NULL
);
`,
	// 7: the audit trail as a hash chain (seq, prev_hash, hash; audit_head
	// holds the last link and serialises writers), with the fields an
	// auditor asks for. Records from before the chain keep seq NULL.
	`
ALTER TABLE audit ADD COLUMN seq INTEGER;
ALTER TABLE audit ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN recording_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN format TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN byte_range TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_seq ON audit (seq);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
`,
	// 8: failed sign-ins per key (account, account+address, address), for
	// the sign-in throttle every replica applies alike.
	`
CREATE TABLE login_failures (
	key           TEXT PRIMARY KEY,
	failures      INTEGER NOT NULL,
	last_failure  INTEGER NOT NULL,
	blocked_until INTEGER NOT NULL
);
`,
	// 9: retention policies (campaign 0: the default), legal holds (one
	// selector each: campaign, call or recording) and the tombstones of
	// deleted recordings; recordings by content, to tell whether a deleted
	// recording's cached conversions are still some other recording's.
	`
CREATE TABLE retention (
	campaign_id INTEGER PRIMARY KEY,
	days        INTEGER NOT NULL,
	set_by      TEXT NOT NULL,
	set_at      INTEGER NOT NULL
);
CREATE TABLE holds (
	id          INTEGER PRIMARY KEY,
	campaign_id  INTEGER NOT NULL,
	call_id      TEXT NOT NULL,
	recording_id TEXT NOT NULL,
	reason       TEXT NOT NULL,
	held_by      TEXT NOT NULL,
	held_at      INTEGER NOT NULL,
	UNIQUE (campaign_id, call_id, recording_id)
);
CREATE TABLE tombstones (
	recording_id  TEXT PRIMARY KEY,
	campaign_id   INTEGER NOT NULL,
	crt_object_id TEXT NOT NULL,
	call_id       TEXT NOT NULL,
	sha256        TEXT NOT NULL,
	blob_key      TEXT NOT NULL,
	deleted_by    TEXT NOT NULL,
	reason        TEXT NOT NULL,
	deleted_at    INTEGER NOT NULL,
	state         TEXT NOT NULL,
	done_at       INTEGER NOT NULL
);
CREATE INDEX tombstones_state ON tombstones (state, deleted_at);
CREATE INDEX tombstones_at ON tombstones (deleted_at);
CREATE INDEX recordings_sha256 ON recordings (sha256);
`,
	// 10: the recording's wrapped data key (blob/sealed.WrappedKey), kept
	// here rather than in the blob header so that a master key rotation
	// rewrites only this column, and deleting the row crypto-shreds any
	// surviving copy of the blob. NULL: the key is in the blob header, or
	// the blob is not encrypted.
	`
ALTER TABLE recordings ADD COLUMN data_key BLOB;
`,
	// 11: indexes for the lookups and pages the APIs make, so that none
	// sorts or scans more than its answer at tens of millions of rows:
	//   - one campaign newest first, in exactly the ORDER BY and cursor
	//     order (campaign_id, started_at, id), and likewise one agent's
	//     recordings (the old agent index lacked id, so the cursor's tie
	//     break and ORDER BY's second key needed a sort);
	//   - a crtObjectId without its campaign (Ameyo's campaign 0);
	//   - the audit records about a recording that a listing returned
	//     (audit_recordings, one row per listed id; the OR over
	//     recording_ids read every record), and an actor's records in
	//     append order.
	// ANALYZE last: without statistics the planner took the agent index
	// for callId + agent (thousands of rows) over the call index (one or
	// two); the analysis limit keeps it to a sample on a big table.
	`
CREATE INDEX recordings_campaign_started ON recordings (campaign_id, started_at, id);
DROP INDEX recordings_agent_started;
CREATE INDEX recordings_agent_started ON recordings (agent_id, started_at, id);
CREATE INDEX recordings_crt ON recordings (crt_object_id);
CREATE TABLE audit_recordings (
	recording_id TEXT NOT NULL,
	audit_id     INTEGER NOT NULL,
	PRIMARY KEY (recording_id, audit_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_recordings (recording_id, audit_id)
WITH RECURSIVE split (audit_id, rest, rid) AS (
	SELECT id, recording_ids || ' ', '' FROM audit WHERE recording_ids <> ''
	UNION ALL
	SELECT audit_id, substr(rest, instr(rest, ' ') + 1), substr(rest, 1, instr(rest, ' ') - 1)
	FROM split WHERE rest <> ''
)
SELECT rid, audit_id FROM split WHERE rid <> '';
CREATE INDEX audit_actor_id ON audit (actor, id);
PRAGMA analysis_limit = 1000;
ANALYZE;
`,
	// 12: no index on the content hash. Its one query (whether another
	// recording shares a blob's bytes) went when conversions came to be
	// cached by recording; the index cost every ingest a write, about 80
	// bytes per recording, and a minute and a half of a 10 M-row load.
	`
DROP INDEX IF EXISTS recordings_sha256;
`,
	// 13: an actor's records are listed in event-time order through
	// audit_actor (actor, at), as a listing bounded in time is
	// (AuditFilter.Timed), so the index of an actor's records in append
	// order goes: one index fewer to write per audit record.
	`
DROP INDEX IF EXISTS audit_actor_id;
`,
	// 14: the chain is stored in row order: the writer gives each record
	// the row id seq + id_offset, so the chain walk (AuditChain) reads the
	// table itself in id order and the unique index on seq goes, one index
	// write fewer per audit record (BenchmarkAppendAudit: 31.0 → 29.2 µs of
	// CPU a record; a few per cent of a small download's). Every writer since migration 7 appended records at
	// max(id) + 1 with seq at head + 1 in the same transaction, and no
	// record is ever deleted, so id - seq was already the same for every
	// chained record: the offset is read off the head (0 on a catalogue
	// created since; the count of older, unchained records otherwise).
	// The row id, unique, keeps sequence numbers unique.
	`
ALTER TABLE audit_head ADD COLUMN id_offset INTEGER NOT NULL DEFAULT 0;
UPDATE audit_head SET id_offset = (SELECT COALESCE(MAX(id), 0) FROM audit) - seq WHERE id = 1;
DROP INDEX audit_seq;
`,
}
