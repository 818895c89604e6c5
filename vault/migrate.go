package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
)

// Why migrate: blobs written before sealing are plain files. They are
// still served, verified against the catalogue's SHA-256 on whole reads,
// but a Range or a conversion of them reads bytes nothing can check, and
// they are stored in clear. MigrateBlobs rewrites them (and, once a master
// key is configured, blobs sealed unencrypted) into the store's current
// form, so that every read is verified and, with a key, nothing is left in
// clear.

// MigrateSummary counts what a blob migration did.
type MigrateSummary struct {
	Migrated int   // rewritten into the target form
	Current  int   // already in it (a rerun, or ingested since sealing)
	Gone     int   // deleted (or migrated by another run) meanwhile
	Corrupt  int   // the old bytes failed verification: left as they are
	Missing  int   // no blob under the recording's key
	Failed   int   // the store failed otherwise (see the error)
	Bytes    int64 // recording bytes rewritten
}

func (s MigrateSummary) String() string {
	return fmt.Sprintf("%d migrated, %d already current, %d deleted meanwhile, %d corrupt, %d missing, %d failed; %d bytes rewritten",
		s.Migrated, s.Current, s.Gone, s.Corrupt, s.Missing, s.Failed, s.Bytes)
}

// migratingStore is the sealed store the migration writes through.
type migratingStore interface {
	sealingStore
	Put(ctx context.Context, key string, r io.Reader) (recvault.BlobInfo, error)
	Form(ctx context.Context, key string) (sealed.Form, error)
}

