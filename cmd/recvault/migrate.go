package main

import (
	"context"
	"fmt"
	"io"

	"github.com/recvault/recvault/vault"
)

const migrateUsage = `Usage:
  recvault migrate-blobs [--rate MB/s] [--encryption-key-file F] [store flags]
      Rewrite every recording stored in an older form into the current one:
      plain blobs (stored before sealing) into sealed 16 KiB chunks, each
      verified on every read; with --encryption-key-file (or
      RECVAULT_ENCRYPTION_KEY_FILE) also encrypted, including recordings
      sealed earlier without a key. Each recording is read verified against
      its catalogue SHA-256, written under a new blob key, switched over in
      the catalogue in one step, and only then is the old blob deleted.

      Resumable: a run that is stopped or killed leaves every recording
      readable; run it again to finish (what is done is skipped). A
      recording whose stored bytes fail verification is reported and left
      as it is. It can run beside a server on the same data; --rate bounds
      how fast it reads. Exit 0 when every recording is in the current form.

Flags:
`

// cmdMigrateBlobs rewrites legacy and unencrypted blobs into the current
// form.
func cmdMigrateBlobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	stores, bps, err := parseRateCommand("migrate-blobs", migrateUsage, 0, args, stderr)
	if err != nil {
		return err
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	sum, err := a.svc.MigrateBlobs(ctx, bps, func(s vault.MigrateSummary) {
		fmt.Fprintf(stdout, "progress: %s\n", s)
	})
	fmt.Fprintf(stdout, "migrate-blobs: %s\n", sum)
	return err
}
