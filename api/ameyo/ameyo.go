// Package ameyo is the Ameyo / Exotel-compatible façade: the session calls
// under /ameyorestapi (userLogin, login, logout, keep-alive), the download
// call GET /ameyorestapi/cc/downloadVoiceLog, and the legacy command
// interface /ameyowebaccess/command. It speaks Ameyo's wire format and maps
// it onto the core (package vault); it holds no storage or codec code.
package ameyo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/api/httputil"
	"github.com/recvault/recvault/auth"
	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/vault"
)

// Config tunes the façade.
type Config struct {
	ContactCenterID int // reported by userLogin/login; default 1
	// PushWait bounds a /ameyorestapi/pushes long poll; default 10 s.
	PushWait time.Duration
	// ArchivePath, when set, serves Ameyo's archive download
	// (?dacxURI=dacx://voicelog-archiver-storage-path/<callId>&fileId=…) at
	// that path. Off by default; even when on, a request needs an API key or
	// must come from one of ArchiveAllow.
	ArchivePath  string
	ArchiveAllow []netip.Prefix
}

// Handler serves the Ameyo API.
type Handler struct {
	svc *vault.Service
	log *slog.Logger
	cfg Config
	mux *http.ServeMux
	// prefix caches the first part of session ids, fixed per deployment
	// like the vendor's contact-centre hash ("d741-6904fad1"). It is made
	// once for the whole deployment and kept in the catalog, so every
	// replica's ids look alike; once read it never changes, so the cache
	// needs no invalidation.
	prefix atomic.Pointer[string]
}

// SessionKind marks the core sessions this façade opens.
const SessionKind = "ameyo"

// New returns the façade; mount it at /ameyorestapi/ and /ameyowebaccess/.
func New(svc *vault.Service, log *slog.Logger, cfg Config) *Handler {
	if cfg.ContactCenterID == 0 {
		cfg.ContactCenterID = 1
	}
	if cfg.PushWait <= 0 {
		cfg.PushWait = 10 * time.Second
	}
	h := &Handler{svc: svc, log: log, cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /ameyorestapi/session/userLogin", h.userLogin)
	h.mux.HandleFunc("POST /ameyorestapi/userLogin/login", h.login)
	h.mux.HandleFunc("POST /ameyorestapi/session/userLogout", h.logout)
	h.mux.HandleFunc("POST /ameyorestapi/session/keepAliveWithPingPush", h.keepAlive)
	h.mux.HandleFunc("GET /ameyorestapi/cc/downloadVoiceLog", h.downloadVoiceLog)
	h.mux.HandleFunc("GET /ameyowebaccess/command", h.command)
	h.mux.HandleFunc("POST /ameyowebaccess/command", h.command)
	h.mux.HandleFunc("POST /ameyorestapi/session/refreshToken", h.refreshToken)
	h.mux.HandleFunc("POST /ameyorestapi/pushes", h.pushes)
	if cfg.ArchivePath != "" {
		h.mux.HandleFunc("GET "+cfg.ArchivePath, h.archive)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "requested.resource.not.found", "no such call: "+r.Method+" "+r.URL.Path)
	})
	return h
}

// Pattern is the route pattern r matches, for metrics labels ("" for none).
func (h *Handler) Pattern(r *http.Request) string { return httputil.RoutePattern(h.mux, r, "/") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := vault.RequestInfoFrom(r.Context())
	ri.Via = "ameyo"
	httputil.Serve(h.mux, w, r.WithContext(vault.WithRequestInfo(r.Context(), ri)), "/")
}

// Error codes of Ameyo's envelope {"message","code","info","status"}. The
// vendor documents 40001 (InvalidInput) and 909090 (invalid token); the
// others are recvault's, shaped alike.
var codes = map[int]int{
	http.StatusBadRequest:          40001,
	http.StatusUnauthorized:        909090,
	http.StatusForbidden:           40301,
	http.StatusNotFound:            40401,
	http.StatusConflict:            40901,
	http.StatusInternalServerError: 50001,
	loginFailed:                    51201,
}

// loginFailed is the status Ameyo 4.x answers a failed sign-in with.
const loginFailed = 512

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, message, info string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"message": message, "code": codes[status], "info": info, "status": status})
}

