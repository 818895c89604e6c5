// Package httputil holds the HTTP plumbing every façade shares: the request
// context (request id, remote address), the serving of recording bytes with
// Range/ETag support, and small header helpers. It knows no wire format.
package httputil

import (
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/recvault/recvault"
)

// ContentTypes maps a stored container/codec to its media type and file
// extension, for serving original bytes.
func ContentType(f recvault.MediaFormat) (ctype, ext string) {
	switch f.Container {
	case "wav":
		return "audio/wav", "wav"
	case "mp3":
		return "audio/mpeg", "mp3"
	case "mp4":
		return "video/mp4", "mp4"
	case "raw":
		if f.Codec == "ulaw" {
			return "audio/basic", "ulaw"
		}
		return "audio/x-alaw-basic", "alaw"
	}
	return "application/octet-stream", "bin"
}

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

// ServeMedia writes m with http.ServeContent, which implements Range,
// If-Range, If-None-Match and If-Modified-Since (206, 304, 412, 416).
// When the content is a plain file the copy goes through sendfile.
func ServeMedia(w http.ResponseWriter, r *http.Request, content readSeeker, ctype, filename, etag string, mod time.Time) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", Attachment(filename))
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-transform")
	if f, ok := content.(interface{ OSFile() *os.File }); ok {
		content = f.OSFile()
	}
	http.ServeContent(w, r, "", mod, content)
}

type readSeeker interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}

// ReadSeeker is what ServeMedia serves.
type ReadSeeker = readSeeker

// OriginalETag is the strong ETag of a recording's stored bytes.
func OriginalETag(r *recvault.Recording) string {
	return `"` + r.SHA256[:32] + `"`
}
