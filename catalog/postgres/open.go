package postgres

import (
	"errors"
	"net"
	neturl "net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// openError is what Open returns: one line that names the database (never
// its password), what failed, and why. It unwraps to the cause, so callers
// can still test for *pgconn.PgError and the like.
type openError struct {
	target string // the database, as describe shows it; "" if the URL did not parse
	what   string // what failed, e.g. "cannot connect"; "" if the cause says it
	err    error
	secret string // the password, masked wherever a cause quotes it
}

func (e *openError) Error() string {
	var b strings.Builder
	b.WriteString("catalog")
	if e.target != "" {
		b.WriteString(" " + e.target)
	}
	b.WriteString(":")
	if e.what != "" {
		b.WriteString(" " + e.what + ":")
	}
	b.WriteString(" " + causeText(e.err, e.secret))
	return b.String()
}

func (e *openError) Unwrap() error { return e.err }

// causeText is err's message on one line. pgx repeats the user and
// database the target already names, and puts each of several connection
// attempts on its own line; the password is masked in case any layer
// quoted it.
func causeText(err error, secret string) string {
	if err == nil {
		return "unknown error"
	}
	msg := err.Error()
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := errors.Unwrap(ce); inner != nil {
			msg = inner.Error()
		}
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		// "cannot parse `<redacted url>`: why": keep the why. Any cut of the
		// (already redacted) text is as safe as the whole.
		if rest, ok := strings.CutPrefix(msg, "cannot parse `"); ok {
			if i := strings.Index(rest, "`: "); i >= 0 {
				msg = rest[i+3:]
			}
		}
	}
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "xxxxx")
		msg = strings.ReplaceAll(msg, neturl.QueryEscape(secret), "xxxxx")
		msg = strings.ReplaceAll(msg, neturl.PathEscape(secret), "xxxxx")
	}
	msg = strings.ReplaceAll(msg, "\r", "")
	msg = strings.ReplaceAll(msg, "\n\t", "; ")
	return strings.ReplaceAll(msg, "\n", "; ")
}

// describe names the database cfg points at, as a URL without password or
// options: built from the parsed settings rather than redacted from the
// input, so that nothing secret can slip through whatever form the input had.
func describe(cfg *pgconn.Config) string {
	host := cfg.Host
	hostport := net.JoinHostPort(host, portString(cfg.Port))
	u := "postgres://"
	if cfg.User != "" {
		u += neturl.PathEscape(cfg.User) + "@"
	}
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return u + "/" + neturl.PathEscape(cfg.Database) + "?host=" + neturl.QueryEscape(host)
	}
	return u + hostport + "/" + neturl.PathEscape(cfg.Database)
}

// parseError reports a URL pgx could not parse. It names the database only
// when net/url can take the URL apart (so that the password can be left
// out for certain); pgx's own message masks passwords as well, and any
// password the URL seems to hold is masked in it once more.
func parseError(url string, err error) error {
	e := &openError{what: "invalid URL", err: err, secret: guessPassword(url)}
	if u, perr := neturl.Parse(url); perr == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Host != "" {
		t := u.Scheme + "://"
		if u.User != nil {
			t += neturl.PathEscape(u.User.Username()) + "@"
		}
		e.target = t + u.Host + u.EscapedPath()
	}
	return e
}

// guessPassword finds the password of a URL that may be malformed: what
// lies between the first ':' of the userinfo and the last '@' before the
// path, or a password= setting.
func guessPassword(s string) string {
	if rest, ok := strings.CutPrefix(s, "postgres://"); ok {
		s = rest
	} else if rest, ok := strings.CutPrefix(s, "postgresql://"); ok {
		s = rest
	} else {
		// keyword/value: password=secret or password='se cret'
		i := strings.Index(s, "password=")
		if i < 0 {
			return ""
		}
		v := s[i+len("password="):]
		if q, ok := strings.CutPrefix(v, "'"); ok {
			v, _, _ = strings.Cut(q, "'")
			return v
		}
		v, _, _ = strings.Cut(v, " ")
		return v
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return ""
	}
	_, pw, ok := strings.Cut(s[:at], ":")
	if !ok {
		return ""
	}
	if u, err := neturl.PathUnescape(pw); err == nil && u != pw {
		return u // the unescaped form; causeText masks both spellings
	}
	return pw
}

// connectProblem names, in a few words, why the first connection failed.
func connectProblem(err error) string {
	code := pgCode(err)
	switch {
	case code == undefinedDB:
		return "database does not exist"
	case strings.HasPrefix(code, authClassPrefix):
		return "authentication failed"
	case code != "":
		return "server refused the connection"
	case pgconn.Timeout(err):
		return "cannot connect (timed out)"
	}
	return "cannot connect"
}

func portString(p uint16) string {
	if p == 0 {
		return "5432"
	}
	return strconv.Itoa(int(p))
}
