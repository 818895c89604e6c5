// Package ccgateway is the Huawei CC-Gateway (AgentGateway) compatible
// façade under /agentgateway/resource/: agent sign-in by work number with a
// GUID, event polling, and the recording downloads recordfiledownloadEx and
// recordfile. It speaks the vendor's wire format ({"message","retcode",
// "result"} JSON, business errors as HTTP 200) over the core (package
// vault) and holds no storage or codec code.
package ccgateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/api/httputil"
	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/vault"
)

// SessionKind marks the core sessions this façade opens (one per GUID).
const SessionKind = "ccgw"

// Config tunes the façade. Zero values get the vendor's defaults.
type Config struct {
	// DynamicGUID turns on the vendor's dynamic authentication: a new GUID
	// every RotateEvery, announced with Set-GUID on the next polling or
	// PUT/POST answer, the previous one honoured until GUIDLife after its
	// creation. Off by default: the vendor's Java clients read Set-GUID
	// only from PUT/POST answers and would lose a GUID rotated on a poll.
	DynamicGUID bool
	RotateEvery time.Duration // default 60 s
	GUIDLife    time.Duration // default 120 s
	// Idle signs an agent out after this long without any call; default 2 min.
	Idle time.Duration
	// PollWait bounds an agentevent long poll; default 10 s.
	PollWait time.Duration
	// KeepAliveEvery is how often a running download marks its sign-in
	// active; default Idle/4.
	KeepAliveEvery time.Duration
	Node           int // the n of "<uuid>.AgentGateway<n>"; default 1
	VDNID          int // reported at sign-in; default 1
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call from another origin; none by default, and then no CORS headers.
	CORSOrigins []string
}

// Handler serves the CC-Gateway API.
type Handler struct {
	svc *vault.Service
	log *slog.Logger
	cfg Config
	mux *http.ServeMux
}

const prefix = "/agentgateway/resource"

// New returns the façade; mount it at /agentgateway/.
func New(svc *vault.Service, log *slog.Logger, cfg Config) *Handler {
	if cfg.RotateEvery <= 0 {
		cfg.RotateEvery = 60 * time.Second
	}
	if cfg.GUIDLife <= 0 {
		cfg.GUIDLife = 120 * time.Second
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 2 * time.Minute
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 10 * time.Second
	}
	if cfg.KeepAliveEvery <= 0 {
		cfg.KeepAliveEvery = cfg.Idle / 4
	}
	if cfg.Node <= 0 {
		cfg.Node = 1
	}
	if cfg.VDNID <= 0 {
		cfg.VDNID = 1
	}
	h := &Handler{svc: svc, log: log, cfg: cfg, mux: http.NewServeMux()}
	m := h.mux
	m.HandleFunc("PUT "+prefix+"/onlineagent/{agentid}", h.signIn(false))
	m.HandleFunc("PUT "+prefix+"/onlineagent/{agentid}/forcelogin", h.signIn(true))
	m.HandleFunc("DELETE "+prefix+"/onlineagent/{agentid}/logout", h.agent(h.logout))
	m.HandleFunc("DELETE "+prefix+"/onlineagent/{agentid}/forcelogout", h.agent(h.logout))
	m.HandleFunc("PUT "+prefix+"/onlineagent/{agentid}/updateGuid", h.agent(h.updateGUID))
	m.HandleFunc("PUT "+prefix+"/onlineagent/{agentid}/heartbeat", h.agent(h.ok))
	m.HandleFunc("POST "+prefix+"/onlineagent/{agentid}/handshake", h.agent(h.ok))
	m.HandleFunc("POST "+prefix+"/onlineagent/{agentid}/resetskill/{flag}", h.agent(h.ok))
	m.HandleFunc("GET "+prefix+"/agentevent/{agentid}", h.agent(h.poll))
	m.HandleFunc("GET "+prefix+"/recordfile/{agentid}/recordfiledownloadEx", h.agent(h.downloadEx))
	m.HandleFunc("GET "+prefix+"/recordfile/{agentid}", h.agent(h.downloadByPath))
	m.HandleFunc("GET "+prefix+"/qualitycontrol/{agentid}/localrecordpath", h.agent(h.localRecordPath))
	m.HandleFunc("GET "+prefix+"/qualitycontrol/{agentid}/recordfile", h.qualityRecordFile)
	m.HandleFunc("GET "+prefix+"/recordplay/{agentid}/recordfilefromrecordid", h.agent(h.recordFromRecordID))
	// The agent portal asks at every sign-in whether the agent inspects
	// anyone (to show its quality-control tools); with and without the
	// trailing slash it sends.
	m.HandleFunc("GET "+prefix+"/agentgroup/{agentid}/iscensor/", h.agent(h.isCensor))
	m.HandleFunc("GET "+prefix+"/agentgroup/{agentid}/iscensor", h.agent(h.isCensor))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(answer{Message: RetNoSuchResource.Message, Retcode: RetNoSuchResource.Code, Result: ""})
	})
	return h
}

