package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/metrics"
)

// ErrStorage and ErrConversion classify internal failures of a download:
// the stored bytes could not be read, or could not be converted. Façades
// whose clients tell them apart (CC-Gateway retcodes) test with errors.Is.
var (
	ErrStorage    = errors.New("storage failure")
	ErrConversion = errors.New("conversion failure")
)

// Download is a prepared answer to a media request: the headers and either
// a seekable body (served with Range support) or a one-pass stream.
type Download struct {
	Recording   *recvault.Recording
	ContentType string
	Filename    string // <crtObjectId><ext>
	ETag        string // strong, quoted; differs per output format
	ModTime     time.Time
	Size        int64 // -1 when known only after converting

	// Content is set when the body can be read at any offset: the stored
	// bytes, a PCM/G.711 output computed by offset, or a cached conversion.
	Content io.ReadSeeker
	// Stream is set otherwise: it writes the whole body (a conversion that
	// fills the cache on the way) and stops when ctx ends or w fails.
	Stream func(w io.Writer) error

	closers []io.Closer
}

// Close releases the files behind the download.
func (d *Download) Close() error {
	for _, c := range d.closers {
		c.Close()
	}
	return nil
}

// MediaSource is what the media engine needs to know of a recording.
func MediaSource(r *recvault.Recording) media.Source {
	kind := probe.Voice
	if r.Kind == recvault.KindVideo {
		kind = probe.Video
	}
	return media.Source{Size: r.Size, Info: probe.Info{
		Kind: kind, Container: probe.Container(r.Format.Container), Codec: r.Format.Codec,
		SampleRate: r.Format.SampleRate, Channels: r.Format.Channels, Duration: r.Duration,
		DataOffset: r.Format.DataOffset, DataSize: r.Format.DataSize,
	}}
}

