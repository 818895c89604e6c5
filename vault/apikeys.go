package vault

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
)

// CreateAPIKey stores a new key and returns its secret, which is shown
// once: only its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, k *recvault.APIKey) (_ string, err error) {
	defer s.administered(ctx, recvault.ActionKeyAdmin, "add key "+k.Name+" role "+string(k.Role), &err)
	u := recvault.User{Login: "apikey:" + k.Name, Role: k.Role, AgentID: k.AgentID, Campaigns: k.Campaigns, Inspects: k.Inspects}
	if err := u.Validate(); err != nil {
		return "", err
	}
	for _, h := range k.Hosts {
		if h == "" || strings.ContainsAny(h, " /\\") {
			return "", recvault.Errorf(recvault.EINVALID, "host %q is not a host name", h)
		}
	}
	secret := "rvk_" + auth.NewToken(32)
	k.KeyHash = auth.HashToken(secret)
	k.CreatedAt = s.now()
	if err := s.cat.CreateAPIKey(ctx, k); err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeAPIKey revokes the key named name.
func (s *Service) RevokeAPIKey(ctx context.Context, name string) (err error) {
	defer s.administered(ctx, recvault.ActionKeyAdmin, "revoke key "+name, &err)
	keys, err := s.cat.APIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Name == name {
			k.Revoked = true
			return s.cat.UpdateAPIKey(ctx, k)
		}
	}
	return recvault.Errorf(recvault.ENOTFOUND, "no API key named %s", name)
}

// APIKeys lists the keys (without secrets).
func (s *Service) APIKeys(ctx context.Context) ([]*recvault.APIKey, error) { return s.cat.APIKeys(ctx) }

// AuthenticateKey turns an API key into the principal it acts as. A key
// bound to hosts is accepted only with one of them as requestingHost.
// Unknown, revoked and wrong-host keys are EUNAUTHENTICATED, audited.
func (s *Service) AuthenticateKey(ctx context.Context, secret, requestingHost string) (*recvault.Principal, error) {
	bad := recvault.Errorf(recvault.EUNAUTHENTICATED, "invalid API key")
	if secret == "" || len(secret) > 512 {
		return nil, bad
	}
	k, err := s.cat.APIKeyByHash(ctx, auth.HashToken(secret))
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		if err := s.audit(ctx, nil, recvault.ActionAPIKeyUse, "", recvault.OutcomeDenied, "unknown key"); err != nil {
			return nil, err
		}
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if !auth.TokenMatches(secret, k.KeyHash) || k.Revoked {
		if err := s.audit(ctx, k.Principal(), recvault.ActionAPIKeyUse, "", recvault.OutcomeDenied, "revoked key"); err != nil {
			return nil, err
		}
		return nil, bad
	}
	if len(k.Hosts) > 0 {
		ok := false
		for _, h := range k.Hosts {
			if strings.EqualFold(h, strings.TrimSpace(requestingHost)) {
				ok = true
			}
		}
		if !ok {
			if err := s.audit(ctx, k.Principal(), recvault.ActionAPIKeyUse, "", recvault.OutcomeDenied, "requesting host not allowed"); err != nil {
				return nil, err
			}
			return nil, bad
		}
	}
	now := s.now()
	if now.Sub(k.LastUsed) > time.Minute {
		k.LastUsed = now
		if err := s.cat.UpdateAPIKey(ctx, k); err != nil {
			s.log.Warn("record api key use", "err", err)
		}
	}
	p := k.Principal()
	if err := s.audit(ctx, p, recvault.ActionAPIKeyUse, "", recvault.OutcomeGranted, "key "+k.Name); err != nil {
		return nil, err
	}
	return p, nil
}

// AuthenticateNetwork is the principal of a credential-free request from
// an allow-listed network (old Ameyo archive clients send none): an admin
// named after the address, for that one request, audited. A request from
// elsewhere is EUNAUTHENTICATED, audited.
func (s *Service) AuthenticateNetwork(ctx context.Context, addr netip.Addr, allow []netip.Prefix) (*recvault.Principal, error) {
	for _, p := range allow {
		if addr.IsValid() && p.Contains(addr) {
			pr := &recvault.Principal{User: &recvault.User{Login: "network:" + addr.String(), Role: recvault.RoleAdmin}}
			if err := s.record(ctx, pr, recvault.AuditEvent{Action: recvault.ActionRequest, Subject: RequestInfoFrom(ctx).Route,
				Outcome: recvault.OutcomeGranted, Detail: "allow-listed network " + p.String()}); err != nil {
				return nil, err
			}
			return pr, nil
		}
	}
	if err := s.record(ctx, nil, recvault.AuditEvent{Action: recvault.ActionRequest, Subject: RequestInfoFrom(ctx).Route,
		Outcome: recvault.OutcomeDenied, Detail: "no credentials, network not allowed"}); err != nil {
		return nil, err
	}
	return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "needs an API key or an allowed network")
}