// Pattern is the route pattern r matches, for metrics labels ("" for none).
func (h *Handler) Pattern(r *http.Request) string { return httputil.RoutePattern(h.mux, r, "/") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && h.corsAllowed(origin) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Set("Access-Control-Expose-Headers", "Set-GUID, Content-Disposition, Content-Length, Content-Range")
		hd.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Guid, Content-Type, Range, Accept, If-Range")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
	} else if r.Method == http.MethodOptions {
		// A preflight from an origin not configured: no CORS headers, so
		// the browser refuses the call.
		w.WriteHeader(http.StatusForbidden)
		return
	}
	ri := vault.RequestInfoFrom(r.Context())
	ri.Via = "ccgw"
	httputil.Serve(h.mux, w, r.WithContext(vault.WithRequestInfo(r.Context(), ri)), "/")
}

func (h *Handler) corsAllowed(origin string) bool {
	for _, o := range h.cfg.CORSOrigins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// answer is the vendor's JSON envelope; retcode is a string.
type answer struct {
	Message string `json:"message"`
	Retcode string `json:"retcode"`
	Result  any    `json:"result"`
}

// reply writes a JSON answer with HTTP 200, as the vendor does for business
// errors too: its clients read the body only on 200.
func reply(w http.ResponseWriter, rc Retcode, result any) {
	if result == nil {
		result = ""
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(answer{Message: rc.Message, Retcode: rc.Code, Result: result})
}

// setGUID announces a GUID. The header name is written exactly "Set-GUID":
// the vendor's Java clients match it case-sensitively, and Header().Set
// would canonicalise it to "Set-Guid".
func setGUID(w http.ResponseWriter, guid string) {
	w.Header()["Set-GUID"] = []string{"JSESSIONID=" + guid}
}

// newGUID makes a GUID shaped like the vendor's, <uuid>.AgentGateway<n>:
// 128 random bits in UUID layout, only [A-Za-z0-9.-] so that every client's
// way of cutting it out of "JSESSIONID=<guid>" agrees.
func (h *Handler) newGUID(*recvault.User) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	x := hex.EncodeToString(b[:])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:] + ".AgentGateway" + strconv.Itoa(h.cfg.Node)
}

// validAgentID accepts the vendor's work numbers: 1 to 6 digits.
func validAgentID(s string) bool {
	if len(s) == 0 || len(s) > 6 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// signInBody holds the sign-in fields recvault uses; the vendor's others
// (autoanswer, status, releasephone, agenttype, pushUrl, …) are accepted
// and ignored, as JSON literals or strings.
type signInBody struct {
	Password json.RawMessage `json:"password"`
	PhoneNum json.RawMessage `json:"phonenum"`
}

func scalarText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

func (h *Handler) signIn(force bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		agentID := r.PathValue("agentid")
		if !validAgentID(agentID) {
			reply(w, RetSignInParam, nil)
			return
		}
		var in signInBody
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || json.Unmarshal(body, &in) != nil {
			reply(w, RetSignInParam, nil)
			return
		}
		password, ok := scalarText(in.Password)
		if !ok || password == "" {
			reply(w, RetSignInParam, nil)
			return
		}
		// The password (throttled, and hashed even for an unknown work
		// number, so that unknown and wrong answer alike and in the same
		// time) is checked first; only a sign-in that passed takes the
		// per-work-number lease, for the milliseconds of its session
		// check-and-create. One at a time across every replica: the vendor
		// answers a concurrent one "in progress". Wrong passwords never
		// hold the lease, so they cannot keep the real agent out.
		guid, p, err := h.svc.LoginWith(ctx, "", password, vault.LoginOptions{Kind: SessionKind, AgentID: agentID,
			Lease: "ccgw-signin:" + agentID, NewToken: h.newGUID, Exclusive: true, Force: force, Idle: h.cfg.Idle})
		switch recvault.ErrorCode(err) {
		case "":
		case recvault.EUNAUTHENTICATED, recvault.ETHROTTLED:
			// A throttled sign-in answers as a wrong password does: the
			// vendor has no retcode for it, and its clients show 100-004.
			reply(w, RetBadPassword, nil)
			return
		case recvault.ECONFLICT:
			if errors.Is(err, vault.ErrSignInBusy) {
				reply(w, RetSignInBusy, nil)
				return
			}
			reply(w, RetAlreadySignedIn, nil)
			return
		default:
			h.internal(w, r, err)
			return
		}
		setGUID(w, guid)
		phone, _ := scalarText(in.PhoneNum)
		reply(w, RetOK, map[string]any{
			"vdnid": h.cfg.VDNID, "workno": agentID, "mediatype": "TTF", "phonenum": phone,
			"loginTime": strconv.FormatInt(p.Session.CreatedAt.UnixMilli(), 10), "isForceChange": strconv.FormatBool(force),
			"serverName": "AgentGateway",
		})
	}
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	rid := vault.RequestInfoFrom(r.Context()).RequestID
	h.log.Error("ccgateway request failed", "err", err, "path", r.URL.Path, "request_id", rid)
	rc := RetStorage
	if errors.Is(err, vault.ErrConversion) {
		rc = RetConversion
	}
	reply(w, rc, map[string]string{"requestId": rid})
}

