package httputil

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"

	"github.com/recvault/recvault/internal/sendfile"
	"github.com/recvault/recvault/metrics"
	"github.com/recvault/recvault/vault"
)

// holdWriter passes a response through but holds its status line back
// until the first body byte is ready, so that a download whose very first
// read fails (a chunk that fails verification at the start of a Range, a
// conversion whose input is bad from the outset) can still be answered
// with the API's clean error instead of a cut connection. Once a byte has
// been handed to the connection, the status is out and a later failure can
// only cut the transfer.
//
// It keeps sendfile: a file source goes straight to the underlying
// ReadFrom (files are not verified by reading, so there is nothing to wait
// for), any other source is read once into a small buffer before the
// status is released.
type holdWriter struct {
	http.ResponseWriter
	code int  // the status held back; 0 while none was set
	sent bool // the status went to the underlying writer
	// sendfile: the connection is plain TCP, so a body in a local file is
	// sent from it. Over TLS every byte is encrypted in the process anyway,
	// and net/http would copy a span through a 32 KiB buffer held for as
	// long as a slow client takes, where the copy path holds one 16 KiB
	// chunk buffer.
	sendfile bool
}

// WriteHeader holds code until the body starts (or release).
func (h *holdWriter) WriteHeader(code int) {
	if h.sent || code < 200 {
		h.ResponseWriter.WriteHeader(code)
		return
	}
	if h.code == 0 {
		h.code = code
	}
}

// release sends the held status, once.
func (h *holdWriter) release() {
	if h.sent {
		return
	}
	h.sent = true
	if h.code != 0 {
		h.ResponseWriter.WriteHeader(h.code)
	}
}

func (h *holdWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	h.release()
	return h.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer.
func (h *holdWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// primeBufs holds the buffers of the first read of a non-file body. One
// read of a sealed blob verifies the whole chunk it falls in, so a small
// buffer is enough to know whether the start of the body is good.
var primeBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// ReadFrom reads src once before releasing the status, then hands the rest
// to the underlying writer's ReadFrom (sendfile for files, a pooled buffer
// otherwise). A first read that fails returns its error with nothing sent.
func (h *holdWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok && !IsFile(src) {
		if wt, ok := lr.R.(io.WriterTo); ok {
			// A verified blob writes its chunks itself: no copy buffer,
			// and the status goes out with the first verified bytes.
			// One that lies in a local file is sent from the file, unless
			// it is small (see minSpanBody).
			fs, ok := lr.R.(vault.FileSpanner)
			if rf, rok := h.ResponseWriter.(io.ReaderFrom); ok && rok && h.sendfile && fs.SendsFile() && lr.N > minSpanBody {
				return h.sendSpans(rf, fs, lr)
			}
			return h.writeTo(wt, lr, lr.N)
		}
	}
	var sent int64
	if !h.sent && !IsFile(src) {
		bp := primeBufs.Get().(*[]byte)
		n, err := src.Read(*bp)
		if n == 0 && err != nil {
			primeBufs.Put(bp)
			if errors.Is(err, io.EOF) {
				return 0, nil
			}
			return 0, err
		}
		m, werr := h.Write((*bp)[:n])
		primeBufs.Put(bp) // not held for the rest of a slow stream
		sent = int64(m)
		if werr != nil {
			return sent, werr
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return sent, nil
			}
			return sent, err
		}
	}
	h.release()
	if rf, ok := h.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		return sent + n, err
	}
	n, err := io.Copy(writerOnly{h.ResponseWriter}, src)
	return sent + n, err
}

// minSpanBody is the largest body written from the checked bytes rather
// than sent from the file: one chunk, which Open has already read and
// checked into the blob's buffer, so that one write sends it. A larger
// body is checked where the page cache holds it (the blob's kept map)
// and sent by sendfile, with no copy in the process. Before the maps the
// limit was 128 KiB: a small recording read and checked in one buffer
// and written in one call measured equal to sendfile within noise (4,039
// against 3,937 req/s, 100 KB); checked in the map and sent by sendfile
// it costs 3 % less server CPU than copied out of the map, checked and
// written (285 against 294 µs per 100 KB download, medians of eight
// interleaved rounds, lower in six).
const minSpanBody = 16 << 10

// maxSpan is the most a sendSpans asks for at once; the blob cuts a span
// shorter (8 chunks, 128 KiB).
const maxSpan = 1 << 20

