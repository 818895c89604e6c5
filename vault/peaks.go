package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media"
)

// Peaks returns the waveform envelope of recording id in points spans, if
// p may see it: what a player draws instead of downloading the recording
// into the page. It is audited as a metadata read (detail "waveform").
// Computing it decodes the whole recording once; the result is kept in the
// transcode cache (when there is one) under the recording, so that a
// deletion drops it with the recording's other outputs.
func (s *Service) Peaks(ctx context.Context, p *recvault.Principal, id string, points int) (*recvault.Recording, *media.Peaks, error) {
	r, err := s.byID(ctx, p, recvault.ActionMetadata, id)
	if err != nil {
		return nil, nil, err
	}
	ev := recvault.AuditEvent{Action: recvault.ActionMetadata, RecordingID: r.ID, Detail: "waveform"}
	out, err := media.Plan(MediaSource(r), media.Request{Format: media.FormatWAV})
	if err == nil && (points < 1 || points > media.MaxPeakPoints) {
		err = fmt.Errorf("%w: points must be from 1 to %d", media.ErrInvalid, media.MaxPeakPoints)
	}
	if err != nil {
		if errors.Is(err, media.ErrInvalid) {
			ev.Outcome, ev.Detail = recvault.OutcomeInvalid, "waveform: "+trimInvalid(err)
			if aerr := s.record(ctx, p, ev); aerr != nil {
				return nil, nil, aerr
			}
			return nil, nil, recvault.Errorf(recvault.EINVALID, "%s", trimInvalid(err))
		}
		return nil, nil, s.failed(ctx, p, recvault.ActionMetadata, "id="+r.ID, recvault.Internal(fmt.Errorf("%w: plan peaks: %v", ErrConversion, err)))
	}
	compute := func(ctx context.Context) (*media.Peaks, error) {
		blob, err := s.openBlob(ctx, r)
		if err != nil {
			return nil, err
		}
		defer blob.Close()
		pk, err := out.Peaks(ctx, io.NewSectionReader(blob, 0, blob.Size()), points)
		if err != nil {
			return nil, s.conversionError(ctx, r, "peaks", err)
		}
		return pk, nil
	}
	var pk *media.Peaks
	if s.cfg.Cache == nil {
		pk, err = compute(ctx)
	} else {
		pk, err = s.cachedPeaks(ctx, r, points, compute)
	}
	if err != nil {
		ev.Outcome = recvault.OutcomeError
		if errors.Is(err, recvault.ErrIntegrity) {
			ev.Detail = "waveform: integrity failure"
		}
		s.note(ctx, p, ev)
		return nil, nil, err
	}
	ev.Outcome = recvault.OutcomeGranted
	if err := s.record(ctx, p, ev); err != nil {
		return nil, nil, err
	}
	return r, pk, nil
}

// cachedPeaks returns the envelope from the transcode cache, computing and
// storing it (as JSON) on a miss.
func (s *Service) cachedPeaks(ctx context.Context, r *recvault.Recording, points int, compute func(context.Context) (*media.Peaks, error)) (*media.Peaks, error) {
	key := conversionKey(r, "peaks-v1-"+strconv.Itoa(points))
	var fresh *media.Peaks
	f, _, err := s.cfg.Cache.Fill(ctx, key, nil, func(ctx context.Context, w io.Writer) error {
		pk, err := compute(ctx)
		if err != nil {
			return err
		}
		fresh = pk
		return json.NewEncoder(w).Encode(pk)
	})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fresh != nil {
		return fresh, nil
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, f); err != nil {
		return nil, recvault.Internal(fmt.Errorf("%w: read cached peaks: %v", ErrStorage, err))
	}
	pk := new(media.Peaks)
	if err := json.Unmarshal(buf.Bytes(), pk); err != nil {
		return nil, recvault.Internal(fmt.Errorf("%w: cached peaks of %s: %v", ErrStorage, r.ID, err))
	}
	return pk, nil
}
