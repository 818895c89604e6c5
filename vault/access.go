package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
	"github.com/recvault/recvault/media"
)

// The read operations of the core. Each takes the principal, applies the
// one access rule (recvault.Principal.MayAccess), writes the audit record
// and answers a recording the caller may not see exactly as one that does
// not exist: ENOTFOUND "recording not found", so that no API tells a prober
// that an id, a crtObjectId or a call exists. The audit trail still records
// a denial as a denial. Façades only translate these errors.

// errNotFound is the one answer for missing and forbidden recordings.
func errNotFound() error { return recvault.Errorf(recvault.ENOTFOUND, "recording not found") }

// Want is what a façade asks of a download.
type Want struct {
	// Action is audited; default ActionDownload (ActionPlay for playback,
	// ActionArchiveDownload for Ameyo's archive path).
	Action recvault.AuditAction
	// Subject is the identifiers as the client named them (for the audit
	// record of a recording that is not found).
	Subject string
	Media   media.Request
	// Range is the client's Range header ("" for none): audited, and an
	// output of unknown size is then converted whole before answering.
	Range string
	// Whole asks for the same even without a Range (CC-Gateway answers
	// always carry a Content-Length).
	Whole bool
	// Playback names one playback (ActionPlay only): a player's Range
	// requests that carry the same id, in the same session, for the same
	// output, are one play and are audited once, not once per request. It
	// is a random id the page makes, not a credential: every request is
	// still authenticated and authorised. "" audits every request.
	Playback string
}

func (w Want) action() recvault.AuditAction {
	if w.Action == "" {
		return recvault.ActionDownload
	}
	return w.Action
}

// Recording returns recording id's metadata if p may see it.
func (s *Service) Recording(ctx context.Context, p *recvault.Principal, id string) (*recvault.Recording, error) {
	r, err := s.byID(ctx, p, recvault.ActionMetadata, id)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionMetadata, RecordingID: r.ID, Outcome: recvault.OutcomeGranted}); err != nil {
		return nil, err
	}
	return r, nil
}

// byID finds recording id for p, auditing a miss or a denial.
func (s *Service) byID(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, id string) (*recvault.Recording, error) {
	r, err := s.cat.Recording(ctx, id)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: action, Subject: "id=" + id, Outcome: recvault.OutcomeNotFound})
	} else if err != nil {
		return nil, s.failed(ctx, p, action, "id="+id, err)
	}
	if !p.MayAccess(r) {
		return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: action, RecordingID: r.ID, Outcome: recvault.OutcomeDenied, Detail: "not permitted"})
	}
	return r, nil
}

// refuse audits a refusal and returns the not-found answer.
func (s *Service) refuse(ctx context.Context, p *recvault.Principal, e recvault.AuditEvent) error {
	if err := s.record(ctx, p, e); err != nil {
		return err
	}
	return errNotFound()
}

// note records e for a request that already fails with an error of its
// own: a failure to record is logged by record and does not replace that
// error.
func (s *Service) note(ctx context.Context, p *recvault.Principal, e recvault.AuditEvent) {
	if err := s.record(ctx, p, e); err != nil {
		s.log.Warn("audit of a failed request not recorded", "action", e.Action, "err", err)
	}
}

// failed audits an internal failure and returns it.
func (s *Service) failed(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, subject string, err error) error {
	s.note(ctx, p, recvault.AuditEvent{Action: action, Subject: subject, Outcome: recvault.OutcomeError, Detail: "internal error"})
	return err
}

