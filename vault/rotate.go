package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/sealed"
)

// rotatePage is how many recordings a rotation reads per catalogue query,
// and how often it reports progress.
const rotatePage = 100

// RotateSummary counts what a master key rotation did.
type RotateSummary struct {
	Rewrapped int // data keys re-wrapped under the new key
	Current   int // already under the new key (a rerun, or ingested since)
	Gone      int // deleted while the rotation ran
	Failed    int // could not be re-wrapped (see the error)
}

func (s RotateSummary) String() string {
	return fmt.Sprintf("%d rewrapped, %d already current, %d deleted meanwhile, %d failed",
		s.Rewrapped, s.Current, s.Gone, s.Failed)
}

// RotateDataKeys re-wraps, under newRing's current master key, the data key
// of every recording whose key is in the catalogue (Recording.DataKey) and
// wrapped under another one. unwrap must hold the keys they are wrapped
// under (the old key file's keys, and the new key). Only the catalogue
// changes, never a blob.
//
// Each row is rewritten by one SetDataKey, so a run killed at any point
// leaves every row with either its old wrapped key or its new one, both
// readable by a ring holding both keys; and a rerun skips the rows already
// under the new key, so running it again finishes the job. progress, if
// not nil, is called after every page of recordings with the counts so
// far. A recording whose key cannot be re-wrapped (its master key is in
// neither ring, or it does not authenticate) is counted as failed and left
// as it is; the others go on, and the error lists the failures. A
// catalogue error ends the run.
//
// Recordings ingested meanwhile by a server still running with the old
// key are wrapped under the old key; a run started after every server uses
// the new key file catches them.
func (s *Service) RotateDataKeys(ctx context.Context, unwrap, newRing *sealed.Keyring, progress func(RotateSummary)) (sum RotateSummary, err error) {
	if RequestInfoFrom(ctx).Via != "cli" {
		return sum, recvault.Errorf(recvault.EFORBIDDEN, "master key rotation is for the command line")
	}
	// The run is audited with its outcome and counts, like every other
	// administrative change.
	defer func() {
		s.administered(ctx, recvault.ActionStorageAdmin, "rotate data keys to master key "+newRing.Current()+": "+sum.String(), &err)
	}()
	current := newRing.Current()
	var failed []error
	after := ""
	for {
		recs, err := s.cat.RecordingsWithDataKeys(ctx, after, rotatePage)
		if err != nil {
			return sum, fmt.Errorf("rotate data keys: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				return sum, fmt.Errorf("rotate data keys: %w", err)
			}
			wk := sealed.WrappedKey(r.DataKey)
			id, err := wk.KeyID()
			if err != nil {
				sum.Failed++
				failed = append(failed, fmt.Errorf("recording %s: %w", r.ID, err))
				continue
			}
			if id == current {
				sum.Current++
				continue
			}
			nk, err := sealed.Rewrap(wk, unwrap, newRing)
			if err != nil {
				sum.Failed++
				failed = append(failed, fmt.Errorf("recording %s: %w", r.ID, err))
				continue
			}
			err = s.cat.SetDataKey(ctx, r.ID, nk)
			switch {
			case recvault.ErrorCode(err) == recvault.ENOTFOUND:
				sum.Gone++ // deleted since the page was read: its key went with it
			case err != nil:
				return sum, fmt.Errorf("rotate data keys: recording %s: %w", r.ID, err)
			default:
				sum.Rewrapped++
			}
		}
		after = recs[len(recs)-1].ID
		if progress != nil {
			progress(sum)
		}
	}
	if len(failed) > 0 {
		return sum, fmt.Errorf("rotate data keys: %d recordings not re-wrapped: %w", len(failed), errors.Join(failed...))
	}
	return sum, nil
}
