// Package httputil holds the HTTP plumbing every façade shares: serving a
// prepared download with Range/ETag support and the Content-Disposition
// header. It knows no wire format of its own.
package httputil

import (
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/recvault/recvault/vault"
)

// Attachment returns a Content-Disposition value naming the file, escaped
// per RFC 6266/2231 when the name is not plain ASCII.
func Attachment(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, name)
	v := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if v == "" {
		return "attachment"
	}
	return v
}

// ServeDownload writes d. A seekable body goes through http.ServeContent,
// which implements Range, If-Range, If-None-Match and If-Modified-Since
// (206, 304, 412, 416), with sendfile when the body is a plain file. A
// stream (a conversion running for this request) is sent whole with its
// ETag; the next request for it is served from the transcode cache.
// ctype overrides d.ContentType when not empty (vendor APIs fix their own).
//
// A stream that fails after the headers went out can no longer be answered
// with an error: the failure is logged with the request id and the
// connection is cut, so the client sees a broken transfer rather than a
// short file that looks complete. A client that left is not logged.
func ServeDownload(w http.ResponseWriter, r *http.Request, d *vault.Download, ctype string, log *slog.Logger) {
	if err := serveDownload(w, r, d, ctype); err != nil && r.Context().Err() == nil {
		log.Error("media stream failed", "err", err, "path", r.URL.Path,
			"request_id", vault.RequestInfoFrom(r.Context()).RequestID)
		panic(http.ErrAbortHandler)
	}
}

func serveDownload(w http.ResponseWriter, r *http.Request, d *vault.Download, ctype string) error {
	if ctype == "" {
		ctype = d.ContentType
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", Attachment(d.Filename))
	h.Set("ETag", d.ETag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-transform")
	if d.Content != nil {
		content := d.Content
		if f, ok := content.(interface{ OSFile() *os.File }); ok {
			content = f.OSFile()
		}
		http.ServeContent(w, r, "", d.ModTime, content)
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
