package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/recvault/recvault/blob/sealed"
	"github.com/recvault/recvault/blob/sealed/keyfile"
	"github.com/recvault/recvault/vault"
)

// keysUsage is also what `keys generate -h` prints: an operator about to
// create the one secret that recordings depend on must learn there, not
// after a restore, that the key file is not part of the data.
const keysUsage = `Usage:
  recvault keys generate FILE
      Write a new master key file FILE (mode 0600) holding one fresh random
      256-bit key, and print its id. Refuses to overwrite an existing file.
      Start serve and the other commands with --encryption-key-file FILE
      (or RECVAULT_ENCRYPTION_KEY_FILE) to encrypt recordings at rest.

  recvault keys rotate --encryption-key-file OLD --new-key-file NEW [store flags]
      Re-wrap every recording's data key under NEW's first (current) key:
      only the catalogue changes, a few bytes per recording, never a blob.
      Data keys are unwrapped with the keys of NEW and OLD. It prints
      progress and a summary; it is safe to stop or kill at any point (each
      recording keeps its old wrapped key or has its new one) and to run
      again, which skips what is done and finishes the rest. Run it again
      once every server uses the new key file, to catch recordings ingested
      under the old key meanwhile. Exit 0 if every data key is now under
      the new key.

      Afterwards run serve and the other commands with a key file that
      holds the new key FIRST (a key file may hold several keys): e.g. the
      new key followed by the old one. Keep the old key in it as long as
      recordings stored before data keys moved to the catalogue remain:
      those carry their data key in the blob header, wrapped under the old
      key, and rotation cannot re-wrap them.

The key file is text, one key a line:

  recvault-master-key v1 <key-id> <base64 of 32 bytes>

Blank lines and lines starting with '#' are ignored. The first key is
current (new recordings are encrypted under it); later ones are kept only
so that recordings sealed under them still open. It must be readable by
its owner alone (chmod 600): recvault refuses a file that group or others
can access.

Keep the key file apart from the data: not in the data directory, not in
the same backup as the database and the blobs. Whoever has both can read
every recording; and a backup of the database and blobs WITHOUT the key
file is unreadable, so back the key file up too, separately (e.g. a
password manager or a safe), and test that a restore works with it.
`

// cmdKeys manages master key files.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("keys wants a subcommand: generate or rotate")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return flag.ErrHelp
	case "generate":
		return cmdKeysGenerate(args[1:], stdout, stderr)
	case "rotate":
		return cmdKeysRotate(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown keys subcommand %q: want generate or rotate", args[0])
}

func cmdKeysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys generate", stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), keysUsage) }
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("keys generate wants one argument, the key file to write")
	}
	id, err := keyfile.Generate(pos[0])
	if err != nil {
		return err // it names the file; run names the command
	}
	fmt.Fprintf(stdout, "%s\n", id)
	fmt.Fprintf(stderr, "master key %s written to %s (mode 0600): keep it apart from the data, and back it up separately; "+
		"without it the recordings encrypted under it cannot be read\n", id, pos[0])
	return nil
}

// cmdKeysRotate re-wraps the catalogue's data keys under a new master key.
func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("keys rotate", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), keysUsage)
		fmt.Fprint(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	stores := addStoreFlags(fs)
	newFile := fs.String("new-key-file", "", "key file whose first key the data keys are re-wrapped under (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *newFile == "" {
		return usagef("keys rotate wants --new-key-file NEW")
	}
	loc, err := stores.locations()
	if err != nil {
		return err
	}
	if loc.KeyFile == "" {
		return usagef("keys rotate wants --encryption-key-file OLD (or RECVAULT_ENCRYPTION_KEY_FILE), the key file in use")
	}
	oldRing, err := keyfile.Load(loc.KeyFile)
	if err != nil {
		return fmt.Errorf("old key file: %w", err)
	}
	newRing, err := keyfile.Load(*newFile)
	if err != nil {
		return fmt.Errorf("new key file: %w", err)
	}
	unwrap, err := unionRing(newRing, oldRing)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, loc, appOptions{})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	fmt.Fprintf(stderr, "re-wrapping data keys under master key %s (%s)\n", newRing.Current(), loc)
	sum, err := a.svc.RotateDataKeys(ctx, unwrap, newRing, func(s vault.RotateSummary) {
		fmt.Fprintf(stdout, "progress: %s\n", s)
	})
	fmt.Fprintf(stdout, "keys rotate: %s\n", sum)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "every data key in the catalogue is under %s: run with a key file holding %s first "+
		"(keep the old key after it while blobs with the key in their header remain)\n", newRing.Current(), newRing.Current())
	return nil
}

// unionRing is the ring a rotation unwraps with: first's keys, then those
// of rest whose ids first lacks (the old key file may already hold the new
// key, and a ring refuses an id twice).
func unionRing(first *sealed.Keyring, rest ...*sealed.Keyring) (*sealed.Keyring, error) {
	keys := first.Keys()
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		seen[k.ID] = true
	}
	for _, r := range rest {
		for _, k := range r.Keys() {
			if !seen[k.ID] {
				seen[k.ID] = true
				keys = append(keys, k)
			}
		}
	}
	ring, err := sealed.NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("key ring of the old and new keys: %w", err)
	}
	return ring, nil
}
