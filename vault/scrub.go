package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/recvault/recvault"
)

// Why scrub: a recording is verified only when someone reads it, and most
// are never read again after ingest. Bit rot, a bad disk or a truncated
// copy in a blob nobody asks for stays unnoticed until the day it is
// needed, when the backup that still had good bytes may have expired.
// Scrub reads every recording end to end, as a download would, so that
// damage is found while it can still be repaired.

// ScrubStatus is what scrubbing found for one recording.
type ScrubStatus string

const (
	ScrubOK      ScrubStatus = "ok"      // every byte read and verified
	ScrubCorrupt ScrubStatus = "corrupt" // verification failed, or the blob's size is not the catalogue's
	ScrubMissing ScrubStatus = "missing" // the blob store has no blob under the recording's key
	ScrubError   ScrubStatus = "error"   // the store failed otherwise (I/O, network): the bytes were not judged
)

// ScrubResult is the finding for one recording.
type ScrubResult struct {
	Recording *recvault.Recording
	Status    ScrubStatus
	// Err says what failed; nil when Status is ScrubOK.
	Err error
}

// ScrubSummary counts a scrub's findings.
type ScrubSummary struct {
	Recordings int // recordings judged (the sum of the four counts below)
	OK         int
	Corrupt    int
	Missing    int
	Errors     int
	Bytes      int64 // recording bytes read
	Elapsed    time.Duration
}

// Bad tells whether the scrub found recordings whose bytes are lost or
// damaged (errors are not counted: the bytes may be fine, the store was not).
func (s ScrubSummary) Bad() bool { return s.Corrupt > 0 || s.Missing > 0 }

func (s ScrubSummary) String() string {
	return fmt.Sprintf("%d recordings: %d ok, %d corrupt, %d missing, %d errors; %d bytes read in %s",
		s.Recordings, s.OK, s.Corrupt, s.Missing, s.Errors, s.Bytes, s.Elapsed.Round(time.Millisecond))
}

const (
	// scrubPage is the catalogue page size: small enough that a page of
	// rows is cheap, large enough that paging costs nothing next to reading
	// the recordings.
	scrubPage = 100
	// scrubAuditIDs caps the bad recordings named in the summary record,
	// so that a store gone bad wholesale does not make one huge record.
	scrubAuditIDs = 1000
)

// Scrub reads every recording in the catalogue wholly, verified the way
// downloads are, and calls report (if not nil) with the finding for each.
// bytesPerSecond bounds the average read rate (0 or less: unlimited), so
// that a scrub on a serving store leaves its disks and network to the
// requests; it takes no lease, no lock and no cache space, and writes
// nothing but its one audit record, so it can run beside a server.
// A recording deleted while the scrub runs is skipped, not reported.
//
// The returned error is for the scrub itself (the catalogue failed, ctx
// ended): bad recordings are findings, counted in the summary. One audit
// record sums the run up, also when it is cut short.
func (s *Service) Scrub(ctx context.Context, bytesPerSecond int64, report func(ScrubResult)) (sum ScrubSummary, err error) {
	start := time.Now()
	var bad []string
	defer func() {
		sum.Elapsed = time.Since(start)
		e := recvault.AuditEvent{Action: recvault.ActionScrub, Outcome: recvault.OutcomeGranted, Detail: sum.String()}
		if len(bad) > 0 {
			e.RecordingIDs = bad
		}
		if err != nil {
			e.Outcome, e.Detail = recvault.OutcomeError, "interrupted after "+e.Detail+": "+recvault.ErrorMessage(err)
		}
		// A scrub cut short by ctx is still recorded: record does not end
		// with ctx, and an interrupted run is worth knowing about.
		if aerr := s.record(context.WithoutCancel(ctx), nil, e); aerr != nil && err == nil {
			err = aerr
		}
	}()
	lim := &rateLimiter{ctx: ctx, rate: bytesPerSecond, start: start}
	cursor := ""
	for {
		recs, next, err := s.cat.FindRecordings(ctx, recvault.RecordingFilter{Scope: recvault.Scope{All: true}, Cursor: cursor, Limit: scrubPage})
		if err != nil {
			return sum, fmt.Errorf("scrub: list recordings: %w", err)
		}
		for _, r := range recs {
			res, n, err := s.scrubOne(ctx, r, lim)
			sum.Bytes += n
			if err != nil {
				return sum, err
			}
			if res.Status == "" {
				continue // deleted meanwhile
			}
			sum.Recordings++
			switch res.Status {
			case ScrubOK:
				sum.OK++
			case ScrubCorrupt:
				sum.Corrupt++
			case ScrubMissing:
				sum.Missing++
			default:
				sum.Errors++
			}
			if res.Status != ScrubOK {
				s.log.Warn("scrub: recording not intact", "recording", r.ID, "status", res.Status, "err", res.Err)
				if len(bad) < scrubAuditIDs {
					bad = append(bad, r.ID)
				}
			}
			if report != nil {
				report(res)
			}
		}
		if next == "" {
			return sum, nil
		}
		cursor = next
	}
}

