package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
)

// IssueGrant gives a single-use token that lets agentID's user u fetch
// recording rec once within ttl, on any replica: the grant lives in the
// catalog under the token's SHA-256, never in one process.
func (s *Service) IssueGrant(ctx context.Context, kind string, u *recvault.User, agentID string, rec *recvault.Recording, ttl time.Duration) (string, error) {
	token := auth.NewToken(32)
	now := s.now()
	g := &recvault.Grant{Hash: auth.HashToken(token), Kind: kind, UserID: u.ID, AgentID: agentID,
		RecordingID: rec.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.cat.CreateGrant(ctx, g); err != nil {
		return "", fmt.Errorf("issue grant: %w", err)
	}
	return token, nil
}

// RedeemGrant consumes a token IssueGrant made for agentID and returns the
// user it was issued to (read again: it must still be enabled and still be
// that agent) and the recording. Any failure — unknown, expired, reused,
// another agent's or another kind's token, a disabled user — is ENOTFOUND;
// at most one request ever redeems a token.
func (s *Service) RedeemGrant(ctx context.Context, kind, token, agentID string) (*recvault.User, *recvault.Recording, error) {
	bad := &recvault.Error{Code: recvault.ENOTFOUND, Message: "token invalid, expired or already used", Err: ErrBadToken}
	if token == "" || len(token) > 512 {
		return nil, nil, bad
	}
	g, err := s.cat.TakeGrant(ctx, auth.HashToken(token), agentID, s.now())
	if recvault.ErrorCode(err) == recvault.ENOTFOUND {
		return nil, nil, bad
	} else if err != nil {
		return nil, nil, err
	}
	if g.Kind != kind {
		return nil, nil, bad
	}
	u, err := s.cat.UserByID(ctx, g.UserID)
	if recvault.ErrorCode(err) == recvault.ENOTFOUND || (err == nil && (u.Disabled || u.AgentID != agentID)) {
		return nil, nil, bad
	} else if err != nil {
		return nil, nil, err
	}
	rec, err := s.cat.Recording(ctx, g.RecordingID)
	if err != nil {
		return u, nil, err
	}
	return u, rec, nil
}

// DeploymentValue returns the value every replica of this deployment uses
// under name, making it with mk when no replica has yet (the first one to
// store it wins). For identifiers the vendor makes once per server, such
// as the prefix of Ameyo session ids.
func (s *Service) DeploymentValue(ctx context.Context, name string, mk func() string) (string, error) {
	v, err := s.cat.EnsureSetting(ctx, name, mk())
	if err != nil {
		return "", fmt.Errorf("deployment setting %s: %w", name, err)
	}
	return v, nil
}
