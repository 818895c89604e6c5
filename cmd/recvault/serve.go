package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/recvault/recvault/api/ameyo"
	"github.com/recvault/recvault/api/ccgateway"
	"github.com/recvault/recvault/demo"
	"github.com/recvault/recvault/server"
	"github.com/recvault/recvault/vault"
)

// serveGCPercent is the garbage collector's target (GOGC) for serve when
// the environment sets none. A server's live heap is small (sessions,
// cached rows, a few buffers per request) while every download allocates
// a few KiB, so at Go's default of 100 the collector ran every few hundred
// requests, its work about a tenth of the server's CPU on small downloads;
// at 400 the heap may grow to five times what is live, a few tens of MiB.
// Measured side by side with bench/ab.sh (README, "Performance").
const serveGCPercent = 400

// setServeGC sets serveGCPercent unless GOGC is set, which the runtime
// has already applied and which is the operator's to choose.
func setServeGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	stores := addStoreFlags(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	withDemo := fs.Bool("demo", false, "create demo users and recordings (idempotent)")
	cert := fs.String("tls-cert", "", "TLS certificate file (PEM); serve HTTPS with --tls-key")
	key := fs.String("tls-key", "", "TLS private key file (PEM)")
	idle := fs.Duration("session-idle", 30*time.Minute, "session idle timeout")
	maxLife := fs.Duration("session-max", 12*time.Hour, "session absolute lifetime")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "on SIGTERM, how long running downloads may take to finish")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	dynGUID := fs.Bool("ccgw-dynamic-guid", false, "CC-Gateway: rotate GUIDs every 60 s (the vendor's dynamic mode; default static)")
	var corsOrigins, archiveAllow, trustedProxies multiFlag
	fs.Var(&trustedProxies, "trusted-proxy", "load balancer network (CIDR or address) whose X-Forwarded-For is believed (repeatable)")
	fs.Var(&corsOrigins, "cors-origin", "CC-Gateway: browser origin allowed to call from another origin (repeatable)")
	archivePath := fs.String("ameyo-archive-path", "", "serve Ameyo's archive download (?dacxURI=…) at this path; off when empty")
	fs.Var(&archiveAllow, "ameyo-archive-allow", "client network (CIDR) allowed the archive download without an API key (repeatable)")
	cacheMB := fs.Int64("cache-mb", 1024, "transcode cache size in MiB (converted MP3 outputs)")
	checkpoint := fs.String("audit-checkpoint", "", "append the audit chain head (\"seq hash time\") to FILE after each commit, for audit verify --checkpoint")
	maxConns := fs.Int("max-conns-per-client", 256, "connections open at once from one client address; more are refused (trusted proxies exempt; 0 = unlimited)")
	maxIngestMB := fs.Int64("max-ingest-mb", 4096, "largest recording an upload may store, in MiB (0 = unlimited)")
	purgeEvery := fs.Duration("purge-every", time.Hour, "run the retention purge this often (one replica at a time; 0 = never)")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090) instead of on --addr")
	config := fs.String("config", "", "read settings from FILE (name = value lines, the flags' names; default from RECVAULT_CONFIG); flags, then RECVAULT_<FLAG> variables, win")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, *config, os.Getenv); err != nil {
		return err
	}
	var nets []netip.Prefix
	for _, c := range archiveAllow {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return usagef("--ameyo-archive-allow %q: want a CIDR such as 10.1.0.0/16", c)
		}
		nets = append(nets, p)
	}
	if *archivePath != "" && !archivePathFree(*archivePath) {
		return usagef("--ameyo-archive-path must be an absolute path outside the APIs' and the console's, e.g. /dacx/archive")
	}
	if *maxConns < 0 {
		return usagef("--max-conns-per-client must be 0 (unlimited) or more")
	}
	if *purgeEvery < 0 {
		return usagef("--purge-every must be 0 (never) or a duration such as 1h")
	}
	if *maxIngestMB < 0 || *maxIngestMB > 1<<40 {
		return usagef("--max-ingest-mb must be 0 (unlimited) or a size in MiB")
	}
	if (*cert == "") != (*key == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	setServeGC(os.Getenv)
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	var proxies []netip.Prefix
	for _, c := range trustedProxies {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			if a, aerr := netip.ParseAddr(c); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				return usagef("--trusted-proxy %q: want a CIDR such as 10.0.0.0/8 or an address", c)
			}
		}
		proxies = append(proxies, p.Masked())
	}
	loc, err := stores.locations()
	if err != nil {
		return err
	}
	// Listen first: a port in use is the commonest start-up mistake, and
	// it should be said before any work on the data.
	ln, err := listen(*addr, "--addr")
	if err != nil {
		return err
	}
	defer ln.Close()
	var mln net.Listener
	if *metricsAddr != "" {
		if mln, err = listen(*metricsAddr, "--metrics-addr"); err != nil {
			return err
		}
		defer mln.Close()
	}
	a, err := openApp(ctx, loc, appOptions{SessionIdle: *idle, SessionMax: *maxLife, Logger: log,
		CacheBytes: *cacheMB << 20, AuditCheckpoint: *checkpoint})
	if err != nil {
		return err
	}
	defer a.Close()
	// openApp is shared with the other commands, which keep the default.
	a.svc.SetMaxIngestBytes(unlimitedAsNegative(*maxIngestMB << 20))
	if cleaned, orphans, err := a.svc.SweepOrphans(ctx, time.Hour); err != nil {
		log.Warn("sweep blob store", "err", err)
	} else if cleaned+orphans > 0 {
		log.Info("removed leftovers of interrupted writes and blobs no recording refers to",
			"temporary", cleaned, "orphans", orphans)
	}
	// Finish deletions a crash cut after their catalog step (retention.go).
	if n, err := a.svc.ResumeDeletes(vault.WithRequestInfo(ctx, vault.RequestInfo{})); err != nil {
		log.Warn("resume interrupted deletions", "err", err)
	} else if n > 0 {
		log.Info("finished interrupted deletions", "recordings", n)
	}
	if *purgeEvery > 0 {
		purgeCtx, stopPurge := context.WithCancel(ctx)
		purgeDone := make(chan struct{})
		go func() { defer close(purgeDone); purgeLoop(purgeCtx, a.svc, *purgeEvery, log) }()
		defer func() { stopPurge(); <-purgeDone }() // before a.Close: the purge uses the catalog
	}
	if *withDemo {
		if err := demo.Seed(ctx, a.svc, stdout); err != nil {
			return err
		}
	}
	srv := server.New(a.svc, server.Config{Logger: log, TLSCert: *cert, TLSKey: *key, ShutdownGrace: *grace, NoPublicMetrics: mln != nil,
		CCGateway: ccgateway.Config{DynamicGUID: *dynGUID, CORSOrigins: corsOrigins},
		Ameyo:     ameyo.Config{ArchivePath: *archivePath, ArchiveAllow: nets}, TrustedProxies: proxies,
		MaxConnsPerClient: int(unlimitedAsNegative(int64(*maxConns)))})
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "recvault serving %s://%s (%s)\n", scheme, ln.Addr(), loc)
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if mln != nil {
		msrv := &http.Server{Handler: metricsMux(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener failed", "err", err)
			}
		}()
		defer msrv.Close()
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for running downloads", "grace", grace.String())
	if err := srv.Shutdown(context.Background()); err != nil {
		return err
	}
	return <-errc
}

