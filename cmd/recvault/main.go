// Command recvault is the one binary of the call-recording vault: the
// server, and the operator commands that work on its data directory (also
// while a server runs on it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/catalog/sqlite"
	"github.com/recvault/recvault/media/cache"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
	"github.com/recvault/recvault/vault"
	"golang.org/x/term"
)

const usage = `recvault — call-recording vault

Usage:
  recvault serve  [--data DIR] [--addr HOST:PORT] [--demo] [--tls-cert F --tls-key F]
  recvault user add --data DIR --login NAME --role agent|supervisor|inspector|admin
                    [--agent-id ID] [--campaign N]... [--inspects AGENT_ID]...
  recvault user list|disable|enable|passwd --data DIR [--login NAME]
  recvault ingest --data DIR --campaign N --crt-object-id ID --call-id ID --agent ID
                  [--kind voice|video] [--original-path P] [--codec alaw|ulaw]
                  [--started-at RFC3339] [--agent-channel 0|1] FILE|-
  recvault import --data DIR --manifest FILE [--progress auto|bar|none]
  recvault login ameyo|ccgw|v1 --server URL --user NAME [--force] [--cacert F] [--insecure]
  recvault logout [ameyo|ccgw|v1] [--server URL]
  recvault get v1 --id ID [--format wav] -o DIR
  recvault get ameyo --campaign N --crt-object-id ID --call-id ID [--format mp3] -o DIR
  recvault get ccgw [--agent N] --call-id ID [--hw-file-name PATH] [--work-no N] -o DIR
  recvault get ameyo|ccgw|v1 --manifest calls.csv [--parallel 8] [--report FILE] -o DIR
                  [--progress auto|json|bar|none] [--cacert F] [--insecure] [--timeout D] [-v]
  recvault apikey add --data DIR --name N --role R [--campaign N]... [--host H]...
  recvault apikey list|revoke --data DIR [--name N]

Passwords come from the RECVAULT_PASSWORD environment variable, else a prompt.
Run "recvault COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "user":
		err = cmdUser(ctx, args[1:], stdin, stdout, stderr)
	case "ingest":
		err = cmdIngest(ctx, args[1:], stdin, stdout, stderr)
	case "import":
		err = cmdImport(ctx, args[1:], stdout, stderr)
	case "login":
		err = cmdLogin(ctx, args[1:], stdin, stdout, stderr)
	case "logout":
		err = cmdLogout(ctx, args[1:], stdout, stderr)
	case "get":
		err = cmdGet(ctx, args[1:], stdin, stdout, stderr)
	case "apikey":
		err = cmdAPIKey(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "recvault: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "recvault %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "recvault %s: %s\n", args[0], describe(err))
		return 1
	}
}

// describe renders an error for an operator: the domain message, plus the
// cause of internal errors (the operator owns the data directory).
func describe(err error) string {
	var e *recvault.Error
	if errors.As(err, &e) {
		if e.Code == recvault.EINTERNAL && e.Err != nil {
			return e.Err.Error()
		}
		return e.Message
	}
	return err.Error()
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// app is an opened data directory: catalog, blob store and core service.
type app struct {
	cat   *sqlite.DB
	blobs *disk.Store
	cache *cache.Cache
	svc   *vault.Service
}

// appOptions carry the service settings a command may change.
type appOptions struct {
	SessionIdle, SessionMax time.Duration
	Logger                  *slog.Logger
	Now                     func() time.Time // tests' fake clock
	CacheBytes              int64            // transcode cache bound; default 1 GiB
}

// openApp opens (creating if needed) the data directory dir.
func openApp(ctx context.Context, dir string, o appOptions) (*app, error) {
	if dir == "" {
		return nil, usagef("--data must not be empty")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	cat, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		return nil, err
	}
	blobs, err := disk.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		cat.Close()
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 1 << 30
	}
	tc, err := cache.Open(filepath.Join(dir, "cache"), o.CacheBytes)
	if err != nil {
		cat.Close()
		return nil, err
	}
	svc := vault.New(cat, blobs, vault.Config{
		SessionIdle: o.SessionIdle, SessionMax: o.SessionMax, Logger: o.Logger, Probe: probeMedia, Now: o.Now,
		Cache: tc,
	})
	return &app{cat: cat, blobs: blobs, cache: tc, svc: svc}, nil
}

func (a *app) Close() error { return a.cat.Close() }

// probeMedia adapts the media prober to the core's Probe signature.
func probeMedia(r io.ReaderAt, size int64, codec string) (vault.Probed, error) {
	var hint probe.Hint
	switch codec {
	case "alaw":
		hint.Raw = wav.ALaw
	case "ulaw":
		hint.Raw = wav.ULaw
	}
	info, err := probe.Probe(r, size, hint)
	if err != nil {
		return vault.Probed{}, err
	}
	kind := recvault.KindVoice
	if info.Kind == probe.Video {
		kind = recvault.KindVideo
	}
	return vault.Probed{
		Kind: kind,
		Format: recvault.MediaFormat{Container: string(info.Container), Codec: info.Codec,
			SampleRate: info.SampleRate, Channels: info.Channels, DataOffset: info.DataOffset, DataSize: info.DataSize},
		Duration: info.Duration,
	}, nil
}

// readPassword takes the password from RECVAULT_PASSWORD, else prompts on
// the terminal without echo, else reads one line of stdin.
func readPassword(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	if p := os.Getenv("RECVAULT_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	var line strings.Builder
	buf := make([]byte, 1)
	for line.Len() < 1024 {
		n, err := stdin.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line.WriteByte(buf[0])
		}
		if err != nil {
			break
		}
	}
	return strings.TrimRight(line.String(), "\r"), nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// int64s parses repeatable integer values such as --campaign 110 --campaign 120.
func int64s(vals []string, name string) ([]int64, error) {
	var out []int64
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || n <= 0 {
				return nil, usagef("--%s wants positive integers, got %q", name, s)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("recvault "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses flags that may also follow positional arguments
// ("ingest --campaign 1 FILE" and "ingest FILE --campaign 1" both work).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