// Download authorises p for r, audits the attempt (with the output and the
// byte range asked for), and prepares the output w asks for. A recording p
// may not have is ENOTFOUND, like a missing one; the format and channels
// are checked only after that, so that a refusal reveals nothing of what a
// forbidden recording is. w.Range or w.Whole say the client needs the body
// at arbitrary offsets or with a known length: an output whose size is
// unknown is then converted into the cache first, instead of streamed while
// converting.
func (s *Service) Download(ctx context.Context, p *recvault.Principal, r *recvault.Recording, w Want) (*Download, error) {
	action := w.action()
	if !p.MayAccess(r) {
		return nil, s.refuse(ctx, p, recvault.AuditEvent{Action: action, RecordingID: r.ID, Subject: w.Subject,
			Outcome: recvault.OutcomeDenied, Detail: "not permitted"})
	}
	req, random := w.Media, w.Range != "" || w.Whole
	if req.AgentChannel == 0 && r.Format.AgentChannel > 0 {
		req.AgentChannel = r.Format.AgentChannel
	}
	ev := recvault.AuditEvent{Action: action, RecordingID: r.ID, Format: req.Format, Range: clip(w.Range, 200)}
	if ev.Format == "" {
		ev.Format = media.FormatOriginal
	}
	if w.Playback != "" && !validPlayback(w.Playback) {
		ev.Outcome, ev.Detail = recvault.OutcomeInvalid, "malformed playback id"
		if aerr := s.record(ctx, p, ev); aerr != nil {
			return nil, aerr
		}
		return nil, recvault.Errorf(recvault.EINVALID, "play must be 16 to 64 letters, digits, - or _")
	}
	out, err := media.Plan(MediaSource(r), req)
	if err != nil {
		if errors.Is(err, media.ErrInvalid) {
			ev.Outcome, ev.Detail = recvault.OutcomeInvalid, trimInvalid(err)
			if aerr := s.record(ctx, p, ev); aerr != nil {
				return nil, aerr
			}
			return nil, recvault.Errorf(recvault.EINVALID, "%s", trimInvalid(err))
		}
		return nil, s.failed(ctx, p, action, "id="+r.ID, recvault.Internal(fmt.Errorf("%w: plan: %v", ErrConversion, err)))
	}
	blob, err := s.openBlob(ctx, r)
	if err != nil {
		ev.Outcome, ev.Detail = recvault.OutcomeError, "stored bytes unreadable"
		if errors.Is(err, recvault.ErrIntegrity) {
			ev.Detail = "integrity failure"
			s.log.Error("stored recording failed verification", "recording", r.ID, "err", err)
		}
		s.note(ctx, p, ev)
		return nil, err
	}
	blob = s.watch(ctx, blob, p, ev)
	// The answer starts only after its audit record is durable.
	ev.Outcome = recvault.OutcomeGranted
	first, err := s.firstOfPlayback(ctx, p, r, out.Key(), w)
	if err == nil && first {
		err = s.record(ctx, p, ev)
	}
	if err != nil {
		blob.Close()
		return nil, err
	}
	d := &Download{Recording: r, ContentType: out.ContentType, Filename: r.CRTObjectID + out.Ext,
		ModTime: r.CreatedAt, Size: out.Size, closers: []io.Closer{blob}}
	if out.Format == media.FormatOriginal {
		d.ETag = `"` + r.SHA256[:32] + `"`
		d.Content = blob
		return d, nil
	}
	key := out.Key()
	kh := sha256.Sum256([]byte(key))
	d.ETag = `"` + r.SHA256[:20] + "-" + hex.EncodeToString(kh[:6]) + `"`
	if out.Seekable {
		metrics.Transcode(out.Format, "by-offset")
		rs, err := out.Open(ctx, blob)
		if err != nil {
			d.Close()
			return nil, recvault.Internal(fmt.Errorf("%w: open output %s of %s: %v", ErrConversion, key, r.ID, err))
		}
		d.Content = rs
		return d, nil
	}
	// whole converts the recording from its start, counted and timed.
	whole := func(ctx context.Context, w io.Writer) error {
		metrics.Transcode(out.Format, "whole")
		start := time.Now()
		_, err := out.WriteTo(ctx, w, io.NewSectionReader(blob, 0, blob.Size()))
		if err == nil {
			metrics.TranscodeDone(out.Format, time.Since(start))
		}
		return err
	}
	if s.cfg.Cache == nil {
		d.Stream = func(w io.Writer) error { return whole(ctx, w) }
		return d, nil
	}
	// Keyed by recording as well as by content: a conversion is filled only
	// from this recording's verified reads, so one recording's corrupt blob
	// can never be served for another with the same bytes.
	cacheKey := conversionKey(r, key)
	produce := whole
	f, ok := s.cfg.Cache.Get(cacheKey)
	metrics.CacheLookup(ok)
	if ok {
		return s.fromCache(d, f)
	}
	if random {
		f, _, err := s.cfg.Cache.Fill(ctx, cacheKey, nil, produce)
		if err != nil {
			d.Close()
			return nil, s.conversionError(ctx, r, key, err)
		}
		return s.fromCache(d, f)
	}
	d.Stream = func(w io.Writer) error {
		f, streamed, err := s.cfg.Cache.Fill(ctx, cacheKey, w, produce)
		if err != nil {
			return s.conversionError(ctx, r, key, err)
		}
		defer f.Close()
		if !streamed {
			_, err = io.Copy(w, f)
		}
		return err
	}
	return d, nil
}

// firstOfPlayback reports whether this request starts the playback w
// names, and so must be audited; a request without a playback id always
// is. The claim is a catalogue lease named by session, recording, output
// and playback, so every replica agrees which request was first: the
// first takes it, the ones after find it held by another request. It
// lasts a session's lifetime, which no playback outlives.
func (s *Service) firstOfPlayback(ctx context.Context, p *recvault.Principal, r *recvault.Recording, output string, w Want) (bool, error) {
	if w.Playback == "" || w.action() != recvault.ActionPlay {
		return true, nil
	}
	who := "user" + strconv.FormatInt(p.User.ID, 10)
	if p.Session != nil {
		who = "session" + strconv.FormatInt(p.Session.ID, 10)
	}
	now := s.now()
	ok, err := s.cat.AcquireLease(ctx, "play|"+who+"|"+r.ID+"|"+output+"|"+w.Playback, newID(), now, now.Add(s.cfg.SessionMax))
	if err != nil {
		return false, recvault.Internal(fmt.Errorf("claim playback: %w", err))
	}
	return ok, nil
}

