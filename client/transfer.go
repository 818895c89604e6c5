package client

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Source is one recording to download, as a protocol client describes it
// to the transfer engine.
type Source struct {
	// Name labels the download in progress reports.
	Name string
	// Request builds the request of one attempt. It is called again for
	// every attempt, so a renewed session or a rotated GUID is used.
	Request func(ctx context.Context) (*http.Request, error)
	// Fail turns an answer that is not a recording (a non-2xx status, or a
	// 2xx whose body is JSON, HTML or empty) into an *Error in the
	// protocol's terms; body is at most its first 64 KiB. nil means the
	// generic mapping of the HTTP status.
	Fail func(resp *http.Response, body []byte) *Error
	// Renew signs in again after ErrUnauthenticated; nil when it cannot. It
	// is called at most once per download.
	Renew func(ctx context.Context) error
}

// Result describes a completed download.
type Result struct {
	MediaType string // the Content-Type's media type (sniffed when generic)
	Ext       string // file extension for it, with the dot
	Size      int64  // bytes written
	SHA256    string // hex SHA-256 of the bytes written
	ETag      string // the server's validator, when it gave one
	Filename  string // the Content-Disposition file name, when given
}

// Progress is reported while a download runs.
type Progress struct {
	Name  string
	Done  int64 // bytes written so far
	Total int64 // expected size; -1 when the server did not say
}

// Transfer runs downloads. The zero value works; its fields tune it.
type Transfer struct {
	HTTP  *http.Client // default http.DefaultClient
	Retry Retry
	// IdleTimeout cuts an attempt whose body sends nothing for this long,
	// so a stalled connection is retried instead of hanging; default 60 s.
	IdleTimeout time.Duration
	// Progress, when set, is called after every chunk written and once at
	// the start of each attempt's body. It must be quick.
	Progress func(Progress)
}

// Download streams one recording to w and returns what it was. A cut
// connection is resumed with Range + If-Range from the bytes already
// written; if the recording changed meanwhile, w must be rewindable (have
// Seek and Truncate, as *os.File has) to start over, else ErrChanged.
func (t *Transfer) Download(ctx context.Context, src Source, w io.Writer) (Result, error) {
	st := &state{w: w, h: sha256.New(), total: -1}
	return t.run(ctx, src, st)
}

// state is a download in progress: what has been written where.
type state struct {
	w         io.Writer
	h         hash.Hash
	off       int64  // bytes written to w (and hashed)
	validator string // strong ETag or Last-Modified of the bytes held, for If-Range
	total     int64  // expected full size; -1 unknown
	res       Result
	// onStart is told the validator whenever a new body starts at offset 0.
	onStart func(validator string)
}

var (
	errStalled       = errors.New("connection stalled: no data within the idle timeout")
	errNotRewindable = errors.New("destination cannot be rewound")
	errRestart       = errors.New("server cannot continue the partial download; starting over")
)

// fatalError marks a failure that retrying cannot fix (a request that
// cannot be built).
type fatalError struct{ err error }

func (f fatalError) Error() string { return f.err.Error() }
func (f fatalError) Unwrap() error { return f.err }

type rewinder interface {
	io.Seeker
	Truncate(int64) error
}

// rewind empties the destination to start the recording over.
func (st *state) rewind() error {
	if st.off == 0 {
		st.h.Reset()
		return nil
	}
	rw, ok := st.w.(rewinder)
	if !ok {
		return ErrChanged
	}
	if err := rw.Truncate(0); err != nil {
		return writeError{err}
	}
	if _, err := rw.Seek(0, io.SeekStart); err != nil {
		return writeError{err}
	}
	st.h.Reset()
	st.off = 0
	st.validator = ""
	return nil
}