// scrubOne reads recording r wholly and judges it. It returns the bytes
// read and, as error, only ctx's end (the scrub stops). A zero Status
// means the recording was deleted while being scrubbed.
func (s *Service) scrubOne(ctx context.Context, r *recvault.Recording, lim *rateLimiter) (ScrubResult, int64, error) {
	res := ScrubResult{Recording: r}
	b, err := s.openScrubbed(ctx, r)
	var n int64
	if err == nil {
		n, err = io.Copy(lim, b)
		if cerr := b.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close blob of recording %s: %w", r.ID, cerr)
		}
		if err == nil && n != r.Size {
			err = fmt.Errorf("blob of recording %s: read %d bytes, catalog says %d: %w", r.ID, n, r.Size, recvault.ErrIntegrity)
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return res, n, fmt.Errorf("scrub: %w", cerr)
	}
	res.Err = err
	switch {
	case err == nil:
		res.Status = ScrubOK
	case errors.Is(err, recvault.ErrIntegrity):
		res.Status = ScrubCorrupt
	case recvault.ErrorCode(err) == recvault.ENOTFOUND:
		// Deletion removes the catalogue row before the blob: if the row
		// is gone too, this is a deletion, not a loss.
		if _, cerr := s.cat.Recording(ctx, r.ID); recvault.ErrorCode(cerr) == recvault.ENOTFOUND {
			return ScrubResult{}, n, nil
		}
		res.Status = ScrubMissing
	default:
		res.Status = ScrubError
	}
	return res, n, nil
}

// openScrubbed opens r's bytes exactly as openBlob does (openRecordingBlob:
// the catalogue's data key or SHA-256 when the store verifies, and the same size
// check), but keeps the store's error in the chain: openBlob renders it as
// text for the client-safe internal error, and the scrub must tell
// ErrIntegrity and ENOTFOUND apart.
func (s *Service) openScrubbed(ctx context.Context, r *recvault.Recording) (recvault.Blob, error) {
	b, err := s.openRecordingBlob(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("open blob of recording %s: %w", r.ID, err)
	}
	if b.Size() != r.Size {
		err := fmt.Errorf("blob of recording %s has %d bytes, catalog says %d: %w", r.ID, b.Size(), r.Size, recvault.ErrIntegrity)
		if cerr := b.Close(); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
		return nil, err
	}
	return b, nil
}

// rateLimiter is the scrub's sink: it discards what it is given, sleeping
// as needed so that the average rate since start stays at or below rate
// bytes a second (the whole scrub's average, not each recording's: small
// recordings do not each get a fresh burst). It also ends the copy when
// ctx ends, which the blob reads themselves do not notice.
type rateLimiter struct {
	ctx   context.Context
	rate  int64 // bytes a second; 0 or less: unlimited
	start time.Time
	n     int64
}

func (l *rateLimiter) Write(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	l.n += int64(len(p))
	if l.rate <= 0 {
		return len(p), nil
	}
	due := l.start.Add(time.Duration(float64(l.n) / float64(l.rate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.ctx.Done():
			return 0, l.ctx.Err()
		}
	}
	return len(p), nil
}
