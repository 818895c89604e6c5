package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/recvault/recvault/blob/sealed/keyfile"
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
func cmdKeys(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("keys wants a subcommand: generate")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return flag.ErrHelp
	case "generate":
		return cmdKeysGenerate(args[1:], stdout, stderr)
	}
	return usagef("unknown keys subcommand %q: want generate", args[0])
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
