package vault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/recvault/recvault"
)

// Retention, legal hold and deletion.
//
// The rules:
//   - A retention policy is per campaign, with a default (campaign 0) for
//     campaigns without one; a recording's age counts from its StartedAt.
//     With no policy at all, recordings are kept for ever.
//   - A legal hold names a campaign, a call id or one recording. A held
//     recording is never purged or deleted, whatever its age or who asks.
//   - Deleting destroys the recording: its blob, its cached conversions
//     (unless another recording has the same bytes) and, once recordings
//     are encrypted, its data key. The catalogue keeps a tombstone (ids,
//     SHA-256, who, when, why) and the row goes, so every API answers
//     "not found" from then on. Re-ingesting the same (campaign,
//     crtObjectId) afterwards makes a new recording.
//   - Crash safety: the tombstone (state "deleting") and the removal of the
//     row are one catalog transaction; the blob goes after it, and only
//     then is the tombstone marked "done". A deletion cut at any point is
//     either not begun (the row is intact) or finished by ResumeDeletes
//     (at serve start and before every purge), so there is never a row
//     whose bytes are gone, nor bytes of a deleted recording without a
//     tombstone that will remove them.

// purgePage is how many purge candidates one catalog query returns.
const purgePage = 200

// purgeLeaseTTL is how long the purge lease lasts without renewal; it is
// renewed before every page, so only a crashed purge holds it that long.
const purgeLeaseTTL = 10 * time.Minute

// ErrPurgeBusy is wrapped by Purge's ECONFLICT when another purge (this
// replica's or another's) holds the purge lease.
var ErrPurgeBusy = errors.New("another purge is running (or one stopped less than 10 minutes ago without releasing its lease: try again when it expires)")

// actorName is who a change is recorded as being made by: the user, the
// operator ("cli") or the server itself ("recvault", e.g. the purge job).
func actorName(ctx context.Context, p *recvault.Principal) string {
	switch {
	case p != nil && p.User != nil:
		return p.User.Login
	case RequestInfoFrom(ctx).Via == "cli":
		return "cli"
	}
	return "recvault"
}

// SetRetention sets the policy of campaign (0: the default) to days, for
// the operator (the command line). days must be 1 to MaxRetentionDays: a
// zero-day policy would purge every recording at once, and "keep for ever"
// is ClearRetention.
func (s *Service) SetRetention(ctx context.Context, campaign int64, days int) (err error) {
	defer s.administered(ctx, recvault.ActionRetentionAdmin, "set retention of "+campaignName(campaign)+" to "+strconv.Itoa(days)+" days", &err)
	if campaign < 0 {
		return recvault.Errorf(recvault.EINVALID, "campaign id must be a positive integer")
	}
	if days < 1 || days > recvault.MaxRetentionDays {
		return recvault.Errorf(recvault.EINVALID, "days must be from 1 to %d", recvault.MaxRetentionDays)
	}
	return s.cat.SetRetention(ctx, &recvault.Retention{CampaignID: campaign, Days: days, SetBy: actorName(ctx, nil), SetAt: s.now()})
}

// ClearRetention removes the policy of campaign (0: the default): its
// recordings then fall back to the default, or are kept for ever.
func (s *Service) ClearRetention(ctx context.Context, campaign int64) (err error) {
	defer s.administered(ctx, recvault.ActionRetentionAdmin, "clear retention of "+campaignName(campaign), &err)
	return s.cat.ClearRetention(ctx, campaign)
}

// Retentions lists the policies, the default first.
func (s *Service) Retentions(ctx context.Context) ([]*recvault.Retention, error) {
	return s.cat.Retentions(ctx)
}

func campaignName(c int64) string {
	if c == 0 {
		return "the default"
	}
	return "campaign " + strconv.FormatInt(c, 10)
}

// holdSubject renders a hold's selector.
func holdSubject(h recvault.Hold) string {
	switch {
	case h.CampaignID != 0:
		return "campaign=" + strconv.FormatInt(h.CampaignID, 10)
	case h.CallID != "":
		return "callId=" + h.CallID
	}
	return "recording=" + h.RecordingID
}