// failErr maps a core error onto Ameyo's envelope.
func (h *Handler) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch recvault.ErrorCode(err) {
	case recvault.EINVALID:
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", recvault.ErrorMessage(err))
	case recvault.EUNAUTHENTICATED:
		h.fail(w, r, http.StatusUnauthorized, "invalid.authentication.token", "session id is missing, unknown, expired or logged out")
	case recvault.EFORBIDDEN:
		h.fail(w, r, http.StatusForbidden, "access.denied", "this session may not access that campaign's recordings")
	case recvault.ENOTFOUND:
		h.fail(w, r, http.StatusNotFound, "requested.resource.not.found", recvault.ErrorMessage(err))
	case recvault.ECONFLICT:
		h.fail(w, r, http.StatusConflict, "user.already.logged.in", recvault.ErrorMessage(err))
	default:
		rid := vault.RequestInfoFrom(r.Context()).RequestID
		h.log.Error("ameyo request failed", "err", err, "path", r.URL.Path, "request_id", rid)
		h.fail(w, r, http.StatusInternalServerError, "internal.server.error", "request id "+rid)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// flexBool accepts true, "true", 1 and "1" (clients send booleans either way).
type flexBool bool

func (b *flexBool) UnmarshalJSON(p []byte) error {
	s := strings.Trim(strings.ToLower(string(p)), `"`)
	*b = s == "true" || s == "1" || s == "yes"
	return nil
}

func readBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// userType is how Ameyo names a role; inspectors show as supervisors.
func userType(role recvault.Role) string {
	switch role {
	case recvault.RoleAdmin:
		return "Administrator"
	case recvault.RoleSupervisor, recvault.RoleInspector:
		return "Supervisor"
	}
	return "Executive"
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newSessionID makes an id shaped like Ameyo's,
// <4 hex>-<8 hex>-ses-<userId>-<random>-<n>, whose random part carries 48
// alphanumeric characters (about 285 bits).
func newSessionID(prefix string, u *recvault.User) string {
	var b strings.Builder
	b.WriteString(prefix + "-ses-" + u.Login + "-")
	max := big.NewInt(int64(len(alnum)))
	for i := 0; i < 48; i++ {
		n, _ := rand.Int(rand.Reader, max)
		b.WriteByte(alnum[n.Int64()])
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(90000))
	b.WriteString("-" + strconv.FormatInt(n.Int64()+10000, 10))
	return b.String()
}

// sessionPrefix returns the deployment's session-id prefix,
// <4 hex>-<8 hex>, made by the first replica that needed it.
func (h *Handler) sessionPrefix(ctx context.Context) (string, error) {
	if p := h.prefix.Load(); p != nil {
		return *p, nil
	}
	v, err := h.svc.DeploymentValue(ctx, "ameyo.session-prefix", func() string {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		return hex.EncodeToString(b[:2]) + "-" + hex.EncodeToString(b[2:])
	})
	if err != nil {
		return "", err
	}
	h.prefix.Store(&v)
	return v, nil
}

type loginBody struct {
	Domain       string          `json:"domain"`
	UserID       string          `json:"userId"`
	Token        string          `json:"token"`
	ForceLogin   flexBool        `json:"forceLogin"`
	TerminalInfo json.RawMessage `json:"terminalInfo"`
}

// signIn checks the credentials and opens an exclusive Ameyo session.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) (*loginBody, string, *recvault.Principal, bool) {
	var in loginBody
	if err := readBody(r, &in); err != nil || in.UserID == "" || in.Token == "" {
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", `body must be JSON with "userId" and "token"`)
		return nil, "", nil, false
	}
	prefix, err := h.sessionPrefix(r.Context())
	if err != nil {
		h.failErr(w, r, err)
		return nil, "", nil, false
	}
	sid, p, err := h.svc.LoginWith(r.Context(), in.UserID, in.Token, vault.LoginOptions{
		Kind: SessionKind, NewToken: func(u *recvault.User) string { return newSessionID(prefix, u) },
		Exclusive: true, Force: bool(in.ForceLogin)})
	if err != nil {
		switch recvault.ErrorCode(err) {
		case recvault.EUNAUTHENTICATED:
			// Ameyo 4.x answers a failed sign-in with HTTP 512.
			h.fail(w, r, loginFailed, "invalid.user.credentials", "invalid userId or token")
		case recvault.ETHROTTLED:
			// Ameyo has no throttled answer; its clients know 512 as "sign-in
			// failed" and would not act on a 429. So the same failure, with
			// the wait in Retry-After and the info for whoever reads it.
			if d, ok := recvault.RetryAfter(err); ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
			}
			h.fail(w, r, loginFailed, "invalid.user.credentials", recvault.ErrorMessage(err))
		default:
			h.failErr(w, r, err)
		}
		return nil, "", nil, false
	}
	return &in, sid, p, true
}

func terminalInfo(raw json.RawMessage) any {
	if len(raw) == 0 {
		return ""
	}
	return raw
}