// validPlayback is the form of a playback id: 16 to 64 letters, digits,
// '-' or '_' (it becomes part of a lease name).
func validPlayback(id string) bool {
	if len(id) < 16 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// watched is an open recording that logs and audits the first integrity
// failure of any read (a chunk that fails verification mid-way through a
// download: the stream then ends in error and the connection is cut, and
// the bad bytes are never sent).
type watched struct {
	recvault.Blob
	s    *Service
	ctx  context.Context
	p    *recvault.Principal
	ev   recvault.AuditEvent
	once sync.Once
}

func (w *watched) check(err error) error {
	if err != nil && errors.Is(err, recvault.ErrIntegrity) {
		w.once.Do(func() {
			w.s.log.Error("stored recording failed verification", "recording", w.ev.RecordingID, "err", err,
				"request_id", RequestInfoFrom(w.ctx).RequestID)
			ev := w.ev
			ev.Outcome, ev.Detail = recvault.OutcomeError, "integrity failure"
			w.s.note(context.WithoutCancel(w.ctx), w.p, ev)
		})
	}
	return err
}

func (w *watched) Read(p []byte) (int, error) {
	n, err := w.Blob.Read(p)
	return n, w.check(err)
}

// watchedTo is watched for a blob with its own WriteTo (a sealed blob
// writes each verified chunk with no copy buffer), kept reachable.
type watchedTo struct{ *watched }

func (w watchedTo) WriteTo(dst io.Writer) (int64, error) {
	n, err := w.Blob.(io.WriterTo).WriteTo(dst)
	return n, w.check(err)
}

// FileSpanner is a Download's Content whose verified bytes can be sent
// from its stored file a span at a time (blob/sealed's mode 4 on a local
// disk, which api/httputil sends by sendfile): FileSpan checks the next
// bytes, at most max, and returns the file positioned at them, how many,
// and, if the file is memory-mapped, the same bytes in the map (for
// sendfile.Span's Mapped: to be handed to the kernel only, never read in
// the process).
type FileSpanner interface {
	SendsFile() bool
	FileSpan(max int64) (f *os.File, mapped []byte, n int64, err error)
}

// watchedFile is watchedTo for a blob that is also a FileSpanner, kept
// reachable, with FileSpan's integrity failures watched as well.
type watchedFile struct{ watchedTo }

func (w watchedFile) SendsFile() bool { return w.Blob.(FileSpanner).SendsFile() }

func (w watchedFile) FileSpan(max int64) (*os.File, []byte, int64, error) {
	f, mapped, n, err := w.Blob.(FileSpanner).FileSpan(max)
	return f, mapped, n, w.check(err)
}

// watch wraps b in watched, keeping its WriteTo and FileSpan if it has
// them.
func (s *Service) watch(ctx context.Context, b recvault.Blob, p *recvault.Principal, ev recvault.AuditEvent) recvault.Blob {
	w := &watched{Blob: b, s: s, ctx: ctx, p: p, ev: ev}
	if _, ok := b.(io.WriterTo); ok {
		if _, ok := b.(FileSpanner); ok {
			return watchedFile{watchedTo{w}}
		}
		return watchedTo{w}
	}
	return w
}

func (w *watched) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.Blob.ReadAt(p, off)
	return n, w.check(err)
}

// fromCache serves a converted output from its cache file (with sendfile).
func (s *Service) fromCache(d *Download, f *os.File) (*Download, error) {
	d.closers = append(d.closers, f)
	info, err := f.Stat()
	if err != nil {
		d.Close()
		return nil, recvault.Internal(fmt.Errorf("%w: stat cached output: %v", ErrStorage, err))
	}
	d.Size = info.Size()
	d.Content = f
	return d, nil
}

func (s *Service) conversionError(ctx context.Context, r *recvault.Recording, key string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the client went away; nothing to report
	}
	return recvault.Internal(fmt.Errorf("%w: convert recording %s to %s: %v", ErrConversion, r.ID, key, err))
}

// clip bounds a client-supplied string kept in the audit trail.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// trimInvalid drops the "invalid media request: " prefix media errors carry.
func trimInvalid(err error) string {
	msg := err.Error()
	const prefix = "invalid media request: "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}

// conversionKey names output (a media.Output key) of recording r in the
// transcode cache: by recording, so that one recording's outputs are never
// served for another's, and by content, so that bytes replaced under the
// same id never meet an output of the old ones.
func conversionKey(r *recvault.Recording, output string) string {
	return conversionPrefix(r.ID) + r.SHA256 + "|" + output
}

// conversionPrefix starts the cache key of every output of recording id:
// what a deletion drops.
func conversionPrefix(id string) string { return id + "|" }
