package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// open resolves the storage flags and opens the app on them: what every
// operator command does first. Unlike serve, it refuses a local data
// directory that does not exist: a typo in --data would otherwise create
// (and report on) a new, empty vault.
func (f *storeFlags) open(ctx context.Context, o appOptions) (*app, error) {
	loc, err := f.locations()
	if err != nil {
		return nil, err
	}
	if err := loc.mustExist(); err != nil {
		return nil, err
	}
	return openApp(ctx, loc, o)
}

// mustExist checks that the local directories of the catalog and blob
// store are there (remote stores are the server's to check).
func (l locations) mustExist() error {
	for _, u := range []string{l.Catalog, l.Blobs} {
		dir, ok := localDir(u)
		if !ok {
			continue
		}
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("data directory %s does not exist: check --data (or --catalog/--blobs), "+
				"or create a new vault with \"recvault init --data %s\": %w", dir, dir, err)
		} else if err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	return nil
}

// cmdInit creates a new data directory (or the stores --catalog/--blobs
// name) with an empty catalogue: the one explicit way, besides serve, to
// make a vault, so that the other commands can refuse a missing one.
func cmdInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", stderr)
	stores := addStoreFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	loc, err := stores.locations()
	if err != nil {
		return err
	}
	existed := loc.mustExist() == nil
	a, err := openApp(ctx, loc, appOptions{})
	if err != nil {
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	if existed {
		fmt.Fprintf(stdout, "recvault data ready (it existed already): %s\n", loc)
	} else {
		fmt.Fprintf(stdout, "new recvault data created: %s\n", loc)
	}
	return nil
}