// List returns the recordings p may see that match f, newest first, and
// audits the search with its filter and every id it returned.
func (s *Service) List(ctx context.Context, p *recvault.Principal, f recvault.RecordingFilter) ([]*recvault.Recording, string, error) {
	f.Scope = p.Scope()
	subject := filterText(f)
	recs, next, err := s.cat.FindRecordings(ctx, f)
	if err != nil {
		outcome := recvault.OutcomeError
		if recvault.ErrorCode(err) == recvault.EINVALID {
			outcome = recvault.OutcomeInvalid
		}
		s.note(ctx, p, recvault.AuditEvent{Action: recvault.ActionList, Subject: subject, Outcome: outcome, Detail: recvault.ErrorMessage(err)})
		return nil, "", err
	}
	// Belt and braces: the catalog filtered by scope; the rule decides.
	out := recs[:0]
	ids := make([]string, 0, len(recs))
	for _, r := range recs {
		if p.MayAccess(r) {
			out = append(out, r)
			ids = append(ids, r.ID)
		}
	}
	if err := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionList, Subject: subject, RecordingIDs: ids,
		Outcome: recvault.OutcomeGranted, Detail: strconv.Itoa(len(ids)) + " results"}); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// filterText renders a listing's filter for the audit trail.
func filterText(f recvault.RecordingFilter) string {
	var b []string
	add := func(k, v string) {
		if v != "" {
			b = append(b, k+"="+v)
		}
	}
	if f.CampaignID != 0 {
		add("campaign", strconv.FormatInt(f.CampaignID, 10))
	}
	add("agent", f.AgentID)
	add("call", f.CallID)
	add("crtObjectId", f.CRTObject)
	add("kind", string(f.Kind))
	add("originalPath", f.OriginalPath)
	if !f.From.IsZero() {
		add("from", f.From.Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		add("to", f.To.Format(time.RFC3339))
	}
	if f.MinDuration > 0 {
		add("minDuration", f.MinDuration.String())
	}
	if f.MaxDuration > 0 {
		add("maxDuration", f.MaxDuration.String())
	}
	if f.Cursor != "" {
		add("cursor", "…")
	}
	return strings.Join(b, " ")
}

// DownloadByID prepares recording id's output for p (native API).
func (s *Service) DownloadByID(ctx context.Context, p *recvault.Principal, id string, w Want) (*Download, error) {
	r, err := s.byID(ctx, p, w.action(), id)
	if err != nil {
		return nil, err
	}
	return s.Download(ctx, p, r, w)
}

// DownloadByIdentity prepares the recording stored under (campaign,
// crtObjectId) for p, whose call id must be callID when that is given
// (Ameyo). campaign 0 means any campaign p may see; a crtObjectId in
// several of those is EINVALID.
func (s *Service) DownloadByIdentity(ctx context.Context, p *recvault.Principal, campaign int64, crt, callID string, w Want) (*Download, error) {
	if w.Subject == "" {
		w.Subject = "campaign=" + strconv.FormatInt(campaign, 10) + " crtObjectId=" + crt + " callId=" + callID
	}
	var r *recvault.Recording
	if campaign != 0 {
		found, err := s.cat.RecordingByIdentity(ctx, campaign, crt)
		if recvault.ErrorCode(err) == recvault.ENOTFOUND {
			return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: w.action(), Subject: w.Subject, Outcome: recvault.OutcomeNotFound})
		} else if err != nil {
			return nil, s.failed(ctx, p, w.action(), w.Subject, err)
		}
		r = found
	} else {
		recs, _, err := s.cat.FindRecordings(ctx, recvault.RecordingFilter{CRTObject: crt, Scope: p.Scope(), Limit: 2})
		if err != nil {
			return nil, s.failed(ctx, p, w.action(), w.Subject, err)
		}
		switch len(recs) {
		case 0:
			return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: w.action(), Subject: w.Subject, Outcome: recvault.OutcomeNotFound})
		case 1:
			r = recs[0]
		default:
			s.note(ctx, p, recvault.AuditEvent{Action: w.action(), Subject: w.Subject, Outcome: recvault.OutcomeInvalid, Detail: "crtObjectId in several campaigns"})
			return nil, recvault.Errorf(recvault.EINVALID, "crtObjectId is in several campaigns: add campaignId")
		}
	}
	if !p.MayAccess(r) {
		return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: w.action(), RecordingID: r.ID, Subject: w.Subject, Outcome: recvault.OutcomeDenied, Detail: "not permitted"})
	}
	if callID != "" && callID != r.CallID {
		return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: w.action(), RecordingID: r.ID, Subject: w.Subject, Outcome: recvault.OutcomeNotFound, Detail: "callId does not match"})
	}
	return s.Download(ctx, p, r, w)
}