func (t *Transfer) run(ctx context.Context, src Source, st *state) (Result, error) {
	retry := t.Retry.withDefaults()
	renewed := false
	failures := 0
	for {
		before := st.off
		err := t.attempt(ctx, src, st)
		if err == nil {
			st.res.Size = st.off
			st.res.SHA256 = hex.EncodeToString(st.h.Sum(nil))
			return st.res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		var e *Error
		isErr := errors.As(err, &e)
		if isErr && e.Kind == ErrUnauthenticated && src.Renew != nil && !renewed {
			renewed = true
			if rerr := src.Renew(ctx); rerr != nil {
				return Result{}, fmt.Errorf("%w (signing in again failed: %v)", err, rerr)
			}
			continue
		}
		if errors.Is(err, errRestart) {
			if rerr := st.rewind(); rerr != nil {
				return Result{}, rerr
			}
			continue
		}
		var fe fatalError
		if errors.As(err, &fe) || !retryable(err) {
			return Result{}, err
		}
		// A cut that still moved the download forward does not use up an
		// attempt: a flaky link may need many resumes of a large file.
		if st.off > before {
			failures = 0
		}
		failures++
		if failures >= retry.Attempts {
			return Result{}, fmt.Errorf("after %d attempts: %w", failures, err)
		}
		var ra time.Duration
		if isErr {
			ra = e.RetryAfter
		}
		if err := sleep(ctx, retry.Delay(failures, ra)); err != nil {
			return Result{}, err
		}
	}
}

const errBodyLimit = 64 << 10

// attempt makes one request and writes what it brings.
func (t *Transfer) attempt(ctx context.Context, src Source, st *state) error {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := src.Request(actx)
	if err != nil {
		return fatalError{err}
	}
	resuming := st.off > 0 && st.validator != ""
	if resuming {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(st.off, 10)+"-")
		req.Header.Set("If-Range", st.validator)
	}
	hc := t.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && st.off > 0 {
		return errRestart
	}
	fail := func(body []byte) error {
		var e *Error
		if src.Fail != nil {
			e = src.Fail(resp, body)
		}
		if e == nil {
			e = StatusError(resp, body)
		}
		if e.RetryAfter == 0 {
			e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return e
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, errBodyLimit))
		return fail(body)
	}
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	head, _ := br.Peek(512)
	ctype := resp.Header.Get("Content-Type")
	partial := resp.StatusCode == http.StatusPartialContent
	// A 206 continues bytes already judged; the middle of a recording may
	// look like anything.
	if !partial && !isRecording(ctype, head) {
		body, _ := io.ReadAll(io.LimitReader(br, errBodyLimit))
		e := fail(body)
		var ee *Error
		if errors.As(e, &ee) && ee.Kind == ErrServer && ee.Code == "" && ee.Message == "" {
			ee.Message = fmt.Sprintf("the answer is not a recording (Content-Type %q, %d bytes)", ctype, len(body))
		}
		return e
	}
	validator := strongValidator(resp.Header)
	if partial {
		start, total, ok := contentRange(resp.Header.Get("Content-Range"))
		if !ok || start != st.off {
			return errRestart
		}
		st.total = total
		if st.res.Ext == "" {
			// Resumed from a partial file of an earlier run: the headers
			// of the 206 describe the whole recording too.
			st.res = Result{MediaType: MediaType(ctype), Ext: Ext(ctype, resp.Header.Get("Content-Disposition"), nil),
				ETag: resp.Header.Get("ETag"), Filename: dispositionName(resp.Header.Get("Content-Disposition"))}
		}
	} else {
		if st.off > 0 {
			if validator != "" && validator == st.validator && resp.ContentLength != 0 {
				// Same recording, but the server ignored the range: skip
				// what we already hold.
				if _, err := io.CopyN(io.Discard, br, st.off); err != nil {
					return err
				}
			} else if err := st.rewind(); err != nil {
				return err
			}
		}
		st.total = resp.ContentLength
		st.validator = validator
		mt := MediaType(ctype)
		if mt == "" || mt == "application/octet-stream" || mt == "binary/octet-stream" {
			if s := sniff(head); s != "" && st.off == 0 {
				mt = s
			}
		}
		st.res = Result{MediaType: mt, Ext: Ext(ctype, resp.Header.Get("Content-Disposition"), head),
			ETag: resp.Header.Get("ETag"), Filename: dispositionName(resp.Header.Get("Content-Disposition"))}
		if st.onStart != nil && st.off == 0 {
			st.onStart(validator)
		}
	}
	return t.copyBody(actx, cancel, src.Name, br, st)
}

// copyBody writes the body to the destination, hashing and counting, and
// cuts the attempt when the body stalls.
func (t *Transfer) copyBody(ctx context.Context, cancel context.CancelCauseFunc, name string, body io.Reader, st *state) error {
	idle := t.IdleTimeout
	if idle <= 0 {
		idle = 60 * time.Second
	}
	timer := time.AfterFunc(idle, func() { cancel(errStalled) })
	defer timer.Stop()
	report := func() {
		if t.Progress != nil {
			t.Progress(Progress{Name: name, Done: st.off, Total: st.total})
		}
	}
	report()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			timer.Reset(idle)
			if st.total >= 0 && st.off+int64(n) > st.total {
				// More bytes than announced: never keep a file that is not
				// what the server said it was.
				st.rewind()
				return fmt.Errorf("server sent more than the %d bytes it announced", st.total)
			}
			if _, err := st.w.Write(buf[:n]); err != nil {
				return writeError{err}
			}
			st.h.Write(buf[:n])
			st.off += int64(n)
			report()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if c := context.Cause(ctx); errors.Is(c, errStalled) {
				return errStalled
			}
			return rerr
		}
	}
	if st.total >= 0 && st.off != st.total {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// strongValidator returns what If-Range may carry: a strong ETag, else the
// Last-Modified date; "" when there is neither (then a cut download
// starts over).
func strongValidator(h http.Header) string {
	if et := strings.TrimSpace(h.Get("ETag")); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	if lm := h.Get("Last-Modified"); lm != "" {
		if _, err := http.ParseTime(lm); err == nil {
			return lm
		}
	}
	return ""
}

// contentRange parses "bytes START-END/TOTAL" (TOTAL may be "*").
func contentRange(v string) (start, total int64, ok bool) {
	v, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	s, e, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(s, 10, 64)
	end, err2 := strconv.ParseInt(e, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n <= end {
			return 0, 0, false
		}
		total = n
	}
	return start, total, true
}

func dispositionName(v string) string {
	if _, params, err := mime.ParseMediaType(v); err == nil {
		return params["filename"]
	}
	return ""
}

// StatusError is the generic reading of a failed answer: the kind from the
// HTTP status, the message from the first line of a short text body.
func StatusError(resp *http.Response, body []byte) *Error {
	e := &Error{Kind: KindOfStatus(resp.StatusCode), Status: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		e.Kind = ErrServer
		return e
	}
	msg := strings.TrimSpace(string(body))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	e.Message = msg
	return e
}