// checkSelector requires exactly one selector, well formed.
func checkSelector(h recvault.Hold) error {
	n := 0
	if h.CampaignID != 0 {
		n++
	}
	if h.CallID != "" {
		n++
	}
	if h.RecordingID != "" {
		n++
	}
	switch {
	case n != 1:
		return recvault.Errorf(recvault.EINVALID, "name exactly one of a campaign, a call id or a recording")
	case h.CampaignID < 0:
		return recvault.Errorf(recvault.EINVALID, "campaign id must be a positive integer")
	case len(h.CallID) > 128 || len(h.RecordingID) > 128:
		return recvault.Errorf(recvault.EINVALID, "ids have at most 128 characters")
	}
	return nil
}

// AddHold places a legal hold (one selector and a reason) for the
// operator. A hold may name a recording or call not (yet) stored: a hold
// is a legal instruction, and it must apply to whatever arrives later too.
func (s *Service) AddHold(ctx context.Context, h recvault.Hold) (_ *recvault.Hold, err error) {
	defer s.administered(ctx, recvault.ActionHoldAdmin, "add hold on "+holdSubject(h)+": "+h.Reason, &err)
	if err := checkSelector(h); err != nil {
		return nil, err
	}
	if h.Reason == "" || len(h.Reason) > 1024 {
		return nil, recvault.Errorf(recvault.EINVALID, "a hold needs a reason (at most 1024 bytes)")
	}
	h.ID, h.By, h.At = 0, actorName(ctx, nil), s.now()
	if err := s.cat.AddHold(ctx, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// RemoveHold lifts the hold with sel's selector; its recordings are then
// subject to retention again (the next purge may delete them).
func (s *Service) RemoveHold(ctx context.Context, sel recvault.Hold) (err error) {
	defer s.administered(ctx, recvault.ActionHoldAdmin, "remove hold on "+holdSubject(sel), &err)
	if err := checkSelector(sel); err != nil {
		return err
	}
	return s.cat.RemoveHold(ctx, recvault.Hold{CampaignID: sel.CampaignID, CallID: sel.CallID, RecordingID: sel.RecordingID})
}

// Holds lists the legal holds, oldest first.
func (s *Service) Holds(ctx context.Context) ([]*recvault.Hold, error) { return s.cat.Holds(ctx) }

// Tombstones lists up to limit tombstones of deleted recordings, newest
// first.
func (s *Service) Tombstones(ctx context.Context, limit int) ([]*recvault.Tombstone, error) {
	return s.cat.Tombstones(ctx, "", limit)
}

// Delete destroys recording id for p, with reason. p nil is the operator
// at the data (the command line); otherwise it is authorised like every
// read first (a recording p may not see is ENOTFOUND, as for a missing
// one), and then only admins may delete (EFORBIDDEN). A held recording is
// ECONFLICT "recording is under legal hold: REASON". Audited.
func (s *Service) Delete(ctx context.Context, p *recvault.Principal, id, reason string) error {
	if p != nil {
		if _, err := s.byID(ctx, p, recvault.ActionDelete, id); err != nil {
			return err
		}
		if p.User == nil || p.User.Role != recvault.RoleAdmin {
			s.note(ctx, p, recvault.AuditEvent{Action: recvault.ActionDelete, RecordingID: id, Outcome: recvault.OutcomeDenied, Detail: "not an admin"})
			return recvault.Errorf(recvault.EFORBIDDEN, "only admins may delete recordings")
		}
	}
	if reason == "" || len(reason) > 1024 {
		s.note(ctx, p, recvault.AuditEvent{Action: recvault.ActionDelete, RecordingID: id, Outcome: recvault.OutcomeInvalid, Detail: "no reason"})
		return recvault.Errorf(recvault.EINVALID, "a deletion needs a reason (at most 1024 bytes)")
	}
	_, err := s.destroy(ctx, p, id, reason)
	return err
}

// destroy runs the deletion of recording id in the crash-safe order (see
// the top of this file) and audits it.
func (s *Service) destroy(ctx context.Context, p *recvault.Principal, id, reason string) (*recvault.Tombstone, error) {
	t, err := s.cat.BeginDelete(ctx, id, actorName(ctx, p), reason, s.now())
	if err != nil {
		e := recvault.AuditEvent{Action: recvault.ActionDelete, Subject: "id=" + id, Outcome: recvault.OutcomeError, Detail: recvault.ErrorMessage(err)}
		switch recvault.ErrorCode(err) {
		case recvault.ENOTFOUND:
			e.Outcome = recvault.OutcomeNotFound
		case recvault.ECONFLICT:
			e.Outcome, e.RecordingID, e.Subject = recvault.OutcomeDenied, id, ""
		}
		s.note(ctx, p, e)
		return nil, err
	}
	// From here the recording is gone for every API; what follows only
	// removes its bytes, and is redone by ResumeDeletes if cut. A client
	// going away must not leave that for later, so it runs to the end.
	ferr := s.finishDelete(context.WithoutCancel(ctx), t)
	e := recvault.AuditEvent{Action: recvault.ActionDelete, RecordingID: t.RecordingID, Outcome: recvault.OutcomeGranted, Detail: reason,
		Subject: "campaign=" + strconv.FormatInt(t.CampaignID, 10) + " crtObjectId=" + t.CRTObjectID + " callId=" + t.CallID}
	if ferr != nil {
		e.Outcome, e.Detail = recvault.OutcomeError, reason+"; bytes not yet removed (resumed later): "+ferr.Error()
	}
	if aerr := s.record(ctx, p, e); aerr != nil && ferr == nil {
		ferr = aerr
	}
	return t, ferr
}

// finishDelete removes a tombstoned recording's bytes and marks the
// tombstone done. Every step is idempotent, so it may run again after a
// crash or on two replicas at once.
func (s *Service) finishDelete(ctx context.Context, t *recvault.Tombstone) error {
	if err := s.blobs.Delete(ctx, t.BlobKey); err != nil {
		return fmt.Errorf("delete blob of recording %s: %w", t.RecordingID, err)
	}
	if s.cfg.Cache != nil {
		// The cache keys outputs by recording (conversionKey). This drops
		// this replica's copies only: other replicas' caches are private
		// to them, unreachable once the row is gone, and age out (or go
		// when they stop).
		s.cfg.Cache.DropPrefix(conversionPrefix(t.RecordingID))
	}
	if err := s.destroyDataKey(ctx, t); err != nil {
		return fmt.Errorf("data key of recording %s: %w", t.RecordingID, err)
	}
	if err := s.cat.FinishDelete(ctx, t.RecordingID, s.now()); err != nil {
		return fmt.Errorf("finish deletion of recording %s: %w", t.RecordingID, err)
	}
	return nil
}

// destroyDataKey is the hook where a deleted recording's data key is
// destroyed (crypto-shredding: without the key, copies of the ciphertext
// in backups or a blob whose delete failed are unreadable too). An
// encrypted recording's wrapped data key lives only in its catalogue row
// (Recording.DataKey, written by Ingest through PutSealed; the blob header
// holds none), and BeginDelete removes that row in the same transaction
// that writes the tombstone, which does not copy the key. So by the time
// this runs the key is already gone and there is nothing left to do. (A
// database backup taken before the deletion still holds the key: shredding
// reaches those only once they expire.) Blobs written before keys moved to
// the catalogue keep the key in their header and are not shredded: only
// deleting the blob removes them. It must stay idempotent: ResumeDeletes
// may call it again.
func (s *Service) destroyDataKey(ctx context.Context, t *recvault.Tombstone) error {
	return nil
}

// ResumeDeletes finishes every deletion a crash cut after its catalog
// step (tombstones still "deleting"): it removes their bytes again and
// marks them done. It returns how many it finished; one failing does not
// stop the others.
func (s *Service) ResumeDeletes(ctx context.Context) (int, error) {
	done := 0
	var errs []error
	for {
		ts, err := s.cat.Tombstones(ctx, recvault.TombstoneDeleting, purgePage)
		if err != nil {
			return done, fmt.Errorf("resume deletions: %w", err)
		}
		progressed := false
		for _, t := range ts {
			if err := s.finishDelete(ctx, t); err != nil {
				errs = append(errs, err)
				continue
			}
			progressed = true
			done++
			s.log.Info("finished an interrupted deletion", "recording", t.RecordingID)
		}
		if len(ts) < purgePage || !progressed {
			break
		}
	}
	return done, errors.Join(errs...)
}

// PurgeItem is one recording a purge deleted (or would delete).
type PurgeItem struct {
	Recording *recvault.Recording
	Days      int   // the policy that applied
	Err       error // the deletion failed (it is retried by the next purge)
}

// PurgeReport is what a purge did.
type PurgeReport struct {
	DryRun  bool
	Resumed int // interrupted deletions finished first
	Items   []PurgeItem
	Deleted int
	Failed  int
}

// Purge deletes every recording past its campaign's (or the default)
// retention that no hold covers; with dryRun it only reports them. One
// purge runs at a time across replicas (the "purge" catalog lease): if
// another holds it, Purge returns ECONFLICT wrapping ErrPurgeBusy. A real
// purge first finishes interrupted deletions. One audit record sums the
// run up; each deletion has its own.
func (s *Service) Purge(ctx context.Context, dryRun bool) (rep *PurgeReport, err error) {
	holder := s.holder + "/purge/" + newID()
	renew := func() (bool, error) {
		now := s.now()
		return s.cat.AcquireLease(ctx, "purge", holder, now, now.Add(purgeLeaseTTL))
	}
	ok, err := renew()
	if err != nil {
		return nil, fmt.Errorf("purge lease: %w", err)
	}
	if !ok {
		return nil, &recvault.Error{Code: recvault.ECONFLICT, Message: ErrPurgeBusy.Error(), Err: ErrPurgeBusy}
	}
	defer func() {
		if rerr := s.cat.ReleaseLease(context.WithoutCancel(ctx), "purge", holder); rerr != nil {
			s.log.Warn("release lease", "lease", "purge", "err", rerr)
		}
	}()
	rep = &PurgeReport{DryRun: dryRun}
	defer func() {
		e := recvault.AuditEvent{Action: recvault.ActionPurge, Outcome: recvault.OutcomeGranted,
			Detail: fmt.Sprintf("%d deleted, %d failed, %d interrupted deletions finished", rep.Deleted, rep.Failed, rep.Resumed)}
		if dryRun {
			e.Detail = fmt.Sprintf("dry run: %d would be deleted", len(rep.Items))
		}
		if err != nil {
			e.Outcome, e.Detail = recvault.OutcomeError, e.Detail+": "+recvault.ErrorMessage(err)
		}
		if aerr := s.record(ctx, nil, e); aerr != nil && err == nil {
			err = aerr
		}
	}()
	if !dryRun {
		n, rerr := s.ResumeDeletes(ctx)
		rep.Resumed = n
		if rerr != nil {
			s.log.Warn("resume deletions", "err", rerr)
		}
	}
	policies, err := s.cat.Retentions(ctx)
	if err != nil {
		return rep, fmt.Errorf("purge: %w", err)
	}
	days := map[int64]int{}
	for _, p := range policies {
		days[p.CampaignID] = p.Days
	}
	now := s.now()
	after := ""
	for {
		if ok, err := renew(); err != nil {
			return rep, fmt.Errorf("purge lease: %w", err)
		} else if !ok {
			return rep, &recvault.Error{Code: recvault.ECONFLICT, Message: "the purge lease was lost", Err: ErrPurgeBusy}
		}
		recs, err := s.cat.PurgeCandidates(ctx, now, after, purgePage)
		if err != nil {
			return rep, fmt.Errorf("purge: %w", err)
		}
		for _, r := range recs {
			after = r.ID
			d, ok := days[r.CampaignID]
			if !ok {
				d = days[0]
			}
			item := PurgeItem{Recording: r, Days: d}
			if !dryRun {
				_, item.Err = s.destroy(ctx, nil, r.ID, fmt.Sprintf("retention: older than %d days", d))
				// A hold placed or a deletion by another request since the
				// query is not a failure: the recording is simply not ours.
				switch recvault.ErrorCode(item.Err) {
				case recvault.ECONFLICT, recvault.ENOTFOUND:
					continue
				}
				if item.Err != nil {
					rep.Failed++
				} else {
					rep.Deleted++
				}
			}
			rep.Items = append(rep.Items, item)
		}
		if len(recs) < purgePage || ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
}
