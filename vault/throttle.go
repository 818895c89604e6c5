package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
	"github.com/recvault/recvault/metrics"
)

// The sign-in throttle. Every failed sign-in (unknown account, wrong
// password, disabled user; on any façade) is counted in the catalog, so
// that every replica applies the same state, against three keys:
//
//   - the account from the client's address: after 3 failures it is
//     blocked 1 s, then 2 s, 4 s, … doubling with each further failure, at
//     most 15 min. This is what stops guessing one account's password.
//   - the client's address (IPv6: its /64), whatever the accounts: after
//     20 failures, the same doubling up to 15 min. It stops spraying many
//     accounts from one place, with room for an office behind one NAT.
//   - the account, whatever the addresses: after 50 failures 1 s,
//     doubling, but at most 30 s. Its only job is to slow a guesser spread
//     over many addresses; it is capped low because anyone can fail
//     sign-ins of any account, and must not thereby lock the real user out
//     for long — who, from their own address, is never blocked by the
//     other two keys of an attacker.
//
// A blocked attempt is refused with ETHROTTLED (and a Retry-After) before
// the account's password hash is computed, so that hammering costs the
// server a few catalog reads, not an Argon2 hash, and teaches nothing.
// Blocked attempts are not counted: while blocked, the attacker makes no
// guesses, and the real user's account key does not grow. A success
// clears the account-from-address and address keys (a user who got their
// password right is not a guesser); the account key only decays, so an
// attacker cannot reset it by signing in to an account of their own.
// A key forgets its failures 15 min after its last failure or the end of
// its last block, whichever is later. Unknown and known accounts are
// counted alike, so the throttle tells nothing about which exist.
const throttleForget = 15 * time.Minute

// throttleRule is one key kind's part of the policy above.
type throttleRule struct {
	after int           // failures before the first block
	max   time.Duration // longest block
}

var (
	pairRule    = throttleRule{after: 3, max: 15 * time.Minute}
	addrRule    = throttleRule{after: 20, max: 15 * time.Minute}
	accountRule = throttleRule{after: 50, max: 30 * time.Second}
)

// The key prefixes name the rule a key follows in the catalog.
const (
	accountPrefix = "acct:"
	pairPrefix    = "pair:"
	addrPrefix    = "addr:"
)

// delay is the block after the failures-th failure: none before after,
// then 1 s doubling per failure, capped at max.
func (r throttleRule) delay(failures int) time.Duration {
	if failures < r.after {
		return 0
	}
	shift := failures - r.after
	if shift >= 30 {
		return r.max
	}
	return min(time.Second<<shift, r.max)
}

// throttleDelay applies the rule of a key's kind (the catalog's callback).
func throttleDelay(key string, failures int) time.Duration {
	switch {
	case strings.HasPrefix(key, pairPrefix):
		return pairRule.delay(failures)
	case strings.HasPrefix(key, addrPrefix):
		return addrRule.delay(failures)
	}
	return accountRule.delay(failures)
}

// signInKeys are the throttle keys of one attempt. pair and addr are ""
// when the client's address is unknown (the core called without a
// request, e.g. by a CLI command at the data directory).
type signInKeys struct {
	account, pair, addr string
}

// all lists the keys that are counted and that block.
func (k signInKeys) all() []string {
	if k.addr == "" {
		return []string{k.account}
	}
	return []string{k.account, k.pair, k.addr}
}

// cleared lists the keys a success forgets.
func (k signInKeys) cleared() []string {
	if k.addr == "" {
		return nil
	}
	return []string{k.pair, k.addr}
}

