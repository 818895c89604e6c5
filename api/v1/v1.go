// Package v1 is recvault's native JSON API under /api/v1: sessions with
// bearer tokens, recording listing and metadata, media download and ingest.
// It translates HTTP to calls on the core (package vault) and core errors to
// {"error":{"code","message"}}; it touches no storage or codec itself.
package v1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/api/httputil"
	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/vault"
)

// Handler serves the native API.
type Handler struct {
	svc *vault.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the API handler; mount it at /api/v1/.
func New(svc *vault.Service, log *slog.Logger) *Handler {
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /api/v1/sessions", h.login)
	h.mux.HandleFunc("DELETE /api/v1/sessions/current", h.authed(h.logout))
	h.mux.HandleFunc("DELETE /api/v1/sessions", h.authed(h.logoutAll))
	h.mux.HandleFunc("GET /api/v1/recordings", h.authed(h.list))
	h.mux.HandleFunc("POST /api/v1/recordings", h.authed(h.ingest))
	h.mux.HandleFunc("GET /api/v1/recordings/{id}", h.authed(h.get))
	h.mux.HandleFunc("GET /api/v1/recordings/{id}/media", h.authed(h.media))
	h.mux.HandleFunc("GET /api/v1/recordings/{id}/peaks", h.authed(h.peaks))
	h.mux.HandleFunc("DELETE /api/v1/recordings/{id}", h.authed(h.deleteRecording))
	h.mux.HandleFunc("GET /api/v1/audit", h.authed(h.auditLog))
	h.mux.HandleFunc("GET /api/v1/openapi.json", h.serveOpenAPI)
	h.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.error(w, r, recvault.Errorf(recvault.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return h
}

// Pattern is the route pattern r matches, for metrics labels ("" for none).
func (h *Handler) Pattern(r *http.Request) string { return httputil.RoutePattern(h.mux, r, "/api/v1/") }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := vault.RequestInfoFrom(r.Context())
	ri.Via = "v1"
	httputil.Serve(h.mux, w, r.WithContext(vault.WithRequestInfo(r.Context(), ri)), "/api/v1/")
}

// statusOf maps the domain's error codes to HTTP statuses, in one place.
func statusOf(code string) int {
	switch code {
	case recvault.ENOTFOUND:
		return http.StatusNotFound
	case recvault.EUNAUTHENTICATED:
		return http.StatusUnauthorized
	case recvault.EFORBIDDEN:
		return http.StatusForbidden
	case recvault.EINVALID:
		return http.StatusBadRequest
	case recvault.ECONFLICT:
		return http.StatusConflict
	case recvault.ETHROTTLED:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func (h *Handler) error(w http.ResponseWriter, r *http.Request, err error) {
	code := recvault.ErrorCode(err)
	if code == recvault.EINTERNAL {
		h.log.Error("request failed", "err", err, "method", r.Method, "path", r.URL.Path,
			"request_id", vault.RequestInfoFrom(r.Context()).RequestID)
	}
	if code == recvault.EUNAUTHENTICATED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="recvault"`)
	}
	if d, ok := recvault.RetryAfter(err); ok {
		// Whole seconds, as Retry-After wants; the core rounds up.
		w.Header().Set("Retry-After", strconv.Itoa(int(d/time.Second)))
	}
	writeJSON(w, statusOf(code), map[string]any{"error": map[string]string{"code": code, "message": recvault.ErrorMessage(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// credential extracts the token of an "Authorization: Bearer TOKEN" header,
// or, for a GET or HEAD without one, the web console's session cookie.
// Reads only: SameSite=Strict keeps other sites' pages from sending the
// cookie, and no request that changes anything is accepted with it.
func credential(r *http.Request) string {
	v := r.Header.Get("Authorization")
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	if v == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if c, err := r.Cookie(httputil.SessionCookie); err == nil {
			return c.Value
		}
	}
	return ""
}

type authedFunc func(http.ResponseWriter, *http.Request, *recvault.Principal)

func (h *Handler) authed(f authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.svc.Authenticate(r.Context(), credential(r))
		if err != nil {
			h.error(w, r, err)
			return
		}
		f(w, r, p)
	}
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil || in.Login == "" || in.Password == "" {
		h.error(w, r, recvault.Errorf(recvault.EINVALID, `body must be JSON {"login":"…","password":"…"}`))
		return
	}
	token, p, err := h.svc.Login(r.Context(), in.Login, in.Password, "v1")
	if err != nil {
		h.error(w, r, err)
		return
	}
	idle, _ := h.svc.SessionTimes()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":       token,
		"expiresAt":   p.Session.ExpiresAt.Format(time.RFC3339),
		"idleTimeout": int(idle.Seconds()),
		"user":        p.User,
	})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	if err := h.svc.Logout(r.Context(), p); err != nil {
		h.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// recordingJSON is the wire form of a recording: the domain type plus a
// duration in seconds and the media URL.
type recordingJSON struct {
	*recvault.Recording
	DurationSeconds float64 `json:"durationSeconds"`
	MediaURL        string  `json:"mediaUrl"`
}

func toJSON(r *recvault.Recording) recordingJSON {
	return recordingJSON{Recording: r, DurationSeconds: r.Duration.Seconds(), MediaURL: "/api/v1/recordings/" + r.ID + "/media"}
}

// listParams are the query parameters of the recordings list. Any other
// is refused: a misspelt filter (?campain=110) would otherwise be ignored
// and the answer silently hold everything the caller may see.
var listParams = []string{"campaign", "agent", "call", "crtObjectId", "from", "to", "limit", "cursor"}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	q := r.URL.Query()
	var unknown []string
	for k := range q {
		if !slices.Contains(listParams, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		h.error(w, r, recvault.Errorf(recvault.EINVALID, "unknown query parameter %s; the list takes %s",
			strings.Join(unknown, ", "), strings.Join(listParams, ", ")))
		return
	}
	f := recvault.RecordingFilter{AgentID: q.Get("agent"), CallID: q.Get("call"), CRTObject: q.Get("crtObjectId"), Cursor: q.Get("cursor")}
	var err error
	if v := q.Get("campaign"); v != "" {
		if f.CampaignID, err = strconv.ParseInt(v, 10, 64); err != nil || f.CampaignID <= 0 {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "campaign must be a positive integer"))
			return
		}
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			if *dst, err = parseListTime(v, name == "to"); err != nil {
				h.error(w, r, recvault.Errorf(recvault.EINVALID,
					"%s must be an RFC 3339 time such as 2026-01-31T09:00:00Z or a date such as 2026-01-31", name))
				return
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 1000 {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "limit must be an integer from 1 to 1000"))
			return
		}
	}
	recs, next, err := h.svc.List(r.Context(), p, f)
	if err != nil {
		h.error(w, r, err)
		return
	}
	out := make([]recordingJSON, 0, len(recs))
	for _, rec := range recs {
		out = append(out, toJSON(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out, "next": next})
}

// parseListTime reads from= or to=: an RFC 3339 time, or a date meaning
// the whole day in UTC (the zone recordings' times are stored in): from
// its start, to its end. The filter's To is exclusive, so the end of a day
// is the start of the next.
func parseListTime(v string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("neither an RFC 3339 time nor a date: %w", err)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	rec, err := h.svc.Recording(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(rec))
}

// media serves a recording's bytes: the stored file by default, or any
// output of the media engine (?format=&channels=&rate=&bitrate=).
// ?disposition=inline asks for playback: the body is marked inline and the
// request is audited as a play, once per ?play= id (a player's Range
// requests of one playback are one play); the default is an attachment,
// audited as a download.
func (h *Handler) media(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	q := r.URL.Query()
	req := media.Request{Format: q.Get("format"), Channels: q.Get("channels")}
	want := vault.Want{Range: r.Header.Get("Range")}
	switch q.Get("disposition") {
	case "", "attachment":
		if q.Get("play") != "" {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "play is only for disposition=inline"))
			return
		}
	case "inline":
		want.Action, want.Playback = recvault.ActionPlay, q.Get("play")
	default:
		h.error(w, r, recvault.Errorf(recvault.EINVALID, "disposition must be attachment or inline"))
		return
	}
	for name, dst := range map[string]*int{"rate": &req.SampleRate, "bitrate": &req.Bitrate} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				h.error(w, r, recvault.Errorf(recvault.EINVALID, "%s must be a positive integer", name))
				return
			}
			*dst = n
		}
	}
	want.Media = req
	d, err := h.svc.DownloadByID(r.Context(), p, r.PathValue("id"), want)
	if err != nil {
		h.error(w, r, err)
		return
	}
	defer d.Close()
	if want.Action == recvault.ActionPlay {
		w.Header().Set("Content-Disposition", httputil.Inline(d.Filename))
	}
	if err := httputil.ServeDownload(w, r, d, "", h.log); err != nil {
		h.error(w, r, err)
	}
}

// ingest takes the recording's bytes as the request body, with metadata in
// the query, or as multipart/form-data whose metadata fields come before the
// file part (so the file can be streamed without buffering).
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	fields := map[string]string{}
	for k, v := range r.URL.Query() {
		fields[k] = v[0]
	}
	var body io.Reader = r.Body
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "malformed multipart body"))
			return
		}
		body = nil
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				h.error(w, r, recvault.Errorf(recvault.EINVALID, "malformed multipart body"))
				return
			}
			if part.FileName() != "" || part.FormName() == "file" {
				body = part
				break
			}
			v, _ := io.ReadAll(io.LimitReader(part, 4096))
			fields[part.FormName()] = string(v)
		}
		if body == nil {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "multipart body has no file part"))
			return
		}
	}
	req, err := vault.IngestRequestFromFields(fields)
	if err != nil {
		h.error(w, r, err)
		return
	}
	rec, created, err := h.svc.Ingest(r.Context(), p, req, body)
	if err != nil {
		h.error(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/recordings/"+rec.ID)
	}
	writeJSON(w, status, toJSON(rec))
}

// peaks serves a voice recording's waveform envelope
// (?points=N, default 1000): per channel, labelled agent/customer by the
// stored mapping of a dual-track call, the minimum and maximum of each
// span, in [-1, 1].
func (h *Handler) peaks(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	points := 1000
	if v := r.URL.Query().Get("points"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			// The range is the core's to check (after the access rule).
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "points must be an integer from 1 to %d", media.MaxPeakPoints))
			return
		}
		points = n
	}
	rec, pk, err := h.svc.Peaks(r.Context(), p, r.PathValue("id"), points)
	if err != nil {
		h.error(w, r, err)
		return
	}
	type lane struct {
		Label string    `json:"label"`
		Min   []float32 `json:"min"`
		Max   []float32 `json:"max"`
	}
	labels := rec.ChannelLabels()
	lanes := make([]lane, len(pk.Min))
	for c := range lanes {
		lanes[c] = lane{Label: "channel " + strconv.Itoa(c+1), Min: pk.Min[c], Max: pk.Max[c]}
		if c < len(labels) {
			lanes[c].Label = labels[c]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"recordingId": rec.ID, "points": points, "sampleRate": pk.SampleRate, "frames": pk.Frames,
		"durationSeconds": rec.Duration.Seconds(), "channels": lanes,
	})
}
