package recvault

import "time"

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
	ActionAPIKeyUse       AuditAction = "apikey-use"   // a request authenticated by an API key
	ActionUserAdmin       AuditAction = "user-admin"   // user added, changed, disabled, password set
	ActionKeyAdmin        AuditAction = "apikey-admin" // API key added or revoked
	ActionRequest         AuditAction = "request"      // a request refused before its action was known
	ActionAuditRead       AuditAction = "audit-read"   // the audit trail itself was read or exported
	ActionSuppressed      AuditAction = "suppressed"   // a summary of a flood of unauthenticated attempts
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
