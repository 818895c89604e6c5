// Package httputil holds the HTTP plumbing every façade shares: serving a
// prepared download with Range/ETag support and the Content-Disposition
// header. It knows no wire format of its own.
package httputil

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/metrics"
	"github.com/recvault/recvault/vault"
)

// SessionCookie is the cookie that carries a web console session's token
// (HttpOnly, SameSite=Strict). The native API accepts it for GET requests,
// so that a page's <audio> element and download links work without a
// bearer header.
const SessionCookie = "recvault_session"

// Attachment returns a Content-Disposition value naming the file, escaped
// per RFC 6266/2231 when the name is not plain ASCII.
func Attachment(name string) string { return disposition("attachment", name) }

// Inline is Attachment for a body the browser should show or play in the
// page (a player's media) rather than save.
func Inline(name string) string { return disposition("inline", name) }

func disposition(kind, name string) string {
	name = cleanFilename(name)
	if isToken(name) {
		// What FormatMediaType writes for a token (a crtObjectId and an
		// extension, the usual name), without its map, sort and builder:
		// a download's header costs a microsecond less.
		return kind + "; filename=" + name
	}
	v := mime.FormatMediaType(kind, map[string]string{"filename": name})
	if v == "" {
		return kind
	}
	return v
}

// cleanFilename replaces in name what a Content-Disposition file name
// must not carry: control characters, path separators and quotes.
func cleanFilename(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, name)
}

// isToken reports whether s is an RFC 2045 token: one or more printable
// ASCII characters, none of them a space or a tspecial.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// ServeDownload writes d. A seekable body goes through http.ServeContent,
// which implements Range, If-Range, If-None-Match and If-Modified-Since
// (206, 304, 412, 416), with sendfile when the body is a plain file. A
// stream (a conversion running for this request) is sent whole with its
// ETag; the next request for it is served from the transcode cache.
// ctype overrides d.ContentType when not empty (vendor APIs fix their own).
// The body is an attachment named d.Filename unless the caller set its own
// Content-Disposition (Inline, for playback).
//
// The status line is held back until the first body byte is ready. If the
// body fails before that (the first chunk a Range reads fails
// verification, a conversion fails on its first input), nothing has been
// sent: the headers set for the download are taken back and the error is
// returned, wrapped as an internal storage failure, for the façade to
// answer in its own format (v1 and Ameyo 500, CC-Gateway 108-014). A body
// that fails after bytes went out can no longer be answered with an error:
// the failure is logged with the request id and the connection is cut, so
// the client sees a broken transfer rather than a short file that looks
// complete; ServeDownload then returns nil. A client that left is not
// logged.
func ServeDownload(w http.ResponseWriter, r *http.Request, d *vault.Download, ctype string, log *slog.Logger) error {
	metrics.DownloadStarted()
	defer metrics.DownloadEnded()
	before := w.Header().Clone()
	hw := &holdWriter{ResponseWriter: w, sendfile: r.TLS == nil}
	err := serveDownload(hw, r, d, ctype)
	if err == nil {
		hw.release()
		return nil
	}
	if r.Context().Err() != nil {
		return nil // the client left: nobody to answer
	}
	if !hw.sent {
		h := w.Header()
		clear(h)
		for k, v := range before {
			h[k] = v
		}
		return recvault.Internal(fmt.Errorf("%w: read recording %s: %w", vault.ErrStorage, d.Recording.ID, err))
	}
	log.Error("media stream failed", "err", err, "path", r.URL.Path,
		"request_id", vault.RequestInfoFrom(r.Context()).RequestID)
	panic(http.ErrAbortHandler)
}

func serveDownload(w http.ResponseWriter, r *http.Request, d *vault.Download, ctype string) error {
	if ctype == "" {
		ctype = d.ContentType
	}
	h := w.Header()
	// The six values share one backing array (Header.Set makes a slice
	// for each); the keys are in canonical form, as Set would write them.
	vals := [6]string{ctype, "", d.ETag, "bytes", "nosniff", "private, no-transform"}
	v := vals[:]
	h["Content-Type"] = v[0:1:1]
	if h.Get("Content-Disposition") == "" {
		v[1] = Attachment(d.Filename)
		h["Content-Disposition"] = v[1:2:2]
	}
	h["Etag"] = v[2:3:3]
	h["Accept-Ranges"] = v[3:4:4]
	h["X-Content-Type-Options"] = v[4:5:5]
	h["Cache-Control"] = v[5:6:6]
	if d.Content != nil {
		content := d.Content
		if f, ok := content.(interface{ OSFile() *os.File }); ok {
			content = f.OSFile()
		}
		var watch *readWatch
		if _, ok := content.(*os.File); !ok {
			// ServeContent drops read errors: watch for them.
			watch = &readWatch{ReadSeeker: content}
			content = watch
			if _, ok := watch.ReadSeeker.(io.WriterTo); ok {
				content = readWatchTo{watch}
				if _, ok := watch.ReadSeeker.(vault.FileSpanner); ok {
					content = readWatchFile{readWatchTo{watch}}
				}
			}
		}
		if rh := r.Header.Get("Range"); rh != "" {
			size := d.Size
			if size < 0 {
				end, err := content.Seek(0, io.SeekEnd)
				if err != nil {
					return fmt.Errorf("size of download: %w", err)
				}
				if _, err := content.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("rewind download: %w", err)
				}
				size = end
			}
			if sane := saneRange(rh, size); sane != rh {
				r = r.Clone(r.Context())
				if sane == "" {
					r.Header.Del("Range")
				} else {
					r.Header.Set("Range", sane)
				}
			}
		}
		http.ServeContent(w, r, "", d.ModTime, content)
		if watch != nil {
			return watch.failure()
		}
		return nil
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListHas(inm, d.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if d.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	}
	h.Set("Last-Modified", d.ModTime.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	return d.Stream(w)
}

func etagListHas(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || strings.TrimPrefix(v, "W/") == etag {
			return true
		}
	}
	return false
}

