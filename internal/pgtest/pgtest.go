// Package pgtest gives tests a real PostgreSQL: a throw-away server started
// once per test binary, and a fresh, empty database for every call of URL,
// so that tests are isolated from each other yet pay for initdb and server
// start only once.
//
// The server runs from the PostgreSQL binaries on PATH (or the newest
// /usr/lib/postgresql/*/bin); without them the tests skip, and fail under
// CI=true, like internal/testtool's tools. RECVAULT_TEST_POSTGRES set to a
// server URL (of a role allowed to CREATE DATABASE) makes URL use that
// server instead of starting one.
//
// go test has no global teardown. The server therefore dies with the test
// binary on its own (parent-death signal), a small reaper process removes
// its files when the test binary is gone, and a package that wants a
// clean, fast shut-down calls Main from its TestMain.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable that points the tests at an
// existing server instead of a throw-away one.
const EnvURL = "RECVAULT_TEST_POSTGRES"

// startTimeout bounds how long the throw-away server may take to accept
// connections.
const startTimeout = 30 * time.Second

var (
	once   sync.Once
	srv    *server
	srvErr error
	dbSeq  atomic.Int64
)

// server is the server the test binary's databases live on.
type server struct {
	admin    *pgxpool.Pool // connected to its maintenance database
	base     *neturl.URL   // URL of the maintenance database
	external bool          // RECVAULT_TEST_POSTGRES: not ours to stop

	// Only for a throw-away server:
	dir    string        // temp dir with data/, sock/, postgres.log
	proc   *os.Process   // the postmaster
	exited chan struct{} // closed when the postmaster has exited
	reaper *os.File      // write end of the reaper's pipe
}

// Need skips the test if PostgreSQL is not installed (and fails it under
// CI=true), and returns the directory of its binaries. With
// RECVAULT_TEST_POSTGRES set, no binaries are needed and it returns "".
func Need(t testing.TB) string {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		return ""
	}
	dir, err := binDir()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI=true (.ci/run installs it): %v", err)
		}
		t.Skipf("PostgreSQL is not installed (%v); install it or set %s to a server URL", err, EnvURL)
	}
	return dir
}

// binDir finds the directory holding initdb and postgres: initdb's, on
// PATH (following links, since initdb wants its own postgres beside it),
// else the newest /usr/lib/postgresql/*/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if isExec(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	dirs, err := filepath.Glob("/usr/lib/postgresql/*/bin")
	if err != nil {
		return "", fmt.Errorf("look for PostgreSQL: %w", err)
	}
	// Newest major version first (numeric: 9.6 < 10 < 15).
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("initdb and postgres are neither on PATH nor in /usr/lib/postgresql/*/bin")
}

func majorOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return 0
	}
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// URL returns the URL of a new, empty database on the test binary's server,
// starting the server on first use. On a server of RECVAULT_TEST_POSTGRES
// the database is dropped when the test ends; on the throw-away server it
// goes with the server, which saves the time of dropping it.
func URL(t testing.TB) string {
	t.Helper()
	bin := Need(t)
	once.Do(func() { srv, srvErr = start(bin) })
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	name := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// A name of digits, letters and '_' needs no quoting; pgx.Identifier
	// quotes it anyway.
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := srv.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	if srv.external {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
			defer cancel()
			// FORCE: a test that failed may have left connections open.
			if _, err := srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		})
	}
	u := *srv.base
	u.Path = "/" + name
	return u.String()
}

