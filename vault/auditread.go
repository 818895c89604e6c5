package vault

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
)

// AuditLog returns one page of the audit trail matching f, in the order
// the records were appended (by event time if f is Timed), and the
// cursor of the next page ("" at the end). Only admins, and the operator at the CLI (p nil under Via "cli"),
// may read it; anyone else is EFORBIDDEN. Every read is itself audited
// (ActionAuditRead, with the filter as Subject), and the page is returned
// only once that record is durable: reading who listened to what leaves a
// trace like listening does.
func (s *Service) AuditLog(ctx context.Context, p *recvault.Principal, f recvault.AuditFilter) ([]recvault.AuditEvent, string, error) {
	subject := auditSubject(f)
	operator := p == nil && RequestInfoFrom(ctx).Via == "cli"
	if !operator && (p == nil || p.User == nil || p.User.Disabled || p.User.Role != recvault.RoleAdmin) {
		if err := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionAuditRead, Subject: subject,
			Outcome: recvault.OutcomeDenied, Detail: "not an admin"}); err != nil {
			return nil, "", err
		}
		return nil, "", recvault.Errorf(recvault.EFORBIDDEN, "only admins may read the audit trail")
	}
	events, next, err := s.cat.FindAudit(ctx, f)
	if err != nil {
		outcome := recvault.OutcomeError
		if recvault.ErrorCode(err) == recvault.EINVALID {
			outcome = recvault.OutcomeInvalid
		}
		if aerr := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionAuditRead, Subject: subject,
			Outcome: outcome, Detail: recvault.ErrorMessage(err)}); aerr != nil {
			return nil, "", aerr
		}
		return nil, "", err
	}
	if err := s.record(ctx, p, recvault.AuditEvent{Action: recvault.ActionAuditRead, Subject: subject,
		Outcome: recvault.OutcomeGranted, Detail: pageDetail(len(events), next)}); err != nil {
		return nil, "", err
	}
	return events, next, nil
}

// auditSubject spells a filter for the audit record of the read.
func auditSubject(f recvault.AuditFilter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	if !f.Since.IsZero() {
		add("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		add("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	add("recording", f.RecordingID)
	add("actor", f.Actor)
	if f.Cursor != "" {
		add("cursor", "yes")
	}
	return strings.Join(parts, " ")
}

func pageDetail(n int, next string) string {
	d := strconv.Itoa(n) + " records"
	if next != "" {
		d += ", more follow"
	}
	return d
}
