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
	"github.com/recvault/recvault/backend"
	"github.com/recvault/recvault/blob/disk"
	"github.com/recvault/recvault/blob/sealed"
	"github.com/recvault/recvault/blob/sealed/keyfile"
	"github.com/recvault/recvault/catalog/cached"
	"github.com/recvault/recvault/media/cache"
	"github.com/recvault/recvault/media/probe"
	"github.com/recvault/recvault/media/wav"
	"github.com/recvault/recvault/metrics"
	"github.com/recvault/recvault/vault"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure, 2 usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage())
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help":
		fmt.Fprint(stdout, topUsage())
		return 0
	case "--version", "-version":
		args = []string{"version"}
	case "help":
		// "recvault help user list" is "recvault user list -h".
		if len(args) == 1 {
			fmt.Fprint(stdout, topUsage())
			return 0
		}
		args = append(append([]string{}, args[1:]...), "-h")
	}
	c := lookupCommand(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "recvault: unknown command %q\n\n%s", args[0], topUsage())
		return 2
	}
	// Everything a command does at the data is the operator's, and audited
	// as "cli" (the server's requests carry their own request info).
	ctx = vault.WithRequestInfo(ctx, vault.RequestInfo{Via: "cli"})
	err := c.dispatch(ctx, args[1:], stdin, stdout, stderr)
	var ue usageError
	var he helpText
	switch {
	case err == nil:
		return 0
	case errors.As(err, &he):
		fmt.Fprint(stdout, string(he))
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "recvault %s: %v\nRun \"recvault %s -h\" for usage.\n", args[0], err, commandPath(args))
		return 2
	default:
		fmt.Fprintf(stderr, "recvault %s: %s\n", args[0], describe(tlsHint(err)))
		return 1
	}
}

