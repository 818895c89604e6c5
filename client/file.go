package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// FileResult is a download saved to a file.
type FileResult struct {
	Result
	Path    string // the complete file
	Resumed bool   // continued from the partial file of an earlier run
}

// PartSuffix ends the names of partial downloads (".NAME" + PartSuffix) and
// of their metadata (+ ".json"). Nothing else in a target directory is ever
// written before it is complete.
const PartSuffix = ".recvault-part"

// partMeta is kept beside a partial file so that a later run can resume it.
type partMeta struct {
	Validator string `json:"validator"`
	MediaType string `json:"mediaType"`
	Ext       string `json:"ext"`
	ETag      string `json:"etag,omitempty"`
	Filename  string `json:"filename,omitempty"`
}

// SaveFile downloads src into dir as base plus the extension of what the
// server sent. The bytes go to a hidden partial file in dir, which is
// synced and renamed only once complete (and, when the server gave a
// length, of that length). When a download is interrupted (cancelled, or
// the network failed through every retry) the partial file stays, and the
// next SaveFile of the same base resumes it with Range + If-Range; on any
// other failure it is removed.
func (t *Transfer) SaveFile(ctx context.Context, src Source, dir, base string) (FileResult, error) {
	return t.saveFile(ctx, src, dir, base, false)
}

// SaveFileServerNamed is SaveFile naming the complete file as the server's
// Content-Disposition does (made safe by SafeName, with the extension of
// what was sent), so that a download is called what the server calls it;
// base names the partial file, and the complete one when the server names
// none.
func (t *Transfer) SaveFileServerNamed(ctx context.Context, src Source, dir, base string) (FileResult, error) {
	return t.saveFile(ctx, src, dir, base, true)
}

func (t *Transfer) saveFile(ctx context.Context, src Source, dir, base string, serverName bool) (FileResult, error) {
	if base == "" || base != SafeName(base) {
		return FileResult{}, fmt.Errorf("file name %q is not a plain file name", base)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return FileResult{}, err
	}
	part := filepath.Join(dir, "."+base+PartSuffix)
	metaPath := part + ".json"
	st := &state{h: sha256.New(), total: -1}
	var out FileResult
	f, err := resumePart(part, metaPath, st)
	if err != nil {
		return FileResult{}, err
	}
	if f != nil {
		out.Resumed = true
	} else {
		os.Remove(metaPath)
		if f, err = os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return FileResult{}, err
		}
	}
	st.w = f
	st.onStart = func(validator string) {
		if validator == "" {
			os.Remove(metaPath)
			return
		}
		b, _ := json.Marshal(partMeta{Validator: validator, MediaType: st.res.MediaType, Ext: st.res.Ext,
			ETag: st.res.ETag, Filename: st.res.Filename})
		os.WriteFile(metaPath, b, 0o600)
	}
	res, err := t.run(ctx, src, st)
	if err != nil {
		f.Close()
		keep := (ctx.Err() != nil || retryable(err)) && st.off > 0 && st.validator != ""
		if !keep {
			os.Remove(part)
			os.Remove(metaPath)
		}
		return FileResult{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(part)
		os.Remove(metaPath)
		return FileResult{}, err
	}
	if err := f.Close(); err != nil {
		os.Remove(part)
		os.Remove(metaPath)
		return FileResult{}, err
	}
	out.Result = res
	out.Path = filepath.Join(dir, finalName(base, res, serverName))
	if err := os.Rename(part, out.Path); err != nil {
		os.Remove(part)
		os.Remove(metaPath)
		return FileResult{}, err
	}
	os.Remove(metaPath)
	syncDir(dir)
	return out, nil
}

// finalName is the complete file's name: base plus the extension, or the
// server's file name with that extension.
func finalName(base string, res Result, serverName bool) string {
	if serverName {
		if n := SafeName(res.Filename); n != "" {
			ext := filepath.Ext(n)
			if n = strings.TrimSuffix(n, ext); n != "" {
				return n + res.Ext
			}
		}
	}
	return base + res.Ext
}

// resumePart opens the partial file of an earlier run when its metadata
// says how to resume it, hashing what it holds; nil when there is none.
func resumePart(part, metaPath string, st *state) (*os.File, error) {
	b, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, nil
	}
	var m partMeta
	if json.Unmarshal(b, &m) != nil || m.Validator == "" || m.Ext == "" || !validExt(m.Ext) {
		return nil, nil
	}
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return nil, nil
	}
	n, err := io.Copy(st.h, f)
	if err != nil || n == 0 {
		f.Close()
		st.h.Reset()
		return nil, nil
	}
	st.off, st.validator = n, m.Validator
	st.res = Result{MediaType: m.MediaType, Ext: m.Ext, ETag: m.ETag, Filename: m.Filename}
	return f, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// SafeName makes s usable as a file name on every common file system:
// path separators, control and reserved characters become '_', leading
// dots are dropped (no hidden files, no "..") and the length is bounded.
func SafeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f:
			return '_'
		case strings.ContainsRune(`/\:*?"<>|`, r):
			return '_'
		}
		return r
	}, s)
	s = strings.TrimLeft(strings.TrimSpace(s), ".")
	if len(s) > 150 {
		s = s[:150]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// IsPartial reports whether a file name is a partial download or its
// metadata: what a caller may clean up or must not mistake for a recording.
func IsPartial(name string) bool {
	return strings.HasSuffix(name, PartSuffix) || strings.HasSuffix(name, PartSuffix+".json")
}