// throttleKeys derives the keys of a sign-in to account from the request's
// client address. Accounts are hashed: a typed login can be anything, up
// to a password typed in the wrong field, and is kept neither in full nor
// in clear.
func throttleKeys(ctx context.Context, account string) signInKeys {
	k := signInKeys{account: accountPrefix + digest(account)}
	if addr := throttleAddr(RequestInfoFrom(ctx).Remote); addr != "" {
		k.addr = addrPrefix + addr
		k.pair = pairPrefix + digest(account+"\x00"+addr)
	}
	return k
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// throttleAddr returns the host part of a client address ("" if there is
// none). An IPv6 client counts as its /64, the smallest block a site is
// usually given: one host can use any address in it.
func throttleAddr(remote string) string {
	remote = strings.TrimSpace(remote)
	if remote == "" {
		return ""
	}
	a, err := netip.ParseAddr(remote)
	if err != nil {
		ap, perr := netip.ParseAddrPort(remote)
		if perr != nil {
			if host, _, serr := net.SplitHostPort(remote); serr == nil && host != "" {
				return host
			}
			return remote
		}
		a = ap.Addr()
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}

// ErrSignInBusy marks the ECONFLICT of an exclusive sign-in refused
// because another sign-in of the same user holds its lease right now (a
// façade may answer it differently from "already signed in").
var ErrSignInBusy = errors.New("another sign-in of this user is in progress")

// checkAgentPassword is CheckPassword for a sign-in by work number.
func (s *Service) checkAgentPassword(ctx context.Context, agentID, password string) (*recvault.User, error) {
	// An unknown work number is throttled under a name no login can have
	// (logins have no spaces), so it never shares a real account's key.
	return s.checkCredentials(ctx, "work number "+agentID, "unknown work number "+agentID, password,
		func() (*recvault.User, error) { return s.cat.UserByAgentID(ctx, agentID) })
}

// checkCredentials is the throttled password check behind every sign-in.
// find looks the user up (ENOTFOUND: unknown); typed is how the client
// named the account, which keys the throttle when no user was found (a
// found user is keyed by its login, whichever façade named it);
// unknownDetail is the audit detail for an unknown account. Every refusal
// but a throttled one spends one password hash, so unknown accounts,
// wrong passwords and disabled users take the same time.
func (s *Service) checkCredentials(ctx context.Context, typed, unknownDetail, password string,
	find func() (*recvault.User, error)) (*recvault.User, error) {
	u, err := find()
	known := err == nil
	if err != nil && recvault.ErrorCode(err) != recvault.ENOTFOUND {
		return nil, err
	}
	var p *recvault.Principal
	account := typed
	if known {
		p, account = &recvault.Principal{User: u}, u.Login
	}
	keys := throttleKeys(ctx, account)
	now := s.now()
	until, err := s.cat.LoginBlocked(ctx, keys.all(), now)
	if err != nil {
		return nil, fmt.Errorf("sign-in throttle: %w", err)
	}
	if !until.IsZero() {
		metrics.SignInRefused("throttled")
		if err := s.audit(ctx, p, recvault.ActionLogin, "", recvault.OutcomeDenied, "throttled"); err != nil {
			return nil, err
		}
		return nil, recvault.TooManyAttempts(until.Sub(now))
	}
	ok := false
	if known {
		if ok, err = auth.VerifyPassword(u.PasswordHash, password); err != nil {
			return nil, recvault.Internal(fmt.Errorf("verify password of user %d: %w", u.ID, err))
		}
	} else {
		auth.VerifyDummy(password)
	}
	if ok && !u.Disabled {
		if err := s.cat.LoginSuccess(ctx, keys.cleared()); err != nil {
			return nil, fmt.Errorf("sign-in throttle: %w", err)
		}
		return u, nil
	}
	metrics.SignInRefused("failed")
	if err := s.cat.LoginFailure(ctx, keys.all(), s.now(), throttleForget, throttleDelay); err != nil {
		return nil, fmt.Errorf("sign-in throttle: %w", err)
	}
	detail := unknownDetail
	if known {
		detail = "bad password or disabled user"
	}
	if err := s.audit(ctx, p, recvault.ActionLogin, "", recvault.OutcomeDenied, detail); err != nil {
		return nil, err
	}
	return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "invalid login or password")
}