// userLogin is the older sign-in: POST /ameyorestapi/session/userLogin.
func (h *Handler) userLogin(w http.ResponseWriter, r *http.Request) {
	in, sid, p, ok := h.signIn(w, r)
	if !ok {
		return
	}
	writeJSON(w, map[string]any{
		"userId": p.User.Login, "terminalInfo": terminalInfo(in.TerminalInfo), "sessionId": sid,
		"loginTime": p.Session.CreatedAt.UnixMilli(), "userType": userType(p.User.Role),
	})
}

// login is the newer clients' sign-in: POST /ameyorestapi/userLogin/login.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	in, sid, p, ok := h.signIn(w, r)
	if !ok {
		return
	}
	var rid [16]byte
	rand.Read(rid[:])
	idle, _ := h.svc.SessionTimes()
	writeJSON(w, map[string]any{
		"requestId":       hex.EncodeToString(rid[:]),
		"contactCenterId": h.cfg.ContactCenterID,
		"userSessionInfo": map[string]any{
			"userId": p.User.Login, "sessionId": sid, "loginTime": p.Session.CreatedAt.UnixMilli(),
			"userType": userType(p.User.Role), "terminalInfo": terminalInfo(in.TerminalInfo),
		},
		"authenticationState": "AUTHENTICATED",
		"configurations": map[string]any{
			"sessionIdleTimeoutSeconds": int(idle.Seconds()),
			"domain":                    in.Domain,
		},
	})
}

// sessionID finds the session id: the Sessionid header in any letter case
// (Go canonicalises sessionId, SESSIONID… to Sessionid), the sessionId query
// parameter, or a JSON body's sessionId.
func sessionID(r *http.Request, body string) string {
	if v := strings.TrimSpace(r.Header.Get("Sessionid")); v != "" {
		return v
	}
	q := r.URL.Query()
	for _, k := range []string{"sessionId", "sessionid", "SessionId"} {
		if v := q.Get(k); v != "" {
			return v
		}
	}
	return body
}

// tokenPolicy is the policy-name header value of Ameyo's token-based
// authorization, used by machine clients with an API key.
const tokenPolicy = "token-based-authorization-policy"

// principal authenticates a request: by API key (hash-key + policy-name
// headers, requesting-host checked against the key's hosts), else by
// session id (header, query or body), else by a refreshed JWT-style token in
// Authorization, with or without "Bearer ".
func (h *Handler) principal(r *http.Request, body string) (*recvault.Principal, error) {
	if key := r.Header.Get("Hash-Key"); key != "" {
		if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Policy-Name")), tokenPolicy) {
			return nil, recvault.Errorf(recvault.EUNAUTHENTICATED, "hash-key needs policy-name: "+tokenPolicy)
		}
		return h.svc.AuthenticateKey(r.Context(), strings.TrimSpace(key), r.Header.Get("Requesting-Host"))
	}
	if sid := sessionID(r, body); sid != "" {
		return h.svc.Authenticate(r.Context(), sid)
	}
	if a := strings.TrimSpace(r.Header.Get("Authorization")); a != "" {
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			a = strings.TrimSpace(a[7:])
		}
		return h.svc.Authenticate(r.Context(), a)
	}
	return h.svc.Authenticate(r.Context(), "") // refused and audited by the core
}

// jwtKind marks sessions opened by refreshToken.
const jwtKind = "ameyo-jwt"

// refreshToken: POST /ameyorestapi/session/refreshToken {"userId"} with a
// live session answers {"jwtToken"}: a JWT-shaped bearer token (header,
// claims, and 256 random bits in the signature place) that is a core
// session of its own, looked up by hash like every other.
func (h *Handler) refreshToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID    string `json:"userId"`
		SessionID string `json:"sessionId"`
	}
	if err := readBody(r, &in); err != nil {
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "body must be JSON with userId")
		return
	}
	p, err := h.principal(r, in.SessionID)
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	if p.Session == nil || (in.UserID != "" && in.UserID != p.User.Login) {
		h.fail(w, r, http.StatusForbidden, "access.denied", "userId is not the session's user")
		return
	}
	now := h.svc.Now()
	_, max := h.svc.SessionTimes()
	tok, _, err := h.svc.OpenSessionFor(r.Context(), p.User, jwtKind, func(u *recvault.User) string {
		enc := base64.RawURLEncoding
		head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		claims, _ := json.Marshal(map[string]any{"sub": u.Login, "iat": now.Unix(), "exp": now.Add(max).Unix(), "iss": "recvault"})
		return head + "." + enc.EncodeToString(claims) + "." + auth.NewToken(32)
	})
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"jwtToken": tok, "userId": p.User.Login})
}

