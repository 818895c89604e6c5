package vault

import (
	"context"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
)

// CreateAPIKey stores a new key and returns its secret, which is shown
// once: only its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, k *recvault.APIKey) (string, error) {
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
func (s *Service) RevokeAPIKey(ctx context.Context, name string) error {
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
		s.Audit(ctx, nil, "apikey", "", "denied", "unknown key")
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if !auth.TokenMatches(secret, k.KeyHash) || k.Revoked {
		s.Audit(ctx, k.Principal(), "apikey", "", "denied", "revoked key")
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
			s.Audit(ctx, k.Principal(), "apikey", "", "denied", "requesting host not allowed")
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
	return k.Principal(), nil
}
