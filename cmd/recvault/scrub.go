package main

import (
	"context"
	"fmt"
	"io"
	"math"

	"github.com/recvault/recvault/vault"
)

const scrubUsage = `Usage:
  recvault scrub [--rate MB/s] [store flags]
      Read every recording end to end and verify it (each 16 KiB chunk's
      SHA-256 or AES-GCM tag; the catalogue's SHA-256 for blobs stored
      before sealing), to find damaged or lost recordings before somebody
      needs them. Prints one line per recording that is corrupt, missing
      or could not be read, then a summary. Exit 0 if every recording was
      read and verified, 1 otherwise.

      It can run while a server serves the same data: it writes nothing
      but one audit record, and --rate bounds how fast it reads.

Flags:
`

// cmdScrub verifies every recording's bytes.
func cmdScrub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	stores, bps, err := parseRateCommand("scrub", scrubUsage, 20, args, stderr)
	if err != nil {
		return err
	}
	a, err := stores.open(ctx, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	sum, err := a.svc.Scrub(ctx, bps, func(r vault.ScrubResult) {
		if r.Status == vault.ScrubOK {
			return
		}
		rec := r.Recording
		fmt.Fprintf(stdout, "%s %s campaign %d crtObjectId %s: %s\n", r.Status, rec.ID, rec.CampaignID, rec.CRTObjectID, describe(r.Err))
	})
	fmt.Fprintf(stdout, "scrub: %s\n", sum)
	if err != nil {
		return err
	}
	// A recording that could not be read (status error) is not known
	// good either: only a scrub that verified everything exits 0.
	if sum.Bad() || sum.Errors > 0 {
		return fmt.Errorf("%d corrupt, %d missing, %d unreadable recordings", sum.Corrupt, sum.Missing, sum.Errors)
	}
	return nil
}

// parseRateCommand parses the flags of a command that reads every
// recording (scrub, migrate-blobs): the store flags and --rate (default
// defRate MB/s), no arguments. It returns the stores and the rate in bytes
// a second (0: unlimited).
func parseRateCommand(name, usage string, defRate float64, args []string, stderr io.Writer) (*storeFlags, int64, error) {
	fs := newFlagSet(name, stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	stores := addStoreFlags(fs)
	rate := fs.Float64("rate", defRate, "average read rate bound in MB/s (1 MB = 1,000,000 bytes); 0 for unlimited")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, 0, err
	}
	if len(pos) > 0 {
		return nil, 0, usagef("unexpected argument %q", pos[0])
	}
	if *rate < 0 || math.IsNaN(*rate) || math.IsInf(*rate, 0) {
		return nil, 0, usagef("--rate must be 0 (unlimited) or a positive number of MB/s")
	}
	bps := int64(*rate * 1e6)
	if *rate > 0 && bps < 1 {
		bps = 1
	}
	return stores, bps, nil
}
