package client

import (
	"bytes"
	"mime"
	"path"
	"strings"
)

// extensions maps the media types recording servers send to file
// extensions. The extension comes from what the server says it sent, not
// from what was asked: a server may answer a request for mp3 with WAV.
var extensions = map[string]string{
	"audio/mpeg":         ".mp3",
	"audio/mp3":          ".mp3",
	"audio/mpeg3":        ".mp3",
	"audio/x-mpeg-3":     ".mp3",
	"audio/wav":          ".wav",
	"audio/wave":         ".wav",
	"audio/x-wav":        ".wav",
	"audio/vnd.wave":     ".wav",
	"audio/x-alaw-basic": ".alaw",
	"audio/pcma":         ".alaw",
	"audio/basic":        ".ulaw",
	"audio/pcmu":         ".ulaw",
	"audio/mp4":          ".m4a",
	"audio/x-m4a":        ".m4a",
	"audio/ogg":          ".ogg",
	"audio/opus":         ".opus",
	"audio/flac":         ".flac",
	"audio/x-flac":       ".flac",
	"audio/webm":         ".weba",
	"video/mp4":          ".mp4",
	"video/webm":         ".webm",
	"video/quicktime":    ".mov",
}

// MediaType returns the lower-case media type of a Content-Type value,
// without parameters ("" when absent or malformed).
func MediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

// sniff names the media type of a recording from its first bytes, or ""
// when they are not a recording format this client knows.
func sniff(head []byte) string {
	switch {
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return "audio/wav"
	case len(head) >= 3 && string(head[:3]) == "ID3":
		return "audio/mpeg"
	case len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && head[1]&0x06 != 0:
		return "audio/mpeg" // MPEG audio frame sync with a valid layer
	case len(head) >= 8 && string(head[4:8]) == "ftyp":
		return "video/mp4"
	case len(head) >= 4 && string(head[:4]) == "OggS":
		return "audio/ogg"
	case len(head) >= 4 && string(head[:4]) == "fLaC":
		return "audio/flac"
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return "video/webm"
	}
	return ""
}

// looksLikeText reports whether a body that claims no media type is a JSON
// document, an HTML page or the literal null: what servers send instead of a
// recording when something went wrong.
func looksLikeText(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) == 0 {
		return true
	}
	switch t[0] {
	case '{', '[', '<':
		return true
	}
	return bytes.HasPrefix(t, []byte("null"))
}

// isRecording decides whether a 2xx answer is a recording: an audio/ or
// video/ type, or application/octet-stream (or no type) whose bytes are not
// a JSON document, HTML page or null. A JSON or HTML type never is.
func isRecording(contentType string, head []byte) bool {
	if len(head) == 0 {
		return false // an empty body is never a recording
	}
	mt := MediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"):
		return true
	case mt == "application/octet-stream", mt == "binary/octet-stream", mt == "":
		return sniff(head) != "" || !looksLikeText(head)
	}
	return false
}

// Ext picks the file extension (with its dot) for a recording: from the
// Content-Type; for a generic type, from the extension of the
// Content-Disposition file name, else from the bytes; ".bin" when none says.
func Ext(contentType, disposition string, head []byte) string {
	if e, ok := extensions[MediaType(contentType)]; ok {
		return e
	}
	if _, params, err := mime.ParseMediaType(disposition); err == nil {
		if e := strings.ToLower(path.Ext(path.Base(strings.ReplaceAll(params["filename"], `\`, "/")))); validExt(e) {
			return e
		}
	}
	if e, ok := extensions[sniff(head)]; ok {
		return e
	}
	return ".bin"
}

// validExt accepts a short alphanumeric extension, so that a server's file
// name cannot smuggle separators or odd bytes into ours.
func validExt(e string) bool {
	if len(e) < 2 || len(e) > 6 || e[0] != '.' {
		return false
	}
	for _, c := range e[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