// guidFrom reads the GUID: the Guid header in any letter case (also as a
// raw "guid:<value>" line; Go canonicalises the name), trimmed. A replayed
// Cookie header, with attributes or empty, is ignored.
func guidFrom(r *http.Request) string {
	return strings.TrimSpace(r.Header.Get("Guid"))
}

type agentCall struct {
	p       *recvault.Principal
	agentID string
	guid    string
}

type agentFunc func(w http.ResponseWriter, r *http.Request, c *agentCall)

// agent authenticates a call made after sign-in: its GUID must be a live
// CC-Gateway session of the agent in the path.
func (h *Handler) agent(f agentFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		agentID := r.PathValue("agentid")
		guid := guidFrom(r)
		p, err := h.svc.AuthenticateAgent(ctx, guid, SessionKind, agentID)
		switch recvault.ErrorCode(err) {
		case "":
		case recvault.EUNAUTHENTICATED:
			reply(w, RetNotSignedIn, nil)
			return
		case recvault.EFORBIDDEN:
			reply(w, RetNoRight, nil)
			return
		default:
			h.internal(w, r, err)
			return
		}
		c := &agentCall{p: p, agentID: agentID, guid: guid}
		if h.cfg.DynamicGUID && (r.Method == http.MethodPut || r.Method == http.MethodPost ||
			strings.HasPrefix(r.URL.Path, prefix+"/agentevent/")) {
			h.maybeRotate(w, r, c)
		}
		f(w, r, c)
	}
}

// maybeRotate issues the next GUID when the current one is RotateEvery old
// and has not been succeeded yet; the old one then works until GUIDLife
// after its creation.
func (h *Handler) maybeRotate(w http.ResponseWriter, r *http.Request, c *agentCall) {
	s := c.p.Session
	now := h.svc.Now()
	succeeded := !s.ExpiresAt.After(s.CreatedAt.Add(h.cfg.GUIDLife))
	if succeeded || now.Sub(s.CreatedAt) < h.cfg.RotateEvery {
		return
	}
	guid := h.newGUID(nil)
	if _, err := h.svc.Rotate(r.Context(), c.p, guid, s.CreatedAt.Add(h.cfg.GUIDLife).Sub(now)); err != nil {
		// ECONFLICT: a concurrent request (on any replica) rotated it and
		// announces its successor; this one keeps the current GUID.
		if recvault.ErrorCode(err) != recvault.ECONFLICT {
			h.log.Error("rotate GUID", "err", err)
		}
		return
	}
	setGUID(w, guid)
}

func (h *Handler) ok(w http.ResponseWriter, r *http.Request, c *agentCall) {
	reply(w, RetOK, nil)
}

// isCensor answers whether the signed-in agent is an inspector with
// agents to inspect: retcode 0 and result true or false.
func (h *Handler) isCensor(w http.ResponseWriter, r *http.Request, c *agentCall) {
	reply(w, RetOK, c.p.Inspects())
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, c *agentCall) {
	if _, err := h.svc.LogoutKind(r.Context(), c.p, SessionKind); err != nil {
		h.internal(w, r, err)
		return
	}
	reply(w, RetOK, nil)
}

func (h *Handler) updateGUID(w http.ResponseWriter, r *http.Request, c *agentCall) {
	guid := h.newGUID(nil)
	if _, err := h.svc.Rotate(r.Context(), c.p, guid, h.cfg.GUIDLife-h.cfg.RotateEvery); err != nil {
		if recvault.ErrorCode(err) == recvault.ECONFLICT {
			reply(w, RetSignInBusy, nil) // rotated meanwhile: the client asks again
			return
		}
		h.internal(w, r, err)
		return
	}
	setGUID(w, guid)
	reply(w, RetOK, map[string]string{"guid": guid})
}