// maxRanges is the most ranges one request may ask for. Players and
// download managers ask for one, rarely a few; hundreds of tiny ranges only
// make a multipart answer far larger and costlier than the file.
const maxRanges = 16

// saneRange returns the Range header that http.ServeContent should see for
// a body of size bytes, to fix what it does not:
//
//   - A suffix range of zero bytes ("bytes=-0") is unsatisfiable (RFC 9110
//     §14.1.3), but ServeContent answers it with an invalid 206. Such
//     ranges are dropped; when none is left the header becomes one that
//     ServeContent answers with 416 and "Content-Range: bytes */size".
//   - More than maxRanges ranges, or ranges that overlap, are what range
//     amplification attacks send: the header is ignored ("" is returned)
//     and the whole file is served with 200, as RFC 9110 §14.2 allows.
//
// Anything else, including a header ServeContent will reject as malformed,
// is returned unchanged, so a sane request (one range, or 2 to 16 disjoint
// ones as a multipart answer) and If-Range/precondition handling stay
// ServeContent's.
func saneRange(h string, size int64) string {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return h
	}
	type span struct{ start, end int64 } // end exclusive
	var kept []string
	var spans []span
	count, dropped := 0, false
	for ra := range strings.SplitSeq(spec, ",") {
		ra = strings.TrimSpace(ra)
		if ra == "" {
			continue
		}
		if count++; count > maxRanges {
			return ""
		}
		first, last, ok := strings.Cut(ra, "-")
		first, last = strings.TrimSpace(first), strings.TrimSpace(last)
		if !ok {
			return h
		}
		var sp span
		if first == "" {
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil || n < 0 {
				return h
			}
			sp = span{max(size-n, 0), size}
		} else {
			a, err := strconv.ParseInt(first, 10, 64)
			if err != nil || a < 0 {
				return h
			}
			sp = span{a, size}
			if last != "" {
				b, err := strconv.ParseInt(last, 10, 64)
				if err != nil || b < a {
					return h
				}
				sp.end = min(b+1, size)
			}
		}
		if sp.start >= sp.end {
			// Unsatisfiable: past the end, or a suffix of no bytes.
			dropped = true
			continue
		}
		for _, o := range spans {
			if sp.start < o.end && o.start < sp.end {
				return ""
			}
		}
		spans = append(spans, sp)
		kept = append(kept, ra)
	}
	switch {
	case !dropped:
		return h
	case len(kept) == 0:
		// Starts at the end: ServeContent's own "no overlap" 416.
		return fmt.Sprintf("bytes=%d-", size)
	}
	return "bytes=" + strings.Join(kept, ",")
}

// RoutePattern is the pattern of mux that r matches, or "" for the
// catch-all pattern (and for no match): metrics label requests by it, so
// their labels stay a fixed set whatever paths clients send.
func RoutePattern(mux *http.ServeMux, r *http.Request, catchAll string) string {
	_, p := mux.Handler(r)
	return routeName(p, catchAll)
}

// routeName is pattern as a route label: "" for the catch-all.
func routeName(pattern, catchAll string) string {
	if pattern == catchAll {
		return ""
	}
	return pattern
}

// Serve runs h, an API's router (a ServeMux, or one behind a handler that
// passes the request on as it is), on r and notes in r's RequestNote the
// route pattern the mux matched, as RoutePattern names it ("" for
// catchAll), so that the server need not route the request again to label
// its metrics and log line. r is the API's own copy of the request (from
// WithContext), whose Pattern, the server mux's, Serve clears: the API's
// mux sets it again on the very request it is given, to what its Handler
// method returns. A request it did not route (h answered it first) or
// matched to nothing is left unnoted, and the server routes it as before.
func Serve(h http.Handler, w http.ResponseWriter, r *http.Request, catchAll string) {
	r.Pattern = ""
	h.ServeHTTP(w, r)
	if r.Pattern != "" {
		vault.RequestInfoFrom(r.Context()).Note.SetRoute(routeName(r.Pattern, catchAll))
	}
}
