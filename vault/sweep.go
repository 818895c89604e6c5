package vault

import (
	"context"
	"time"
)

// BlobWalker lists a blob store's keys (the local store does; an object
// store would list its bucket).
type BlobWalker interface {
	Walk(fn func(key string, mod time.Time) error) error
}

// SweepOrphans deletes blobs older than age that no recording refers to:
// what a crash between placing a blob and committing its catalog row left
// behind. Such blobs were never visible; age keeps the sweep away from
// ingests still running in another process.
func (s *Service) SweepOrphans(ctx context.Context, w BlobWalker, age time.Duration) (int, error) {
	cutoff := s.now().Add(-age)
	n := 0
	err := w.Walk(func(key string, mod time.Time) error {
		if mod.After(cutoff) {
			return ctx.Err()
		}
		used, err := s.cat.BlobReferenced(ctx, key)
		if err != nil || used {
			return err
		}
		if err := s.blobs.Delete(ctx, key); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}
