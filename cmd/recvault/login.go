package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault/client"
	ameyoclient "github.com/recvault/recvault/client/ameyo"
	ccgwclient "github.com/recvault/recvault/client/ccgw"
	v1client "github.com/recvault/recvault/client/v1"
)

// The download client's commands: login and logout here, get in get.go.

// protocols are the servers the client speaks to.
var protocols = []string{"ameyo", "ccgw", "v1"}

// storedSession is one sign-in kept between commands.
type storedSession struct {
	Protocol string    `json:"protocol"`
	Server   string    `json:"server"`
	User     string    `json:"user"`  // login, Ameyo userId, or CC-Gateway work number
	Token    string    `json:"token"` // bearer token, Ameyo session id, or GUID
	Phone    string    `json:"phone,omitempty"`
	CACert   string    `json:"cacert,omitempty"`
	Insecure bool      `json:"insecure,omitempty"`
	SavedAt  time.Time `json:"savedAt"`
}

// sessionStore is the per-user session file: $RECVAULT_SESSIONS, else
// recvault/sessions.json in the user's config directory; mode 0600 since
// it holds live credentials.
type sessionStore struct {
	path string
	mu   sync.Mutex
}

func openSessionStore() (*sessionStore, error) {
	if p := os.Getenv("RECVAULT_SESSIONS"); p != "" {
		return &sessionStore{path: p}, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("session file: %w (set RECVAULT_SESSIONS)", err)
	}
	return &sessionStore{path: filepath.Join(dir, "recvault", "sessions.json")}, nil
}

