package recvault

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// AuditAction names what an audited request tried to do.
type AuditAction string

// The audited actions. Every access attempt to a recording or its
// metadata, every sign-in and sign-out and every administrative change is
// one of these.
const (
	ActionList            AuditAction = "list"             // a listing or search of recordings
	ActionMetadata        AuditAction = "metadata"         // one recording's metadata
	ActionDownload        AuditAction = "download"         // a recording's bytes (any format, any API)
	ActionPlay            AuditAction = "play"             // a recording's bytes for playback (Ameyo playVoiceLog)
	ActionArchiveDownload AuditAction = "archive-download" // Ameyo's archive download
	ActionDownloadToken   AuditAction = "download-token"   // CC-Gateway two-step download, step one
	ActionIngest          AuditAction = "ingest"
	ActionLogin           AuditAction = "login"
	ActionLogout          AuditAction = "logout"
	ActionAPIKeyUse       AuditAction = "apikey-use"      // a request authenticated by an API key
	ActionUserAdmin       AuditAction = "user-admin"      // user added, changed, disabled, password set
	ActionKeyAdmin        AuditAction = "apikey-admin"    // API key added or revoked
	ActionRequest         AuditAction = "request"         // a request refused before its action was known
	ActionAuditRead       AuditAction = "audit-read"      // the audit trail itself was read or exported
	ActionSuppressed      AuditAction = "suppressed"      // a summary of a flood of unauthenticated attempts
	ActionDelete          AuditAction = "delete"          // a recording destroyed (by request or by the purge)
	ActionPurge           AuditAction = "purge"           // a retention purge run (or dry run), summarised
	ActionRetentionAdmin  AuditAction = "retention-admin" // a retention policy set or cleared
	ActionHoldAdmin       AuditAction = "hold-admin"      // a legal hold added or removed
	ActionScrub           AuditAction = "scrub"           // an integrity scrub of every recording, summarised
	ActionStorageAdmin    AuditAction = "storage-admin"   // a master key rotation or a blob migration run, summarised
)

// AuditOutcome is how an audited attempt ended.
type AuditOutcome string

const (
	OutcomeGranted  AuditOutcome = "granted"
	OutcomeDenied   AuditOutcome = "denied"    // authenticated but not permitted, or not authenticated
	OutcomeNotFound AuditOutcome = "not_found" // nothing under the identifiers asked for
	OutcomeInvalid  AuditOutcome = "invalid"   // a malformed request
	OutcomeError    AuditOutcome = "error"     // the server failed (storage, conversion, integrity)
)

// AuditEvent is one record of the audit trail.
type AuditEvent struct {
	// Seq is the record's place in the chain (1, 2, …), set when stored.
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"` // login, "apikey:NAME", "cli", or "" when unauthenticated
	Role  string    `json:"role,omitempty"`
	API   string    `json:"api,omitempty"` // v1, ameyo, ccgw, cli
	// Action and Outcome say what was tried and how it ended.
	Action  AuditAction  `json:"action"`
	Outcome AuditOutcome `json:"outcome"`
	// RecordingID is the recording acted on; RecordingIDs the recordings a
	// listing returned; Subject the identifiers the request named (for a
	// recording that was not found, or a listing's filter).
	RecordingID  string   `json:"recordingId,omitempty"`
	RecordingIDs []string `json:"recordingIds,omitempty"`
	Subject      string   `json:"subject,omitempty"`
	Format       string   `json:"format,omitempty"` // output served
	Range        string   `json:"range,omitempty"`  // byte range asked for, as sent
	Detail       string   `json:"detail,omitempty"`
	Remote       string   `json:"remote,omitempty"`
	RequestID    string   `json:"requestId,omitempty"`
	// PrevHash and Hash chain the record to the one before it: Hash is the
	// SHA-256 of the canonical record and PrevHash.
	PrevHash string `json:"prevHash,omitempty"`
	Hash     string `json:"hash,omitempty"`
}

// auditHashDomain starts every hashed record, so that a hash of this
// encoding can never be mistaken for a hash of anything else.
const auditHashDomain = "recvault-audit-v1"