// pushIdle is the text Ameyo answers a push poll with when nothing happened.
const pushIdle = "--DON'T_PANIC!_more_will_follow"

// pushes: POST /ameyorestapi/pushes?listener-name=…&lastProcessedPush=-1.
// recvault pushes nothing; it holds the poll for PushWait, then answers
// Ameyo's idle text.
func (h *Handler) pushes(w http.ResponseWriter, r *http.Request) {
	var in sessionBody
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	_ = json.Unmarshal(body, &in)
	if _, err := h.principal(r, in.SessionID); err != nil {
		h.failErr(w, r, err)
		return
	}
	// Like Ameyo's own server, the status and headers go out at once and
	// the body streams: a client that waits for the headers with a short
	// timeout must not see the held poll as a dead server.
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := http.NewResponseController(w).Flush(); err != nil {
		return // the client is gone
	}
	t := time.NewTimer(h.cfg.PushWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	io.WriteString(w, pushIdle)
}

// archive serves Ameyo's archive download: ?dacxURI=dacx://voicelog-
// archiver-storage-path/<callId>&fileId=<n>&errorHandle=true&mediaType=AUDIO,
// the dacxURI not percent-encoded. Old deployments send no credentials;
// recvault still wants an API key or a request from an allow-listed
// network, and audits every use.
func (h *Handler) archive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var p *recvault.Principal
	var err error
	if r.Header.Get("Hash-Key") != "" {
		p, err = h.principal(r, "") // the core audits a bad key
	} else {
		p, err = h.svc.AuthenticateNetwork(ctx, remoteIP(r), h.cfg.ArchiveAllow)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	raw, _ := rawParam(r.URL.RawQuery, "dacxURI")
	uri, err := url.QueryUnescape(raw)
	if err != nil {
		uri = raw
	}
	const scheme = "dacx://voicelog-archiver-storage-path/"
	callID, ok := strings.CutPrefix(uri, scheme)
	if !ok || callID == "" || strings.ContainsAny(callID, "/\\\x00") || len(callID) > 128 {
		h.failErr(w, r, h.svc.Refuse(ctx, p, recvault.ActionArchiveDownload, "dacxURI="+uri, "dacxURI must be "+scheme+"<callId>"))
		return
	}
	if mt := r.URL.Query().Get("mediaType"); mt != "" && !strings.EqualFold(mt, "AUDIO") {
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "mediaType must be AUDIO")
		return
	}
	d, err := h.svc.DownloadMatching(ctx, p, recvault.RecordingFilter{CallID: callID, Kind: recvault.KindVoice},
		vault.Want{Action: recvault.ActionArchiveDownload, Subject: "callId=" + callID,
			Media: media.Request{Format: media.FormatOriginal}, Range: r.Header.Get("Range")})
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	defer d.Close()
	if err := httputil.ServeDownload(w, r, d, "", h.log); err != nil {
		h.failErr(w, r, err)
	}
}

func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

type sessionBody struct {
	SessionID string `json:"sessionId"`
	Reason    string `json:"reason"`
}

// sessionCall runs act on the session named in a {"sessionId",…} body (or
// the usual headers) and answers with the result of answer.
func (h *Handler) sessionCall(w http.ResponseWriter, r *http.Request, act func(*recvault.Principal) error, answer func(sid string) any) {
	var in sessionBody
	if err := readBody(r, &in); err != nil {
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "body must be JSON with sessionId")
		return
	}
	p, err := h.principal(r, in.SessionID)
	if err == nil {
		err = act(p)
	}
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	writeJSON(w, answer(sessionID(r, in.SessionID)))
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	h.sessionCall(w, r, func(p *recvault.Principal) error { return h.svc.Logout(r.Context(), p) },
		func(string) any { return map[string]any{"message": "logged out", "status": 200} })
}

func (h *Handler) keepAlive(w http.ResponseWriter, r *http.Request) {
	h.sessionCall(w, r, func(p *recvault.Principal) error { return h.svc.KeepAlive(r.Context(), p) },
		func(sid string) any {
			return map[string]any{"sessionId": sid, "status": 200, "message": "session extended"}
		})
}

// targetFormats maps Ameyo's targetFormat values to media engine formats.
// Every output the engine offers is accepted under its own name.
func targetFormat(s string) (string, bool) {
	f := strings.ToLower(strings.TrimSpace(s))
	for _, m := range media.Formats {
		if f == m {
			return f, true
		}
	}
	return "", false
}