// MigrateBlobs rewrites every recording whose blob is not in the store's
// current form — sealed and encrypted when the store has a key ring,
// sealed (verified) otherwise — into that form. A recording already
// encrypted is never rewritten into a weaker form. bytesPerSecond bounds
// the average read rate (0 or less: unlimited), as for Scrub.
//
// Each recording is rewritten into a new blob under a fresh key, read from
// the old one verified against the catalogue's SHA-256; its row is then
// switched to the new blob by one compare-and-swap (ReplaceBlob), and
// only then is the old blob deleted. So a run killed at any point leaves
// every row pointing at a complete blob (old or new), at worst an
// unreferenced blob that the orphan sweep removes, and a rerun skips what
// is done and finishes the rest. Two runs at once do not harm each other:
// the loser of a swap deletes its copy. A recording deleted meanwhile is
// counted as gone, its new copy deleted.
//
// A blob whose bytes do not match the catalogue is counted as corrupt and
// left untouched (a migration must not bless damage by resealing it); the
// run goes on, and the returned error names such recordings. progress, if
// not nil, is called after every page with the counts so far. One audit
// record sums the run up.
func (s *Service) MigrateBlobs(ctx context.Context, bytesPerSecond int64, progress func(MigrateSummary)) (sum MigrateSummary, err error) {
	if RequestInfoFrom(ctx).Via != "cli" {
		return sum, recvault.Errorf(recvault.EFORBIDDEN, "blob migration is for the command line")
	}
	ms, ok := s.blobs.(migratingStore)
	if !ok {
		return sum, errors.New("migrate blobs: the blob store does not seal")
	}
	target := sealed.FormVerified
	if ms.Encrypting() {
		target = sealed.FormEncrypted
	}
	defer func() {
		s.administered(ctx, recvault.ActionStorageAdmin, "migrate blobs to "+target.String()+": "+sum.String(), &err)
	}()
	lim := &rateLimiter{ctx: ctx, rate: bytesPerSecond, start: time.Now()}
	var failed []error
	cursor := ""
	for {
		recs, next, err := s.cat.FindRecordings(ctx, recvault.RecordingFilter{Scope: recvault.Scope{All: true}, Cursor: cursor, Limit: rotatePage})
		if err != nil {
			return sum, fmt.Errorf("migrate blobs: list recordings: %w", err)
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return sum, fmt.Errorf("migrate blobs: %w", err)
			}
			n, err := s.migrateOne(ctx, ms, r, target, lim, &sum)
			sum.Bytes += n
			if err != nil {
				if ctx.Err() != nil {
					return sum, fmt.Errorf("migrate blobs: %w", ctx.Err())
				}
				failed = append(failed, fmt.Errorf("recording %s: %w", r.ID, err))
				s.log.Warn("migrate blobs: recording not migrated", "recording", r.ID, "err", err)
			}
		}
		if progress != nil {
			progress(sum)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(failed) > 0 {
		return sum, fmt.Errorf("migrate blobs: %d recordings not migrated: %w", len(failed), errors.Join(failed...))
	}
	return sum, nil
}

// migrateOne brings r's blob into the target form, counting the outcome in
// sum. It returns the bytes rewritten, and an error for a recording left
// unmigrated (corrupt, missing, or the store failed).
func (s *Service) migrateOne(ctx context.Context, ms migratingStore, r *recvault.Recording, target sealed.Form, lim *rateLimiter, sum *MigrateSummary) (int64, error) {
	if r.DataKey != nil {
		sum.Current++ // encrypted, its key in the catalogue: the strongest form
		return 0, nil
	}
	// fail counts a recording left unmigrated: corrupt when its bytes
	// failed verification, failed when the store did.
	fail := func(err error) (int64, error) {
		if errors.Is(err, recvault.ErrIntegrity) {
			sum.Corrupt++
		} else {
			sum.Failed++
		}
		return 0, err
	}
	form, err := ms.Form(ctx, r.BlobKey)
	switch {
	case recvault.ErrorCode(err) == recvault.ENOTFOUND:
		if _, cerr := s.cat.Recording(ctx, r.ID); recvault.ErrorCode(cerr) == recvault.ENOTFOUND {
			sum.Gone++
			return 0, nil
		}
		sum.Missing++
		return 0, fmt.Errorf("no blob under %s: %w", r.BlobKey, err)
	case err != nil:
		return fail(err)
	case form == target || form == sealed.FormEncrypted:
		sum.Current++
		return 0, nil
	}
	newKey, err := migratedKey(r)
	if err != nil {
		return fail(err)
	}
	// The mark keeps every replica's orphan sweep off the new blob until
	// the row points at it.
	if err := s.cat.BeginBlob(ctx, newKey, s.now()); err != nil {
		return fail(err)
	}
	defer func() {
		if err := s.cat.EndBlob(context.WithoutCancel(ctx), newKey); err != nil {
			s.log.Warn("end blob mark", "key", newKey, "err", err)
		}
	}()
	discard := func() {
		if err := s.blobs.Delete(context.WithoutCancel(ctx), newKey); err != nil && recvault.ErrorCode(err) != recvault.ENOTFOUND {
			s.log.Error("remove unused blob", "key", newKey, "err", err)
		}
	}
	old, err := s.openRecordingBlob(ctx, r) // verified against r.SHA256 as it is read
	if err != nil {
		return fail(err)
	}
	body := io.TeeReader(old, lim)
	var info recvault.BlobInfo
	var wk sealed.WrappedKey
	if target == sealed.FormEncrypted {
		info, wk, err = ms.PutSealed(ctx, newKey, r.ID, body)
	} else {
		info, err = ms.Put(ctx, newKey, body)
	}
	if cerr := old.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && (info.SHA256 != r.SHA256 || info.Size != r.Size) {
		err = fmt.Errorf("rewritten bytes (%d, sha256 %s) are not the catalogue's (%d, %s): %w",
			info.Size, info.SHA256, r.Size, r.SHA256, recvault.ErrIntegrity)
	}
	if err != nil {
		discard()
		return fail(err)
	}
	switch err := s.cat.ReplaceBlob(ctx, r.ID, r.BlobKey, newKey, wk); recvault.ErrorCode(err) {
	case "":
	case recvault.ENOTFOUND, recvault.ECONFLICT:
		discard() // deleted, or migrated by another run, meanwhile
		sum.Gone++
		return 0, nil
	default:
		discard()
		return fail(err)
	}
	sum.Migrated++
	// The row no longer names the old blob: if this delete fails (or the
	// run dies first), the orphan sweep removes it.
	if err := s.blobs.Delete(ctx, r.BlobKey); err != nil && recvault.ErrorCode(err) != recvault.ENOTFOUND {
		s.log.Warn("migrate blobs: old blob left for the orphan sweep", "key", r.BlobKey, "err", err)
	}
	return info.Size, nil
}

// migratedKey is a fresh blob key for r's rewritten bytes, beside the old
// one: its directory, the recording id and a random suffix, so that no
// run (a rerun, a second one at the same time) can collide with another's
// blob.
func migratedKey(r *recvault.Recording) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("blob key: %w", err)
	}
	k := r.ID + ".m" + hex.EncodeToString(b[:])
	if dir := path.Dir(r.BlobKey); dir != "." && dir != "/" {
		k = dir + "/" + k
	}
	return k, nil
}