// ChainHash returns the hash that links e to the record before it, whose
// Hash is prev ("" for the first record of the chain): the lower-case hex
// SHA-256 of the canonical encoding of every field of e except Hash (and
// PrevHash, for which prev stands).
//
// The encoding is a sequence of fields, each written as its length in
// bytes (8 bytes, big-endian) followed by its bytes, so that no choice of
// field contents can make two different records encode alike. In order:
//
//	"recvault-audit-v1"
//	Seq, as decimal ASCII
//	At, as decimal ASCII unix nanoseconds (0 for the zero time)
//	Actor, Role, API, Action, Outcome, RecordingID
//	the number of RecordingIDs, as decimal ASCII, then each id
//	Subject, Format, Range, Detail, Remote, RequestID
//	prev
//
// Strings are hashed as the bytes stored, so an auditor holding only a
// database export can recompute every link (e.g. with a few lines of any
// language) and needs no key: the chain proves order and completeness
// relative to a trusted later hash (audit_head, a checkpoint), not
// authorship.
func (e *AuditEvent) ChainHash(prev string) string {
	// The fields are laid out in one buffer and hashed at once, on the
	// stack for a usual record: a hash.Hash fed field by field, a []byte
	// per string and a decimal string per number were a dozen
	// allocations a record, in the audit writer's commit.
	var stack [1024]byte
	b := stack[:0]
	field := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	number := func(v int64) {
		var d [20]byte
		s := strconv.AppendInt(d[:0], v, 10)
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	at := int64(0)
	if !e.At.IsZero() {
		at = e.At.UnixNano()
	}
	field(auditHashDomain)
	number(e.Seq)
	number(at)
	for _, s := range [...]string{e.Actor, e.Role, e.API, string(e.Action), string(e.Outcome), e.RecordingID} {
		field(s)
	}
	number(int64(len(e.RecordingIDs)))
	for _, id := range e.RecordingIDs {
		field(id)
	}
	for _, s := range [...]string{e.Subject, e.Format, e.Range, e.Detail, e.Remote, e.RequestID, prev} {
		field(s)
	}
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// JoinRecordingIDs is how a catalog stores AuditEvent.RecordingIDs: one
// text of the ids separated by single spaces. Empty ids are left out and a
// space inside an id becomes "_", so that SplitRecordingIDs gives back
// exactly what a catalog hashed; catalogs normalise RecordingIDs through
// both before hashing.
func JoinRecordingIDs(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		if id == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ReplaceAll(id, " ", "_"))
	}
	return b.String()
}

// SplitRecordingIDs reads what JoinRecordingIDs wrote (nil for "").
func SplitRecordingIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// AuditFilter selects audit records for FindAudit. Zero fields do not
// filter.
type AuditFilter struct {
	Since time.Time // records at or after
	Until time.Time // records before
	// RecordingID matches records about that recording: acted on, or
	// among the ids a listing returned.
	RecordingID string
	Actor       string
	// Cursor resumes after the last record of a previous page.
	Cursor string
	Limit  int // default 100, at most 1000
}

// Timed reports whether f's listing is in event-time order (ties in
// append order): one bounded in time, or one actor's. Any other is in
// append order. Either way a page is read from one index range: the
// catalogues index the time, and the actor with the time. An actor's
// records were once in append order through an index of their own, the
// actor with the row id; it cost every audit record a sixth index write
// (BenchmarkAppendAudit: 58.6 against 43.6 µs of CPU a record with 300
// actors), for an order that differs from event time only where two
// requests' records were committed out of their times' order.
func (f AuditFilter) Timed() bool { return !f.Since.IsZero() || !f.Until.IsZero() || f.Actor != "" }

// AuditPageLimit returns the page size f asks for: 100 by default, at
// most 1000.
func (f AuditFilter) AuditPageLimit() int {
	switch {
	case f.Limit <= 0:
		return 100
	case f.Limit > 1000:
		return 1000
	}
	return f.Limit
}
