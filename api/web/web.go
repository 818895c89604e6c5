// Package web is recvault's supervisor console: sign-in, search, a player
// with the waveform of both sides of a call, downloads, and for admins who
// accessed a recording and the users list. It is a façade like the
// others: pages are rendered from the core's answers (the same access rule
// and audit as every API) and the player streams the native API's media
// and peaks endpoints with the console's cookie session. Everything it
// serves is embedded in the binary; nothing is fetched at run time.
package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/api/httputil"
	"github.com/recvault/recvault/vault"
)

//go:embed templates static
var files embed.FS

// SessionKind is the kind of the sessions the console opens: they have the
// same idle timeout and lifetime as every other session.
const SessionKind = "web"

// contentSecurityPolicy lets pages load only the console's own script,
// style, media and API answers: no inline script or style, no frames, no
// form posted elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Handler serves the console at / (every path the APIs do not claim).
type Handler struct {
	svc    *vault.Service
	log    *slog.Logger
	pages  map[string]*template.Template
	static http.Handler
	mux    *http.ServeMux
	// cross refuses state-changing requests sent by another site's page
	// (Sec-Fetch-Site, else Origin against Host): a forged sign-in or
	// sign-out form. Signed-in forms also carry a token derived from the
	// session (csrfToken), for browsers that send neither header.
	cross   *http.CrossOriginProtection
	guarded http.Handler // mux behind cross
}

// New returns the console handler.
func New(svc *vault.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux(), cross: http.NewCrossOriginProtection()}
	h.cross.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Refused",
			Message: "This form was sent from another site and was refused."})
	}))
	funcs := template.FuncMap{
		"duration": formatDuration,
		"channels": channelsText,
		"bytes":    formatBytes,
	}
	h.pages = map[string]*template.Template{}
	for _, name := range []string{"signin", "search", "recording", "users", "error"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files,
			"templates/layout.html", "templates/"+name+".html"))
	}
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	h.static = http.StripPrefix("/static/", http.FileServerFS(sub))

	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.HandleFunc("POST /signout", h.signedIn(h.signout))
	h.mux.HandleFunc("GET /recordings", h.signedIn(h.search))
	h.mux.HandleFunc("GET /recordings/{id}", h.signedIn(h.recording))
	h.mux.HandleFunc("GET /users", h.signedIn(h.users))
	h.mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		// Assets change only with the binary; revalidate rather than
		// guess a lifetime (FileServerFS answers 304 by modification time
		// and size is small).
		w.Header().Set("Cache-Control", "no-cache")
		h.static.ServeHTTP(w, r)
	})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.notFound(w, r)
	})
	h.guarded = h.cross.Handler(h.mux)
	return h
}

// Pattern is the route pattern r matches, for metrics labels ("" for none).
func (h *Handler) Pattern(r *http.Request) string { return httputil.RoutePattern(h.mux, r, "/") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	ri := vault.RequestInfoFrom(r.Context())
	ri.Via = "web"
	httputil.Serve(h.guarded, w, r.WithContext(vault.WithRequestInfo(r.Context(), ri)), "/")
}

// page is what every template gets.
type page struct {
	Title string
	User  *recvault.User
	// CSRF is the sign-out form's token, filled in by render for a
	// signed-in page.
	CSRF    string
	Message string // an error or notice shown above the content
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.User != nil {
		p.CSRF = csrfToken(sessionToken(r))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := h.pages[name].Execute(w, p); err != nil && r.Context().Err() == nil {
		h.log.Error("render page", "page", name, "err", err,
			"request_id", vault.RequestInfoFrom(r.Context()).RequestID)
	}
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Message: "There is nothing here."})
}

// fail answers a core error as a page: not found (which is also what a
// recording the user may not see gets), invalid input, or an internal
// failure whose details go to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *recvault.Principal, err error) {
	pg := page{Title: "Error", Message: recvault.ErrorMessage(err)}
	if p != nil {
		pg.User = p.User
	}
	status := http.StatusInternalServerError
	switch recvault.ErrorCode(err) {
	case recvault.ENOTFOUND, recvault.EFORBIDDEN:
		status, pg.Title, pg.Message = http.StatusNotFound, "Not found", "There is nothing here."
	case recvault.EINVALID:
		status, pg.Title = http.StatusBadRequest, "Bad request"
	case recvault.ETHROTTLED:
		status, pg.Title = http.StatusTooManyRequests, "Slow down"
	default:
		pg.Message = "The server failed; the error has been logged."
		h.log.Error("console request failed", "err", err, "path", r.URL.Path,
			"request_id", vault.RequestInfoFrom(r.Context()).RequestID)
	}
	h.render(w, r, status, "error", pg)
}