// archivePathFree reports whether p may hold Ameyo's archive download:
// absolute, and clear of every path the APIs, the console and the
// operations endpoints answer.
func archivePathFree(p string) bool {
	if !strings.HasPrefix(p, "/") || p == "/" {
		return false
	}
	for _, taken := range []string{"/api/", "/agentgateway/", "/ameyo", "/recordings", "/users", "/static/",
		"/signin", "/signout", "/metrics", "/healthz", "/readyz"} {
		if strings.HasPrefix(p, taken) {
			return false
		}
	}
	return true
}

// listen opens a TCP listener, naming the flag to change when the address
// is taken or not valid.
func listen(addr, flagName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s %s: the address is already in use (another recvault or program listens there); "+
			"stop it or choose another port, e.g. %s 127.0.0.1:8081", flagName, addr, flagName)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("%s %s: permission denied (ports below 1024 need privileges); choose a port above 1024", flagName, addr)
	case err != nil:
		return nil, usagef("%s %s: %v", flagName, addr, err)
	}
	return ln, nil
}

// metricsMux serves only /metrics (the metrics-only listener).
func metricsMux() http.Handler {
	m := http.NewServeMux()
	m.Handle("GET /metrics", server.MetricsHandler())
	return m
}

// unlimitedAsNegative maps a flag's "0 = unlimited" to the configs' "0 =
// default, negative = unlimited".
func unlimitedAsNegative(n int64) int64 {
	if n == 0 {
		return -1
	}
	return n
}