func (s *sessionStore) load() ([]storedSession, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var f struct {
		Sessions []storedSession `json:"sessions"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("session file %s is damaged (%v); delete it and log in again", s.path, err)
	}
	return f.Sessions, nil
}

// save writes the sessions atomically with mode 0600.
func (s *sessionStore) save(list []storedSession) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(map[string]any{"sessions": list}, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".sessions-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// put stores ss, replacing the session of the same protocol and server.
func (s *sessionStore) put(ss storedSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	list, err := s.load()
	if err != nil {
		return err
	}
	out := list[:0]
	for _, x := range list {
		if x.Protocol != ss.Protocol || x.Server != ss.Server {
			out = append(out, x)
		}
	}
	ss.SavedAt = time.Now().UTC().Truncate(time.Second)
	return s.save(append(out, ss))
}

// find returns the one stored session of protocol (on server, when given).
func (s *sessionStore) find(protocol, server string) (storedSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list, err := s.load()
	if err != nil {
		return storedSession{}, err
	}
	var found []storedSession
	for _, x := range list {
		if x.Protocol == protocol && (server == "" || x.Server == normServer(server)) {
			found = append(found, x)
		}
	}
	switch len(found) {
	case 0:
		where := ""
		if server != "" {
			where = " on " + server
		}
		return storedSession{}, fmt.Errorf("no %s session%s: run \"recvault login %s --server URL --user NAME\" first", protocol, where, protocol)
	case 1:
		return found[0], nil
	}
	return storedSession{}, usagef("several %s sessions are stored: choose one with --server", protocol)
}

// normServer is the base URL in one spelling, so sessions match.
func normServer(s string) string { return strings.TrimRight(strings.TrimSpace(s), "/") }

func checkServer(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--server must be a URL such as https://host:8443, got %q", s)
	}
	return nil
}

func checkProtocol(cmd string, args []string) (string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", usagef("%s wants a protocol first: %s", cmd, strings.Join(protocols, ", "))
	}
	for _, p := range protocols {
		if args[0] == p {
			return p, nil
		}
	}
	return "", usagef("unknown protocol %q: want %s", args[0], strings.Join(protocols, ", "))
}

// connFlags are the connection flags of login, logout and get.
type connFlags struct {
	server   *string
	cacert   *string
	insecure *bool
	timeout  *time.Duration
	verbose  *bool
	retries  *int
	wait     *time.Duration
}

func addConnFlags(fs *flag.FlagSet) connFlags {
	return connFlags{
		server:   fs.String("server", "", "server base URL, e.g. https://host:8443"),
		cacert:   fs.String("cacert", "", "PEM file of CA certificates to trust (self-signed servers)"),
		insecure: fs.Bool("insecure", false, "do not verify the server's certificate (unsafe)"),
		timeout:  fs.Duration("timeout", 30*time.Second, "limit on connecting, on waiting for an answer, and on a stalled download"),
		verbose:  fs.Bool("v", false, "log each request to stderr (secrets shortened)"),
		retries:  fs.Int("retries", 5, "attempts per download, the first included"),
		wait:     fs.Duration("retry-wait", 500*time.Millisecond, "first backoff between attempts (doubles, with jitter)"),
	}
}

// transfer builds the HTTP client and transfer engine; stored TLS settings
// apply unless the flags give their own.
func (c connFlags) transfer(stderr io.Writer, ss *storedSession) (*client.Transfer, error) {
	cacert, insecure := *c.cacert, *c.insecure
	if ss != nil {
		if cacert == "" {
			cacert = ss.CACert
		}
		insecure = insecure || ss.Insecure
	}
	if insecure {
		fmt.Fprintln(stderr, "warning: --insecure: the server's certificate is not checked; anyone on the network path can read and change what is sent, passwords and recordings included")
	}
	o := client.HTTPOptions{CACertFile: cacert, Insecure: insecure, Timeout: *c.timeout}
	if *c.verbose {
		o.Verbose = stderr
	}
	hc, err := client.NewHTTPClient(o)
	if err != nil {
		return nil, err
	}
	return &client.Transfer{HTTP: hc, IdleTimeout: *c.timeout,
		Retry: client.Retry{Attempts: *c.retries, Base: *c.wait}}, nil
}

// cmdLogin: recvault login ameyo|ccgw|v1 --server URL --user NAME.
func cmdLogin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	proto, err := checkProtocol("login", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("login "+proto, stderr)
	cf := addConnFlags(fs)
	user := fs.String("user", "", "login name (v1), userId (ameyo) or agent work number (ccgw)")
	phone := fs.String("phone", "", "ccgw: the agent's phone number (phonenum)")
	force := fs.Bool("force", false, "take over a session the user already has (Ameyo forceLogin, CC-Gateway forcelogin)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	server := normServer(*cf.server)
	if err := checkServer(server); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	store, err := openSessionStore()
	if err != nil {
		return err
	}
	t, err := cf.transfer(stderr, nil)
	if err != nil {
		return err
	}
	password, err := readPassword(stdin, stderr, "password for "+*user+": ")
	if err != nil {
		return err
	}
	if password == "" {
		return usagef("empty password")
	}
	ss := storedSession{Protocol: proto, Server: server, User: *user, Phone: *phone, CACert: absPath(*cf.cacert), Insecure: *cf.insecure}
	switch proto {
	case "v1":
		s, err := v1client.New(server, t).Login(ctx, *user, password)
		if err != nil {
			return err
		}
		ss.Token = s.Token
	case "ameyo":
		s, err := ameyoclient.New(server, t).Login(ctx, *user, password, *force)
		if err != nil {
			if errors.Is(err, client.ErrInvalid) && strings.Contains(err.Error(), "already") {
				return fmt.Errorf("%w (add --force to take the session over)", err)
			}
			return err
		}
		ss.Token = s.SessionID
	case "ccgw":
		s, err := ccgwclient.New(server, t).Login(ctx, *user, password, *phone, *force)
		if err != nil {
			var e *client.Error
			if errors.As(err, &e) && e.Code == "100-002" {
				return fmt.Errorf("%w (add --force to sign in again)", err)
			}
			return err
		}
		ss.Token = s.GUID
	}
	if err := store.put(ss); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "logged in to %s as %s (%s); session kept in %s\n", server, *user, proto, store.path)
	return nil
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// cmdLogout: recvault logout [ameyo|ccgw|v1] [--server URL] signs out of
// the stored sessions (all of them when neither is given) and forgets them.
func cmdLogout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	proto := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		p, err := checkProtocol("logout", args)
		if err != nil {
			return err
		}
		proto, args = p, args[1:]
	}
	fs := newFlagSet(strings.TrimSpace("logout "+proto), stderr)
	cf := addConnFlags(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	store, err := openSessionStore()
	if err != nil {
		return err
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	list, err := store.load()
	if err != nil {
		return err
	}
	var keep []storedSession
	n := 0
	for _, ss := range list {
		if (proto != "" && ss.Protocol != proto) || (*cf.server != "" && ss.Server != normServer(*cf.server)) {
			keep = append(keep, ss)
			continue
		}
		n++
		t, err := cf.transfer(stderr, &ss)
		if err == nil {
			err = serverLogout(ctx, t, ss)
		}
		if err != nil && !errors.Is(err, client.ErrUnauthenticated) {
			// Forget it anyway: the session is useless to us now, and the
			// server ends it when it idles out.
			fmt.Fprintf(stderr, "warning: %s %s: sign-out failed: %v\n", ss.Protocol, ss.Server, err)
		}
		fmt.Fprintf(stdout, "logged out of %s (%s, %s)\n", ss.Server, ss.Protocol, ss.User)
	}
	if n == 0 {
		fmt.Fprintln(stdout, "no stored session matched")
		return nil
	}
	return store.save(keep)
}

func serverLogout(ctx context.Context, t *client.Transfer, ss storedSession) error {
	switch ss.Protocol {
	case "v1":
		c := v1client.New(ss.Server, t)
		c.SetToken(ss.Token)
		return c.Logout(ctx)
	case "ameyo":
		c := ameyoclient.New(ss.Server, t)
		c.SetSession(ss.Token)
		return c.Logout(ctx)
	case "ccgw":
		c := ccgwclient.New(ss.Server, t)
		c.SetSession(ss.User, ss.Token)
		return c.Logout(ctx)
	}
	return fmt.Errorf("unknown protocol %q", ss.Protocol)
}