// poll is the event long poll. recvault has no call events to push, so it
// waits out PollWait (keeping the sign-in alive, as the vendor's does) and
// answers "no event".
func (h *Handler) poll(w http.ResponseWriter, r *http.Request, c *agentCall) {
	t := time.NewTimer(h.cfg.PollWait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"message": "success", "retcode": RetOK.Code, "event": nil})
}

// validCallID accepts call ids such as 1621413752-2011.
func validCallID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '/' || c == '\\' || c == '%' {
			return false
		}
	}
	return true
}

// safeVendorPath screens a recorder path given by a client (hwFileName,
// recordId). It is only ever a catalogue key, never opened; still, forms
// that could only be path games are refused before the lookup: parent
// references, NUL bytes, absolute Unix and UNC paths, and anything still
// percent-encoded after decoding (double-encoded separators).
func safeVendorPath(p string) bool {
	if p == "" || len(p) > 1024 || strings.ContainsAny(p, "\x00%") {
		return false
	}
	n := recvault.NormalizeVendorPath(p)
	if strings.HasPrefix(n, "/") || strings.Contains(n, "://") {
		return false
	}
	for _, seg := range strings.Split(n, "/") {
		if seg == ".." || seg == "." {
			return false
		}
	}
	return true
}

// target decides whose calls a download is about and applies the vendor's
// inspector and agent rules. needWorkNo says the inspector must name the
// inspected agent (voice downloads). It writes the refusal and returns
// false when the call may not go on.
func (h *Handler) target(w http.ResponseWriter, r *http.Request, c *agentCall, workNo string, needWorkNo bool) (string, bool) {
	if workNo != "" && !validAgentID(workNo) {
		h.refused(w, r, c, "workNo="+workNo, "malformed workNo", RetParam)
		return "", false
	}
	agent, err := h.svc.CallsOf(r.Context(), c.p, recvault.ActionDownload, workNo, needWorkNo)
	switch {
	case err == nil:
		return agent, true
	case errors.Is(err, vault.ErrWorkNoNeeded):
		reply(w, RetParam, nil)
	case errors.Is(err, vault.ErrInspectSelf):
		reply(w, RetInspectSelf, nil)
	case errors.Is(err, vault.ErrNotInspected):
		reply(w, RetNotInspected, nil)
	case errors.Is(err, vault.ErrAnotherAgents):
		reply(w, RetNoRight, nil)
	default:
		h.internal(w, r, err)
	}
	return "", false
}

// refused has the core record a request that could not be parsed, then
// answers rc.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, c *agentCall, subject, reason string, rc Retcode) {
	var p *recvault.Principal
	if c != nil {
		p = c.p
	}
	if err := h.svc.Refuse(r.Context(), p, recvault.ActionDownload, subject, reason); recvault.ErrorCode(err) != recvault.EINVALID {
		h.internal(w, r, err)
		return
	}
	reply(w, rc, nil)
}

// answer maps the core's error for a recording request to a retcode, in
// one place: a recording that is missing and one the caller may not have
// are both 108-001.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, err error) {
	switch recvault.ErrorCode(err) {
	case recvault.ENOTFOUND:
		if vault.IsTokenError(err) {
			reply(w, RetTokenInvalid, nil)
			return
		}
		reply(w, RetNoRecord, nil)
	case recvault.EINVALID:
		reply(w, RetNotVoice, nil)
	default:
		h.internal(w, r, err)
	}
}

// notFound answers an unsafe recorder path as the vendor answers a
// missing file (a path game learns nothing), recorded as the invalid
// request it is.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request, c *agentCall, what string) {
	h.refused(w, r, c, what, "unsafe recorder path", RetNoRecord)
}

// downloadQuery is what recordfiledownloadEx was asked.
type downloadQuery struct {
	callID, hwFileName, workNo string
}

// parseDownloadQuery reads and screens recordfiledownloadEx's query. Unknown
// parameters (resteasy_jsapi_anti_cache, time, …) are ignored. A refused
// query comes back with the retcode to answer.
func parseDownloadQuery(rawQuery string) (downloadQuery, Retcode, bool) {
	q, _ := url.ParseQuery(rawQuery)
	d := downloadQuery{callID: strings.TrimSpace(q.Get("callId")), hwFileName: q.Get("hwFileName"),
		workNo: strings.TrimSpace(q.Get("workNo"))}
	if !validCallID(d.callID) || (d.workNo != "" && !validAgentID(d.workNo)) {
		return d, RetParam, false
	}
	if d.hwFileName != "" && !safeVendorPath(d.hwFileName) {
		return d, RetNoRecord, false // a path game: answered as not found
	}
	return d, RetOK, true
}

