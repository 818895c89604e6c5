package vault

import (
	"context"
	"fmt"
	"time"
)

// pendingLife is how long a BeginBlob mark protects a blob being written.
// A mark older than that belongs to an ingest that crashed.
const pendingLife = 24 * time.Hour

// SweepOrphans deletes blobs older than age that no recording refers to and
// no running ingest (on any replica) is writing: what a crash between
// placing a blob and committing its catalog row left behind. Such blobs
// were never visible. It also removes interrupted writes' leftovers older
// than age. Only one replica sweeps at a time (a lease in the catalog);
// the others return at once with 0.
func (s *Service) SweepOrphans(ctx context.Context, age time.Duration) (cleaned, orphans int, err error) {
	release, ok, err := s.TryLease(ctx, "sweep", 10*time.Minute)
	if err != nil || !ok {
		return 0, 0, err
	}
	defer release()
	if cleaned, err = s.blobs.Clean(ctx, age); err != nil {
		return 0, 0, fmt.Errorf("clean blob store: %w", err)
	}
	now := s.now()
	cutoff := now.Add(-age)
	err = s.blobs.Walk(ctx, func(key string, mod time.Time) error {
		if mod.After(cutoff) {
			return ctx.Err()
		}
		used, err := s.cat.BlobInUse(ctx, key, now.Add(-pendingLife))
		if err != nil || used {
			return err
		}
		if err := s.blobs.Delete(ctx, key); err != nil {
			return err
		}
		orphans++
		return nil
	})
	if err != nil {
		return cleaned, orphans, fmt.Errorf("sweep blobs: %w", err)
	}
	return cleaned, orphans, nil
}
