// Package backend opens recvault's storage from the URLs an operator gives:
// the catalog (sqlite://PATH, postgres://…) and the blob store (file://DIR,
// s3://BUCKET[/PREFIX]?endpoint=…). It is the one place that knows every
// implementation; the rest of recvault sees only recvault.Catalog and
// recvault.BlobStore.
package backend

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/catalog/sqlite"
)

// Embedded returns the URLs that --data DIR stands for: the SQLite file
// DIR/catalog.db and the blob directory DIR/blobs (the file names the
// embedded default has always used).
func Embedded(dir string) (catalogURL, blobsURL string) {
	return "sqlite://" + filepath.Join(dir, "catalog.db"), "file://" + filepath.Join(dir, "blobs")
}

// Redact hides the password of a URL for messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i >= 0 && strings.Contains(raw[:i], "://") {
			return raw[:strings.Index(raw, "://")+3] + "…@" + raw[i+1:]
		}
		return raw
	}
	return u.Redacted()
}

// OpenCatalog opens the catalog at rawURL, bringing its schema up to date.
// Every failure is one line that says which catalog and why.
func OpenCatalog(ctx context.Context, rawURL string) (recvault.Catalog, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("catalog %q: want sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB", Redact(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		path, _, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("catalog %q: no file path (want sqlite://PATH)", rawURL)
		}
		c, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %w", rawURL, err)
		}
		return c, nil
	case "postgres", "postgresql":
		return openPostgres(ctx, rawURL)
	}
	return nil, fmt.Errorf("catalog %q: unknown scheme %q (want sqlite:// or postgres://)", Redact(rawURL), scheme)
}

// OpenBlobs opens the blob store at rawURL. Every failure is one line that
// says which store and why.
func OpenBlobs(ctx context.Context, rawURL string) (recvault.BlobStore, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("blob store %q: want file://DIR or s3://BUCKET[/PREFIX]?endpoint=URL&region=R", Redact(rawURL))
	}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return nil, fmt.Errorf("blob store %q: no directory (want file://DIR)", rawURL)
		}
		s, err := disk.Open(rest)
		if err != nil {
			return nil, fmt.Errorf("blob store %s: %w", rawURL, err)
		}
		return s, nil
	case "s3":
		return openS3(ctx, rawURL)
	}
	return nil, fmt.Errorf("blob store %q: unknown scheme %q (want file:// or s3://)", Redact(rawURL), scheme)
}