// Locate returns the newest recording matching f that p may access, for an
// operation on it (CC-Gateway's lookups by call or recorder path, the
// archive download, the two-step token). A miss or a denial is audited
// under action and answered ENOTFOUND; a hit is not audited here (the
// operation that follows audits it).
func (s *Service) Locate(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, subject string, f recvault.RecordingFilter) (*recvault.Recording, error) {
	f.Scope = recvault.Scope{All: true}
	f.Limit = 20
	recs, _, err := s.cat.FindRecordings(ctx, f)
	if err != nil {
		return nil, s.failed(ctx, p, action, subject, err)
	}
	for _, r := range recs {
		if p.MayAccess(r) {
			return r, nil
		}
	}
	e := recvault.AuditEvent{Action: action, Subject: subject, Outcome: recvault.OutcomeNotFound}
	if len(recs) > 0 {
		e.Outcome, e.RecordingID, e.Detail = recvault.OutcomeDenied, recs[0].ID, "not permitted"
	}
	return nil, s.refuse(ctx, p, e)
}

// DownloadMatching prepares the newest recording matching f that p may
// access.
func (s *Service) DownloadMatching(ctx context.Context, p *recvault.Principal, f recvault.RecordingFilter, w Want) (*Download, error) {
	r, err := s.Locate(ctx, p, w.action(), w.Subject, f)
	if err != nil {
		return nil, err
	}
	return s.Download(ctx, p, r, w)
}

// IssueDownloadGrant is the first step of a two-step download: it locates
// the recording matching f for p and returns a single-use token for it
// (see IssueGrant), audited as a download token.
func (s *Service) IssueDownloadGrant(ctx context.Context, p *recvault.Principal, kind, agentID, subject string, f recvault.RecordingFilter, ttl time.Duration) (string, *recvault.Recording, error) {
	r, err := s.Locate(ctx, p, recvault.ActionDownloadToken, subject, f)
	if err != nil {
		return "", nil, err
	}
	t, err := s.IssueGrant(ctx, kind, p.User, agentID, r, ttl)
	if err != nil {
		return "", nil, s.failed(ctx, p, recvault.ActionDownloadToken, subject, err)
	}
	if err := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionDownloadToken, RecordingID: r.ID, Outcome: recvault.OutcomeGranted}); err != nil {
		return "", nil, err
	}
	return t, r, nil
}

// DownloadGrant is the second step: it redeems token for agentID and
// prepares the recording for the user it was issued to (who must still be
// allowed it). A bad token is ENOTFOUND "token …", audited.
func (s *Service) DownloadGrant(ctx context.Context, kind, token, agentID string, w Want) (*Download, error) {
	u, r, err := s.RedeemGrant(ctx, kind, token, agentID)
	if u == nil {
		if recvault.ErrorCode(err) == recvault.ENOTFOUND {
			s.note(ctx, nil, recvault.AuditEvent{Action: w.action(), Subject: "token", Outcome: recvault.OutcomeDenied, Detail: "bad download token"})
		}
		return nil, err
	}
	p := &recvault.Principal{User: u}
	if err != nil {
		if recvault.ErrorCode(err) == recvault.ENOTFOUND {
			return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: w.action(), Subject: "token", Outcome: recvault.OutcomeNotFound})
		}
		return nil, s.failed(ctx, p, w.action(), "token", err)
	}
	return s.Download(ctx, p, r, w)
}

// ErrBadToken is wrapped by the ENOTFOUND answer for a two-step download
// token that is unknown, expired, reused or another agent's.
var ErrBadToken = errors.New("bad download token")