// Main runs the tests of m and then stops the throw-away server cleanly
// (a fast shut-down, and its files removed), returning m's exit code:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without it the server still dies with the test binary.
func Main(m *testing.M) int {
	code := m.Run()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

func start(bin string) (*server, error) {
	if raw := os.Getenv(EnvURL); raw != "" {
		return connect(raw, true)
	}
	var lastErr error
	// The free port is found by binding and releasing it, so another
	// process can take it before postgres does: then try another.
	for range 3 {
		s, err := startLocal(bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

func connect(raw string, external bool) (*server, error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	return &server{admin: pool, base: u, external: external}, nil
}

// runAs returns the credentials to run initdb and postgres with: both
// refuse to run as root, so as root they run as the postgres system user,
// or nobody. nil: run as ourselves.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, uerr := strconv.ParseUint(u.Uid, 10, 32)
		gid, gerr := strconv.ParseUint(u.Gid, 10, 32)
		if uerr != nil || gerr != nil {
			return nil, fmt.Errorf("user %s has non-numeric ids %s:%s", name, u.Uid, u.Gid)
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

// tempBase is where the server's directory goes: os.TempDir(), unless the
// user the server runs as cannot reach into it (a private TMPDIR of root's),
// then /tmp.
func tempBase(cred *syscall.Credential) string {
	base := os.TempDir()
	if cred == nil {
		return base
	}
	for d := base; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return base
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}

func startLocal(bin string) (s *server, err error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tempBase(cred), "recvault-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := os.RemoveAll(dir); rerr != nil {
				err = fmt.Errorf("%w (and removing %s: %v)", err, dir, rerr)
			}
		}
	}()
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	if cred != nil {
		for _, d := range []string{dir, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("hand %s to uid %d: %w", d, cred.Uid, err)
			}
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	defer func() {
		if cerr := logf.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("server log: %w", cerr)
		}
	}()

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(lastLines(string(out), 5)))
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	pg.Dir = dir
	pg.Env = serverEnv()
	// Own output file, never our stdout: go test waits for every holder of
	// the test binary's output pipe to close it.
	pg.Stdout, pg.Stderr = logf, logf
	pg.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Dies with the test binary, which may exit without any teardown.
		Pdeathsig: syscall.SIGKILL,
		// Not in the terminal's process group: ^C stops the test binary,
		// and the server goes with it through Pdeathsig.
		Setpgid: true,
	}
	started := make(chan error, 1)
	exited := make(chan struct{})
	var waitErr error
	// The parent-death signal fires when the *thread* that started the
	// child exits, not the process. Start it from a locked thread whose
	// goroutine lives as long as the server.
	go func() {
		runtime.LockOSThread()
		if err := pg.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		waitErr = pg.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s = &server{dir: dir, proc: pg.Process, exited: exited,
		base: &neturl.URL{Scheme: "postgres", User: neturl.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Path: "/postgres", RawQuery: "sslmode=disable"}}
	defer func() {
		if err != nil {
			if kerr := s.kill(); kerr != nil {
				err = fmt.Errorf("%w (and stopping it: %v)", err, kerr)
			}
		}
	}()
	if err := s.startReaper(); err != nil {
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		select {
		case <-exited:
			log := readLog(logPath)
			if strings.Contains(log, "could not bind") || strings.Contains(log, "Address already in use") {
				return nil, fmt.Errorf("%w: postgres on port %d: %s", errPortTaken, port, lastLines(log, 3))
			}
			return nil, fmt.Errorf("postgres exited (%v): %s", waitErr, lastLines(log, 5))
		default:
		}
		return nil, fmt.Errorf("%w; log: %s", err, lastLines(readLog(logPath), 5))
	}
	return s, nil
}

// serverEnv is our environment without the PG* variables (PGDATA, PGPORT,
// …) a developer's shell may set, which would redirect the server.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady connects until the server answers, it exits, or startTimeout.
func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("postgres exited during start-up")
		default:
		}
		ss, err := connect(s.base.String(), false)
		if err == nil {
			s.admin = ss.admin
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres did not accept connections within %v: %w", startTimeout, last)
}

// reaperScript waits until its stdin closes, which happens when the test
// binary is gone however it ended, then removes the server's files. If the
// server was killed (postmaster.pid still there), it first removes the
// System V shared memory segment the server could not, whose id is on the
// file's seventh line. "stopped" on stdin: Main already cleaned up.
const reaperScript = `read -r line
[ "$line" = stopped ] && exit 0
sleep 1
if [ -f "$1/data/postmaster.pid" ]; then
	n=0
	while IFS= read -r l; do
		n=$((n+1))
		if [ "$n" -eq 7 ]; then
			set -- "$1" $l
			[ -n "$3" ] && ipcrm -m "$3" 2>/dev/null
			break
		fi
	done < "$1/data/postmaster.pid"
fi
rm -rf "$1"
`

func (s *server) startReaper() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "pgtest-reaper", s.dir)
	cmd.Stdin = r
	// Its own process group, so that ^C in the terminal does not stop it
	// before it has cleaned up; no stdout, so that go test need not wait.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return errors.Join(fmt.Errorf("reaper: %w", err), r.Close(), w.Close())
	}
	if err := r.Close(); err != nil {
		return errors.Join(fmt.Errorf("reaper: %w", err), w.Close())
	}
	// Reap it in the background should it end while we run; a failure of
	// the reaper only leaves a temp dir behind.
	go func() { _ = cmd.Wait() }()
	s.reaper = w
	return nil
}

// stop shuts the throw-away server down (fast shut-down: sessions are
// ended, nothing is flushed that fsync=off would not lose anyway) and
// removes its files; for an external server it only closes the pool.
func (s *server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.external {
		return nil
	}
	errs := []error{s.kill()}
	if s.reaper != nil {
		_, werr := s.reaper.WriteString("stopped\n")
		errs = append(errs, werr, s.reaper.Close())
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// kill asks the postmaster for a fast shut-down and waits for it, killing
// it if it takes more than ten seconds.
func (s *server) kill() error {
	select {
	case <-s.exited:
		return nil
	default:
	}
	if err := s.proc.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postgres: %w", err)
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := s.proc.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill postgres: %w", err)
	}
	<-s.exited
	return nil
}

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