func sessionToken(r *http.Request) string {
	if c, err := r.Cookie(httputil.SessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// csrfToken is the anti-forgery token of a session: a MAC of a fixed text
// under the session's own token. It needs no state (every replica derives
// the same one), and a page of another site cannot compute it because it
// cannot read the HttpOnly cookie.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("recvault console form"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

type signedInFunc func(http.ResponseWriter, *http.Request, *recvault.Principal)

// signedIn runs f for a request with a live console session; any other
// request is sent to the sign-in page, which comes back here afterwards.
func (h *Handler) signedIn(f signedInFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.principal(r)
		if err != nil {
			if recvault.ErrorCode(err) != recvault.EUNAUTHENTICATED {
				h.fail(w, r, nil, err)
				return
			}
			if r.Method != http.MethodGet {
				http.Redirect(w, r, "/", http.StatusSeeOther)
				return
			}
			http.Redirect(w, r, "/?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		f(w, r, p)
	}
}

func (h *Handler) principal(r *http.Request) (*recvault.Principal, error) {
	tok := sessionToken(r)
	if tok == "" {
		return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "not signed in")
	}
	p, err := h.svc.Authenticate(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	if p.Session == nil || p.Session.Kind != SessionKind {
		return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "not a console session")
	}
	return p, nil
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	if _, err := h.principal(r); err == nil {
		http.Redirect(w, r, "/recordings", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "signin", page{Title: "Sign in", Data: signinData{Next: safeNext(r.URL.Query().Get("next"))}})
}

type signinData struct {
	Login, Next string
}

// safeNext keeps a post-sign-in destination on this site: a path, never
// another host ("//evil", "/\evil", "https://…").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, "signin", page{Title: "Sign in", Message: "The form could not be read."})
		return
	}
	login, password := strings.TrimSpace(r.PostForm.Get("login")), r.PostForm.Get("password")
	data := signinData{Login: login, Next: safeNext(r.PostForm.Get("next"))}
	if login == "" || password == "" {
		h.render(w, r, http.StatusBadRequest, "signin", page{Title: "Sign in", Message: "Enter your login and password.", Data: data})
		return
	}
	token, p, err := h.svc.Login(r.Context(), login, password, SessionKind)
	if err != nil {
		pg := page{Title: "Sign in", Data: data}
		status := http.StatusInternalServerError
		switch recvault.ErrorCode(err) {
		case recvault.EUNAUTHENTICATED:
			status, pg.Message = http.StatusUnauthorized, "Wrong login or password."
		case recvault.ETHROTTLED:
			status, pg.Message = http.StatusTooManyRequests, "Too many failed sign-ins."
			if d, ok := recvault.RetryAfter(err); ok {
				secs := int((d + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.Itoa(secs))
				pg.Message += " Try again in " + strconv.Itoa(secs) + " seconds."
			}
		case recvault.EFORBIDDEN, recvault.ECONFLICT:
			status, pg.Message = http.StatusForbidden, recvault.ErrorMessage(err)
		default:
			pg.Message = "The server failed; try again."
			h.log.Error("console sign-in failed", "err", err, "request_id", vault.RequestInfoFrom(r.Context()).RequestID)
		}
		h.render(w, r, status, "signin", pg)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: httputil.SessionCookie, Value: token, Path: "/",
		Expires: p.Session.ExpiresAt, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	next := data.Next
	if next == "" || next == "/" {
		next = "/recordings"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(csrfToken(sessionToken(r)))) {
		h.render(w, r, http.StatusForbidden, "error", page{Title: "Refused", User: p.User,
			Message: "This form has expired or was not sent from this console; sign out again from the page."})
		return
	}
	if err := h.svc.Logout(r.Context(), p); err != nil {
		h.fail(w, r, p, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: httputil.SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	users, err := h.svc.Users(r.Context(), p)
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	h.render(w, r, http.StatusOK, "users", page{Title: "Users", User: p.User, Data: users})
}

// newPlayback is a fresh playback id for a recording page's player.
func newPlayback() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b[:])
}