// writeTo writes up to limit bytes of lr (whose R is wt) through wt's
// WriteTo, capped at the range's end: the copy path.
func (h *holdWriter) writeTo(wt io.WriterTo, lr *io.LimitedReader, limit int64) (int64, error) {
	cw := &capWriter{w: writerOnly{h}, n: min(limit, lr.N)}
	n, err := wt.WriteTo(cw)
	lr.N -= n
	if errors.Is(err, errCapped) {
		err = nil
	}
	return n, err
}

// sendSpans sends lr's range of fs span by span: each is verified, then
// handed to rf as a sendfile.Span, which the connection (server's
// sendConn) sends by sendfile. The status goes out with the first
// verified span, as for any body. When the client's socket is full the
// connection returns sendfile.ErrWouldBlock, which takes the span out of
// net/http's ReadFrom (and gives back the 32 KiB buffer it lends every
// call) to wait for room here, holding nothing: a download blocked on a
// slow client costs no more than on the copy path.
func (h *holdWriter) sendSpans(rf io.ReaderFrom, fs vault.FileSpanner, lr *io.LimitedReader) (int64, error) {
	var total int64
	for lr.N > 0 {
		f, mapped, n, err := fs.FileSpan(min(lr.N, maxSpan))
		if errors.Is(err, io.EOF) {
			return total, nil
		} else if err != nil {
			return total, err
		}
		h.release()
		sp := &sendfile.Span{File: f, N: n, Mapped: mapped}
		for sp.N > 0 {
			m, err := rf.ReadFrom(sp)
			metrics.SentFromFile(m)
			total += m
			lr.N -= m
			switch {
			case errors.Is(err, sendfile.ErrWouldBlock):
				if err := sp.Wait(); err != nil {
					return total, err
				}
			case err != nil:
				return total, err
			case m == 0:
				return total, fmt.Errorf("send recording: %w: the file ended %d bytes before its span", io.ErrUnexpectedEOF, sp.N)
			}
		}
	}
	return total, nil
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// errCapped ends a WriteTo that reached its writer's limit.
var errCapped = errors.New("range written")

// capWriter passes at most n bytes on, then fails with errCapped: it turns
// a WriteTo of the rest of a body into the range http.ServeContent asked
// for (an io.LimitedReader's N).
type capWriter struct {
	w io.Writer
	n int64
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errCapped
	}
	short := int64(len(p)) > c.n
	if short {
		p = p[:c.n]
	}
	n, err := c.w.Write(p)
	c.n -= int64(n)
	if err == nil && short {
		err = errCapped
	}
	return n, err
}

// errWriter remembers whether a failure came from the writer.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

// IsFile reports whether src is a file, possibly limited to a range as
// http.ServeContent does: what the connection can sendfile.
func IsFile(src io.Reader) bool {
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	switch src.(type) {
	case *os.File, *sendfile.Span:
		return true
	}
	return false
}

// readWatch remembers the first failure of a download body's reads (other
// than io.EOF), which http.ServeContent does not report. The mutex is for
// a multipart answer, whose parts ServeContent reads in a goroutine that
// may outlive it when the client leaves.
type readWatch struct {
	io.ReadSeeker
	mu  sync.Mutex
	err error
}

func (r *readWatch) Read(p []byte) (int, error) {
	n, err := r.ReadSeeker.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

// readWatchTo is readWatch for a body with its own WriteTo (a verified
// blob's), kept reachable; it records the failures of WriteTo that did
// not come from the writer.
type readWatchTo struct{ *readWatch }

func (r readWatchTo) WriteTo(dst io.Writer) (int64, error) {
	ew := &errWriter{w: dst}
	n, err := r.ReadSeeker.(io.WriterTo).WriteTo(ew)
	if err != nil && ew.err == nil && !errors.Is(err, io.EOF) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return n, err
}

// readWatchFile is readWatchTo for a body that can also be sent from its
// file (vault.FileSpanner), kept reachable; it records FileSpan's failures.
type readWatchFile struct{ readWatchTo }

func (r readWatchFile) SendsFile() bool { return r.ReadSeeker.(vault.FileSpanner).SendsFile() }

func (r readWatchFile) FileSpan(max int64) (*os.File, []byte, int64, error) {
	f, mapped, n, err := r.ReadSeeker.(vault.FileSpanner).FileSpan(max)
	if err != nil && !errors.Is(err, io.EOF) {
		r.mu.Lock()
		if r.err == nil {
			r.err = err
		}
		r.mu.Unlock()
	}
	return f, mapped, n, err
}

// failure is the first read error, if any.
func (r *readWatch) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