// IsTokenError tells a bad two-step token (any reason) from a recording not
// found, for façades whose vendor codes differ.
func IsTokenError(err error) bool {
	return recvault.ErrorCode(err) == recvault.ENOTFOUND && errors.Is(err, ErrBadToken)
}

// verifyingStore is a blob store that verifies what it reads (blob/sealed),
// given the catalogue's SHA-256 for blobs stored before verification.
type verifyingStore interface {
	OpenVerified(ctx context.Context, key, sha string) (recvault.Blob, error)
}

// sealingStore is a blob store (blob/sealed with a key ring) that hands the
// wrapped data key of what it writes to the caller instead of keeping it in
// the blob header. The vault keeps that key in the recording's row, so that
// a master key rotation rewrites the row and never the blob, and deleting
// the row crypto-shreds any copy of the blob that survives it.
type sealingStore interface {
	verifyingStore
	Encrypting() bool
	PutSealed(ctx context.Context, key, recordingID string, r io.Reader) (recvault.BlobInfo, sealed.WrappedKey, error)
	OpenSealed(ctx context.Context, key, recordingID string, wk sealed.WrappedKey, opts ...sealed.OpenOption) (recvault.Blob, error)
}

// openRecordingBlob opens r's bytes the one way every reader of a
// recording (download, ingest's probe, scrub) must: with the catalogue's
// data key when the row has one (the blob header has none), else as Put
// wrote it, verified against the catalogue's SHA-256 when the store can.
// It returns the store's error unwrapped, for callers that must tell
// ErrIntegrity from ENOTFOUND.
func (s *Service) openRecordingBlob(ctx context.Context, r *recvault.Recording) (recvault.Blob, error) {
	if r.DataKey != nil {
		ss, ok := s.blobs.(sealingStore)
		if !ok {
			return nil, fmt.Errorf("recording %s has a data key but the blob store does not encrypt", r.ID)
		}
		return ss.OpenSealed(ctx, r.BlobKey, r.ID, sealed.WrappedKey(r.DataKey), sealed.Expect(r.SHA256))
	}
	if vs, ok := s.blobs.(verifyingStore); ok {
		return vs.OpenVerified(ctx, r.BlobKey, r.SHA256)
	}
	return s.blobs.Open(ctx, r.BlobKey)
}

// openBlob opens r's bytes, verified when the store can, and checks their
// size against the catalog.
func (s *Service) openBlob(ctx context.Context, r *recvault.Recording) (recvault.Blob, error) {
	b, err := s.openRecordingBlob(ctx, r)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		// The row may be a cached copy older than a blob migration made
		// by another process (catalog/cached): read it afresh once.
		if f, ok := s.cat.(interface{ Forget(id string) }); ok {
			f.Forget(r.ID)
			if fresh, ferr := s.cat.Recording(ctx, r.ID); ferr == nil && (fresh.BlobKey != r.BlobKey || !bytes.Equal(fresh.DataKey, r.DataKey)) {
				*r = *fresh
				b, err = s.openRecordingBlob(ctx, r)
			}
		}
	}
	if err != nil {
		return nil, recvault.Internal(fmt.Errorf("%w: open blob of recording %s: %w", ErrStorage, r.ID, err))
	}
	if b.Size() != r.Size {
		b.Close()
		return nil, recvault.Internal(fmt.Errorf("%w: blob of recording %s has %d bytes, catalog says %d", ErrStorage, r.ID, b.Size(), r.Size))
	}
	return b, nil
}

// OperatorRecording returns the recording stored under (campaign,
// crtObjectId) for the operator at the data (the CLI's resumable import),
// who may read everything; no network API reaches it.
func (s *Service) OperatorRecording(ctx context.Context, campaign int64, crt string) (*recvault.Recording, error) {
	if RequestInfoFrom(ctx).Via != "cli" {
		return nil, recvault.Errorf(recvault.EFORBIDDEN, "operator lookups are for the command line")
	}
	return s.cat.RecordingByIdentity(ctx, campaign, crt)
}
