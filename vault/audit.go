package vault

import (
	"context"
	"fmt"

	"github.com/recvault/recvault"
)

// record writes one audit record for p (nil: anonymous, or the operator
// under Via "cli"), filling in the time, actor, role, API, client address
// and request id. It returns once the record is durable; a failure is
// logged and returned as an internal error, because an access that cannot
// be recorded must not happen.
func (s *Service) record(ctx context.Context, p *recvault.Principal, e recvault.AuditEvent) error {
	ri := RequestInfoFrom(ctx)
	switch {
	case p != nil && p.User != nil:
		e.Actor, e.Role = p.User.Login, string(p.User.Role)
	case ri.Via == "cli":
		e.Actor = "cli"
	}
	e.At, e.API, e.Remote, e.RequestID = s.now(), ri.Via, ri.Remote, ri.RequestID
	// The audit write must not be lost because the client went away.
	if err := s.cat.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit write failed", "err", err, "action", e.Action, "request_id", ri.RequestID)
		return recvault.Internal(fmt.Errorf("audit: %w", err))
	}
	return nil
}

// audit is record for the common fields.
func (s *Service) audit(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, recID string, outcome recvault.AuditOutcome, detail string) error {
	return s.record(ctx, p, recvault.AuditEvent{Action: action, RecordingID: recID, Outcome: outcome, Detail: detail})
}

// Audit records an attempt that a façade refused before reaching the core.
// Deprecated: façades are moving to core operations that audit themselves.
func (s *Service) Audit(ctx context.Context, p *recvault.Principal, action, recID, outcome, detail string) {
	_ = s.audit(ctx, p, recvault.AuditAction(action), recID, recvault.AuditOutcome(outcome), detail)
}
