package vault

import (
	"context"
	"fmt"
	"time"
)

// TryLease takes the named catalog lease for ttl. ok false: someone else
// holds it — another request on this replica or on any other, since each
// acquisition has a holder name of its own. release frees it; it never
// fails the caller (a lease left behind by a crash expires by itself).
func (s *Service) TryLease(ctx context.Context, name string, ttl time.Duration) (release func(), ok bool, err error) {
	now := s.now()
	holder := s.holder + "/" + newID()
	ok, err = s.cat.AcquireLease(ctx, name, holder, now, now.Add(ttl))
	if err != nil || !ok {
		return func() {}, false, err
	}
	return func() {
		if err := s.cat.ReleaseLease(context.WithoutCancel(ctx), name, holder); err != nil {
			s.log.Warn("release lease", "lease", name, "err", err)
		}
	}, true, nil
}

// WaitLease is TryLease retried until the lease is free or wait is over;
// ok false then means another replica kept it the whole time.
func (s *Service) WaitLease(ctx context.Context, name string, ttl, wait time.Duration) (release func(), ok bool, err error) {
	deadline := time.Now().Add(wait)
	delay := 5 * time.Millisecond
	for {
		release, ok, err = s.TryLease(ctx, name, ttl)
		if err != nil || ok || time.Now().After(deadline) {
			return release, ok, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return func() {}, false, ctx.Err()
		case <-t.C:
		}
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

// SweepLeases deletes the leases that have expired: those of finished
// playbacks (one a play, see firstOfPlayback) and of runs that ended
// without releasing theirs. An expired lease is free already; the sweep
// only keeps the table from growing with every play.
func (s *Service) SweepLeases(ctx context.Context) (int, error) {
	n, err := s.cat.ExpireLeases(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("sweep leases: %w", err)
	}
	return n, nil
}