// downloader authenticates a download request; a refusal is audited and
// answered, and ok is false.
func (h *Handler) downloader(w http.ResponseWriter, r *http.Request) (*recvault.Principal, bool) {
	p, err := h.principal(r, "")
	if err != nil {
		h.failErr(w, r, err)
		return nil, false
	}
	return p, true
}

// downloadVoiceLog: GET /ameyorestapi/cc/downloadVoiceLog?campaignId=&crtObjectId=&targetFormat=&filters=
func (h *Handler) downloadVoiceLog(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := h.downloader(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	invalid := func(info string) {
		h.failErr(w, r, h.svc.Refuse(ctx, p, recvault.ActionDownload, r.URL.RawQuery, info))
	}
	cs := strings.TrimSpace(q.Get("campaignId"))
	if cs == "" {
		invalid("campaignId is required")
		return
	}
	campaign, err := strconv.ParseInt(cs, 10, 64)
	if err != nil || campaign <= 0 {
		invalid("campaignId must be a positive integer")
		return
	}
	crt := strings.TrimSpace(q.Get("crtObjectId"))
	if crt == "" {
		invalid("crtObjectId is required")
		return
	}
	tf := q.Get("targetFormat")
	if tf == "" {
		invalid("targetFormat is required")
		return
	}
	format, ok := targetFormat(tf)
	if !ok {
		invalid("targetFormat must be one of " + strings.Join(media.Formats, ", "))
		return
	}
	filters, err := looseParam(r.URL.RawQuery, "filters")
	if err == errMissing {
		invalid("filters is required")
		return
	} else if err != nil {
		invalid("filters is malformed: " + err.Error())
		return
	}
	callID := filters["callId"]
	if callID == "" {
		invalid("filters must carry callId")
		return
	}
	h.serve(w, r, p, campaign, crt, callID, format, recvault.ActionDownload)
}

// serve asks the core for one recording by (campaign, crtObjectId) and the
// call id, and streams it. campaign 0 means "any campaign the principal may
// see" (the legacy command interface sends none). A recording the caller
// may not see is answered 404 like a missing one: the core decides and
// audits.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, p *recvault.Principal, campaign int64, crt, callID, format string, action recvault.AuditAction) {
	d, err := h.svc.DownloadByIdentity(r.Context(), p, campaign, crt, callID,
		vault.Want{Action: action, Media: media.Request{Format: format}, Range: r.Header.Get("Range")})
	if err != nil {
		h.failErr(w, r, err)
		return
	}
	defer d.Close()
	if err := httputil.ServeDownload(w, r, d, "", h.log); err != nil {
		h.failErr(w, r, err)
	}
}

// command is the legacy interface: GET /ameyowebaccess/command?command=
// downloadVoiceLog|playVoiceLog&data={"crtObjectId":"…","targetFormat":"mp3"}.
func (h *Handler) command(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, ok := h.downloader(w, r)
	if !ok {
		return
	}
	cmd := r.URL.Query().Get("command")
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		// The form body data=<url-encoded JSON>; command may be in either place.
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		raw = string(b) + "&" + raw
		if cmd == "" {
			if v, ok := rawParam(string(b), "command"); ok {
				cmd, _ = url.QueryUnescape(v)
			}
		}
	}
	defFormat := ""
	switch cmd {
	case "downloadVoiceLog":
		defFormat = media.FormatMP3
	case "playVoiceLog":
		defFormat = media.FormatWAV
	case "":
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "command is required")
		return
	default:
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "command must be downloadVoiceLog or playVoiceLog")
		return
	}
	data, err := looseParam(raw, "data")
	if err != nil {
		h.failErr(w, r, h.svc.Refuse(ctx, p, recvault.ActionDownload, "data", "data must be an object with crtObjectId"))
		return
	}
	crt := data["crtObjectId"]
	if crt == "" {
		h.fail(w, r, http.StatusBadRequest, "InvalidInput", "data must carry crtObjectId")
		return
	}
	format := defFormat
	if v := data["targetFormat"]; v != "" {
		f, ok := targetFormat(v)
		if !ok {
			h.fail(w, r, http.StatusBadRequest, "InvalidInput", "targetFormat must be one of "+strings.Join(media.Formats, ", "))
			return
		}
		format = f
	}
	var campaign int64
	if v := data["campaignId"]; v != "" {
		if campaign, err = strconv.ParseInt(v, 10, 64); err != nil || campaign <= 0 {
			h.fail(w, r, http.StatusBadRequest, "InvalidInput", "campaignId must be a positive integer")
			return
		}
	}
	action := recvault.ActionDownload
	if cmd == "playVoiceLog" {
		action = recvault.ActionPlay
	}
	h.serve(w, r, p, campaign, crt, data["callId"], format, action)
}