// describe renders an error for an operator: the domain message, plus the
// cause of internal errors (the operator owns the data directory).
func describe(err error) string {
	var h *hinted
	if errors.As(err, &h) {
		return h.msg
	}
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

// app is opened storage: catalog, blob store, transcode cache and core
// service.
type app struct {
	cat   recvault.Catalog
	blobs recvault.BlobStore // verified (sealed) over raw
	raw   recvault.BlobStore // the backend itself, holding sealed bytes
	cache *cache.Cache
	svc   *vault.Service
	// cleanup removes what the app made for itself alone (a private cache
	// directory).
	cleanup func() error
}

// locations says where an app's storage is: the catalog and blob store
// URLs, and the directory of this process's transcode cache ("" for a
// private temporary one, removed on Close).
type locations struct {
	Catalog, Blobs, Cache string
	// KeyFile is the master key file; "" stores blobs verified but not
	// encrypted.
	KeyFile string
}

// dirLocations is what --data DIR means: SQLite, a blob directory and the
// cache, all in DIR.
func dirLocations(dir string) locations {
	c, b := backend.Embedded(dir)
	return locations{Catalog: c, Blobs: b, Cache: filepath.Join(dir, "cache")}
}

// storeFlags are the flags of every command that opens the data.
type storeFlags struct {
	data, catalog, blobs, cache, keyFile *string
}

func addStoreFlags(fs *flag.FlagSet) *storeFlags {
	return &storeFlags{
		data: fs.String("data", "./recvault-data", "data directory: means --catalog sqlite://DIR/catalog.db --blobs file://DIR/blobs"),
		catalog: fs.String("catalog", "", "catalog URL: sqlite://PATH or postgres://USER:PASS@HOST:PORT/DB?sslmode=… "+
			"(default from RECVAULT_CATALOG, else --data)"),
		blobs: fs.String("blobs", "", "blob store URL: file://DIR or s3://BUCKET[/PREFIX]?endpoint=URL&region=R "+
			"(default from RECVAULT_BLOBS, else --data); S3 credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"),
		cache: fs.String("cache-dir", "", "transcode cache directory (default DIR/cache with --data, else a private temporary one)"),
		keyFile: fs.String("encryption-key-file", "", "master key file (recvault keys generate): encrypt recordings at rest "+
			"(default from RECVAULT_ENCRYPTION_KEY_FILE; none: stored verified, not encrypted)"),
	}
}

// locations resolves the flags: --catalog/--blobs, else RECVAULT_CATALOG/
// RECVAULT_BLOBS, else what --data stands for.
func (f *storeFlags) locations() (locations, error) {
	if *f.data == "" {
		return locations{}, usagef("--data must not be empty")
	}
	loc := dirLocations(*f.data)
	remote := false
	for _, s := range []struct {
		flag, env string
		dst       *string
	}{{*f.catalog, "RECVAULT_CATALOG", &loc.Catalog}, {*f.blobs, "RECVAULT_BLOBS", &loc.Blobs}} {
		v := s.flag
		if v == "" {
			v = os.Getenv(s.env)
		}
		if v != "" {
			*s.dst = v
			remote = true
		}
	}
	if remote {
		loc.Cache = ""
	}
	if *f.cache != "" {
		loc.Cache = *f.cache
	}
	loc.KeyFile = *f.keyFile
	if loc.KeyFile == "" {
		loc.KeyFile = os.Getenv("RECVAULT_ENCRYPTION_KEY_FILE")
	}
	return loc, nil
}

// describeLocations says where the data is, without secrets.
func (l locations) String() string {
	return "catalog " + backend.Redact(l.Catalog) + ", blobs " + backend.Redact(l.Blobs)
}

// appOptions carry the service settings a command may change.
type appOptions struct {
	SessionIdle, SessionMax time.Duration
	Logger                  *slog.Logger
	Now                     func() time.Time // tests' fake clock
	CacheBytes              int64            // transcode cache bound; default 1 GiB
	AuditCheckpoint         string           // serve --audit-checkpoint
}

// openApp opens (creating if needed) the storage at loc.
func openApp(ctx context.Context, loc locations, o appOptions) (*app, error) {
	for _, u := range []string{loc.Catalog, loc.Blobs} {
		if dir, ok := localDir(u); ok {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("data directory: %w", err)
			}
		}
	}
	cat, err := backend.OpenCatalog(ctx, loc.Catalog)
	if err != nil {
		return nil, err
	}
	inner, err := backend.OpenBlobs(ctx, loc.Blobs)
	if err != nil {
		return nil, errors.Join(err, cat.Close())
	}
	// Every blob is written as verified chunks (and encrypted with a key
	// file); blobs stored before that are read and checked against their
	// catalogue SHA-256.
	sealOpts := []sealed.Option{sealed.AllowLegacy()}
	if loc.KeyFile != "" {
		ring, err := keyfile.Load(loc.KeyFile)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("encryption key file: %w", err), cat.Close())
		}
		sealOpts = append(sealOpts, sealed.WithKeyring(ring))
	}
	if _, ok := inner.(*disk.Store); ok {
		// Local files: verified blobs keep their plaintext contiguous, so
		// that downloads are sent from the file (see sealed.ChecksAfter).
		sealOpts = append(sealOpts, sealed.ChecksAfter())
	}
	sealedStore := sealed.New(inner, sealOpts...)
	metrics.SetMapStats(sealedStore.MapStats)
	var blobs recvault.BlobStore = sealedStore
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = 1 << 30
	}
	a := &app{cat: cat, blobs: blobs, raw: inner, cleanup: func() error { return nil }}
	cacheDir := loc.Cache
	if cacheDir == "" {
		// Replicas on one host must not share a cache directory: each
		// keeps its own index of it.
		if cacheDir, err = os.MkdirTemp("", "recvault-cache-"); err != nil {
			return nil, errors.Join(fmt.Errorf("transcode cache: %w", err), cat.Close())
		}
		a.cleanup = func() error { return os.RemoveAll(cacheDir) }
	}
	if a.cache, err = cache.Open(cacheDir, o.CacheBytes); err == nil {
		c := a.cache
		metrics.SetCacheStats(func() (int64, int) { b, n, _ := c.Stats(); return b, n })
	}
	if err != nil {
		return nil, errors.Join(err, cat.Close(), a.cleanup())
	}
	// The core's hot reads (session, user, recording) are served from
	// memory for at most a second; its own changes drop them at once
	// (catalog/cached says exactly what is guaranteed). a.cat stays the
	// catalogue itself: what tests and tools read there is never stale.
	a.svc = vault.New(cached.New(cat, 0), blobs, vault.Config{
		SessionIdle: o.SessionIdle, SessionMax: o.SessionMax, Logger: o.Logger, Probe: probeMedia, Now: o.Now,
		Cache: a.cache, AuditCheckpoint: o.AuditCheckpoint,
	})
	return a, nil
}

// localDir returns the directory a sqlite:// or file:// URL lives in.
func localDir(u string) (string, bool) {
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		p, _, _ := strings.Cut(strings.TrimPrefix(u, "sqlite://"), "?")
		return filepath.Dir(p), p != ""
	case strings.HasPrefix(u, "file://"):
		p := strings.TrimPrefix(u, "file://")
		return filepath.Dir(p), p != ""
	}
	return "", false
}

// Close flushes the core's audit writer, then closes the catalog and
// removes a private cache. The writer goes first: its last batch and flood
// summaries need the catalog.
func (a *app) Close() error {
	var err error
	if a.svc != nil {
		err = a.svc.Close()
	}
	return errors.Join(err, a.cat.Close(), a.cleanup())
}

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

// newFlagSet makes a command's flag set. The flag package writes usage and
// parse errors to the set's output; it is a buffer here so that -h prints
// the usage on stdout (parseFlags returns it as a helpText) and a mistake
// prints one line on stderr instead of the whole flag list. The second
// parameter is unused: run writes what goes to stderr (serve.go still
// passes it).
func newFlagSet(name string, _ io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("recvault "+name, flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), commandUsage(strings.Fields(name)))
		fmt.Fprint(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags that may also follow positional arguments
// ("ingest --campaign 1 FILE" and "ingest FILE --campaign 1" both work).
// -h returns the usage as a helpText.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				if b, ok := fs.Output().(*strings.Builder); ok {
					return nil, helpText(b.String())
				}
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
