package vault

import (
	"context"
	"errors"

	"github.com/recvault/recvault"
)

// The rules of whose calls a signed-in agent or inspector may ask for by
// work number (CC-Gateway's workNo). They depend only on the request and
// the principal's assignments, never on what is stored, so their refusals
// reveal nothing about recordings; the recording found afterwards is still
// checked by the access rule.
var (
	ErrWorkNoNeeded  = errors.New("an inspector must name the inspected agent")
	ErrInspectSelf   = errors.New("an inspector cannot inspect itself")
	ErrNotInspected  = errors.New("agent not assigned to this inspector")
	ErrAnotherAgents = errors.New("an agent asked for another agent's calls")
)

// CallsOf decides whose calls p's request is about: workNo as given (""
// for none; must already be a well-formed work number) and whether the
// call needs one (an inspector's voice download). It returns the agent id
// to search ("" = any the principal may see) or an error wrapping one of
// the Err values above (EINVALID for ErrWorkNoNeeded, EFORBIDDEN for the
// others), audited under action.
func (s *Service) CallsOf(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, workNo string, needWorkNo bool) (string, error) {
	u := p.User
	refuse := func(code string, why error) (string, error) {
		outcome := recvault.OutcomeDenied
		if code == recvault.EINVALID {
			outcome = recvault.OutcomeInvalid
		}
		if err := s.record(ctx, p, recvault.AuditEvent{Action: action, Subject: "workNo=" + workNo, Outcome: outcome, Detail: why.Error()}); err != nil {
			return "", err
		}
		return "", &recvault.Error{Code: code, Message: why.Error(), Err: why}
	}
	switch u.Role {
	case recvault.RoleInspector:
		if workNo == "" {
			if needWorkNo {
				return refuse(recvault.EINVALID, ErrWorkNoNeeded)
			}
			return "", nil // any inspected agent; the recording decides
		}
		if workNo == u.AgentID {
			return refuse(recvault.EFORBIDDEN, ErrInspectSelf)
		}
		for _, a := range u.Inspects {
			if a == workNo {
				return workNo, nil
			}
		}
		return refuse(recvault.EFORBIDDEN, ErrNotInspected)
	case recvault.RoleAgent:
		if workNo != "" && workNo != u.AgentID {
			return refuse(recvault.EFORBIDDEN, ErrAnotherAgents)
		}
		return u.AgentID, nil
	}
	if workNo != "" {
		return workNo, nil
	}
	return u.AgentID, nil
}

// Refuse records a request a façade could not parse (a missing or
// malformed parameter, an unsafe path) as the attempt it was, and returns
// the EINVALID error to answer with. subject is what the request named,
// reason the client-safe message.
func (s *Service) Refuse(ctx context.Context, p *recvault.Principal, action recvault.AuditAction, subject, reason string) error {
	if err := s.record(ctx, p, recvault.AuditEvent{Action: action, Subject: clip(subject, 300), Outcome: recvault.OutcomeInvalid, Detail: reason}); err != nil {
		return err
	}
	return recvault.Errorf(recvault.EINVALID, "%s", reason)
}
