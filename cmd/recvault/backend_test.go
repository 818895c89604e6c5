package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/recvault/recvault/internal/pgtest"
	"github.com/recvault/recvault/internal/s3test"
)

// testBackend selects the storage the end-to-end suite runs on: the
// embedded default (SQLite file + local directory), or with
// RECVAULT_TEST_BACKEND=remote a throw-away PostgreSQL database and S3
// bucket (real servers, started by internal/pgtest and internal/s3test).
// .ci/run runs the suite both ways.
var testBackend = os.Getenv("RECVAULT_TEST_BACKEND")

// testLocations returns where a test server's storage lives: dir for the
// embedded default, else a fresh PostgreSQL database and S3 bucket (the
// transcode cache stays in dir).
func testLocations(t testing.TB, dir string) locations {
	t.Helper()
	switch testBackend {
	case "", "embedded":
		return dirLocations(dir)
	case "remote":
		return remoteLocations(t, dir)
	}
	t.Fatalf("RECVAULT_TEST_BACKEND=%q: want embedded or remote", testBackend)
	return locations{}
}

// remoteLocations returns a fresh PostgreSQL database and S3 bucket on the
// test binary's throw-away servers (skipped without them locally, failed
// under CI=true), with the transcode cache in dir.
func remoteLocations(t testing.TB, dir string) locations {
	t.Helper()
	return locations{Catalog: pgtest.URL(t), Blobs: s3test.URL(t), Cache: filepath.Join(dir, "cache")}
}