// downloadEx: GET …/recordfile/{agentid}/recordfiledownloadEx?callId=&hwFileName=&workNo=
func (h *Handler) downloadEx(w http.ResponseWriter, r *http.Request, c *agentCall) {
	dq, rc, ok := parseDownloadQuery(r.URL.RawQuery)
	if !ok {
		h.refused(w, r, c, r.URL.RawQuery, "refused query: "+rc.Message, rc)
		return
	}
	agent, ok := h.target(w, r, c, dq.workNo, dq.hwFileName == "")
	if !ok {
		return
	}
	f := recvault.RecordingFilter{CallID: dq.callID, AgentID: agent, Kind: recvault.KindVoice}
	req := media.Request{Format: media.FormatWAVALaw}
	subject := "callId=" + dq.callID + " workNo=" + dq.workNo
	if dq.hwFileName != "" {
		f.Kind, f.OriginalPath = recvault.KindVideo, dq.hwFileName
		req = media.Request{Format: media.FormatOriginal}
		subject += " hwFileName=" + dq.hwFileName
	}
	rec, err := h.svc.Locate(r.Context(), c.p, recvault.ActionDownload, subject, f)
	if err != nil {
		h.answer(w, r, err)
		return
	}
	h.send(w, r, c, rec, req)
}

// downloadByPath: the older GET …/recordfile/{agentid}?recordId=<recorder
// path>&filetype=1 (voice; 2 = IVR voice message, catalogued alike).
func (h *Handler) downloadByPath(w http.ResponseWriter, r *http.Request, c *agentCall) {
	q := r.URL.Query()
	path := q.Get("recordId")
	ft := q.Get("filetype")
	if path == "" || (ft != "" && ft != "1" && ft != "2") {
		h.refused(w, r, c, "recordId="+path+" filetype="+ft, "recordId missing or filetype invalid", RetParam)
		return
	}
	h.sendByRecorderPath(w, r, c, path)
}

// sendByRecorderPath serves, as A-law WAV, the voice recording catalogued
// under a recorder path, if the caller may have it.
func (h *Handler) sendByRecorderPath(w http.ResponseWriter, r *http.Request, c *agentCall, path string) {
	rec, ok := h.byRecorderPath(w, r, c, path)
	if !ok {
		return
	}
	h.send(w, r, c, rec, media.Request{Format: media.FormatWAVALaw})
}

// byRecorderPath finds the voice recording catalogued under a recorder
// path and checks the caller's rules on its agent.
func (h *Handler) byRecorderPath(w http.ResponseWriter, r *http.Request, c *agentCall, path string) (*recvault.Recording, bool) {
	if !safeVendorPath(path) {
		h.notFound(w, r, c, "recordId="+path)
		return nil, false
	}
	rec, err := h.svc.Locate(r.Context(), c.p, recvault.ActionDownload, "recordId="+path,
		recvault.RecordingFilter{OriginalPath: path, Kind: recvault.KindVoice})
	if err != nil {
		h.answer(w, r, err)
		return nil, false
	}
	return rec, true
}

// send streams a recording as the vendor does: application/octet-stream,
// Content-Length, Content-Disposition, Range. The sign-in is kept alive
// while the download runs.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, c *agentCall, rec *recvault.Recording, req media.Request) {
	ctx := r.Context()
	// Whole: an output of unknown size is converted whole before the
	// answer starts, so a conversion failure still gets its retcode and the
	// answer always has a Content-Length.
	d, err := h.svc.Download(ctx, c.p, rec, vault.Want{Media: req, Range: r.Header.Get("Range"), Whole: true})
	if err != nil {
		h.answer(w, r, err)
		return
	}
	defer d.Close()
	stop := h.keepAlive(ctx, c.p)
	defer stop()
	if err := httputil.ServeDownload(w, r, d, "application/octet-stream;charset=utf-8", h.log); err != nil {
		h.answer(w, r, err)
	}
}

// keepAlive marks the session active every quarter of the idle timeout
// until stop is called: a long download counts as activity.
func (h *Handler) keepAlive(ctx context.Context, p *recvault.Principal) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(h.cfg.KeepAliveEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				h.svc.KeepAlive(context.WithoutCancel(ctx), p)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { close(done) }
}
