package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the browser's time zone by name, on hosts without zoneinfo

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media"
)

// pageSize is the number of results a search page shows.
const pageSize = 25

// searchForm is a search as the URL holds it, so that a search can be
// bookmarked and shared: date-only from/to in the time zone tz (the
// browser's, filled in by the page's script; UTC without it), durations in
// seconds.
type searchForm struct {
	Campaign, Agent, Call, CRT string
	From, To, TZ               string
	MinDur, MaxDur, Kind       string
}

type searchData struct {
	Form    searchForm
	Results []resultRow
	Next    string // URL of the next page, "" on the last
	First   string // URL of the first page, "" on it
	Zone    string
}

type resultRow struct {
	*recvault.Recording
	Started string
}

// zone is the time zone a page shows and reads dates in: the IANA name
// the browser sent, UTC without one. "Local" (the server's zone, which
// the browser cannot mean) is refused like an unknown name.
func zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, recvault.Errorf(recvault.EINVALID, "Unknown time zone %q.", name)
	}
	return l, nil
}

// dualTrack reports whether a voice recording has an agent and a customer
// channel (the stored mapping of a two-channel call).
func dualTrack(rec *recvault.Recording) bool {
	f := rec.Format
	return rec.Kind != recvault.KindVideo && f.Channels == 2 && f.AgentChannel >= 0 && f.CustomerChannel >= 0
}

// parseSearch turns the query into a filter; errors name the field.
func parseSearch(q url.Values) (searchForm, recvault.RecordingFilter, *time.Location, error) {
	sf := searchForm{Campaign: strings.TrimSpace(q.Get("campaign")), Agent: strings.TrimSpace(q.Get("agent")),
		Call: strings.TrimSpace(q.Get("call")), CRT: strings.TrimSpace(q.Get("crtObjectId")),
		From: q.Get("from"), To: q.Get("to"), TZ: q.Get("tz"), MinDur: q.Get("minDuration"),
		MaxDur: q.Get("maxDuration"), Kind: q.Get("kind")}
	f := recvault.RecordingFilter{AgentID: sf.Agent, CallID: sf.Call, CRTObject: sf.CRT, Cursor: q.Get("cursor"), Limit: pageSize}
	bad := func(format string, a ...any) (searchForm, recvault.RecordingFilter, *time.Location, error) {
		return sf, f, time.UTC, recvault.Errorf(recvault.EINVALID, format, a...)
	}
	if sf.Campaign != "" {
		n, err := strconv.ParseInt(sf.Campaign, 10, 64)
		if err != nil || n <= 0 {
			return bad("Campaign must be a positive number.")
		}
		f.CampaignID = n
	}
	loc, err := zone(sf.TZ)
	if err != nil {
		return sf, f, time.UTC, err
	}
	for _, d := range []struct {
		v, name string
		dst     *time.Time
		next    bool
	}{{sf.From, "From", &f.From, false}, {sf.To, "To", &f.To, true}} {
		if d.v == "" {
			continue
		}
		day, err := time.ParseInLocation(time.DateOnly, d.v, loc)
		if err != nil {
			return bad("%s must be a date such as 2026-11-30.", d.name)
		}
		if d.next {
			day = day.AddDate(0, 0, 1) // "to" includes its whole day
		}
		*d.dst = day
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return bad("From must not be after To.")
	}
	for _, d := range []struct {
		v, name string
		dst     *time.Duration
	}{{sf.MinDur, "Shortest", &f.MinDuration}, {sf.MaxDur, "Longest", &f.MaxDuration}} {
		if d.v == "" {
			continue
		}
		secs, err := strconv.ParseFloat(d.v, 64)
		if err != nil || !(secs >= 0 && secs <= 1e7) { // NaN fails both

			return bad("%s duration must be a number of seconds.", d.name)
		}
		*d.dst = time.Duration(secs * float64(time.Second))
	}
	switch sf.Kind {
	case "", "voice", "video":
		f.Kind = recvault.Kind(sf.Kind)
	default:
		return bad("Kind must be voice or video.")
	}
	return sf, f, loc, nil
}

// query is the form as URL parameters, without empty ones.
func (sf searchForm) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"campaign": sf.Campaign, "agent": sf.Agent, "call": sf.Call,
		"crtObjectId": sf.CRT, "from": sf.From, "to": sf.To, "tz": sf.TZ, "minDuration": sf.MinDur,
		"maxDuration": sf.MaxDur, "kind": sf.Kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	pg := page{Title: "Recordings", User: p.User}
	sf, f, loc, err := parseSearch(r.URL.Query())
	data := searchData{Form: sf, Zone: loc.String()}
	pg.Data = &data
	if err != nil {
		pg.Message = recvault.ErrorMessage(err)
		h.render(w, r, http.StatusBadRequest, "search", pg)
		return
	}
	recs, next, err := h.svc.List(r.Context(), p, f)
	if recvault.ErrorCode(err) == recvault.EINVALID {
		pg.Message = "This page of results is no longer valid; start the search again."
		h.render(w, r, http.StatusBadRequest, "search", pg)
		return
	} else if err != nil {
		h.fail(w, r, p, err)
		return
	}
	for _, rec := range recs {
		data.Results = append(data.Results, resultRow{Recording: rec, Started: rec.StartedAt.In(loc).Format("2006-01-02 15:04:05 MST")})
	}
	q := sf.query()
	if next != "" {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		data.Next = "/recordings?" + nq.Encode()
	}
	if f.Cursor != "" {
		data.First = "/recordings?" + q.Encode()
	}
	h.render(w, r, http.StatusOK, "search", pg)
}

type recordingData struct {
	Rec       *recvault.Recording
	Started   string
	Video     bool
	DualTrack bool
	Lanes     []string // channel labels in stored order
	MediaURL  string
	PeaksURL  string
	// PlayFormat is the output the player streams for both sides,
	// TrackFormat for one side: both computed by offset for PCM and G.711
	// sources, so that seeking never waits for what lies before.
	PlayFormat, TrackFormat string
	PlayID                  string
	Downloads               []download
	Audit                   []recvault.AuditEvent
	AuditMore               bool
}

type download struct{ Format, URL string }

func (h *Handler) recording(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	rec, err := h.svc.Recording(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, p, err)
		return
	}
	loc, err := zone(r.URL.Query().Get("tz"))
	if err != nil {
		loc = time.UTC // a page link, not a search: show it in UTC
	}
	base := "/api/v1/recordings/" + url.PathEscape(rec.ID)
	d := &recordingData{Rec: rec, Started: rec.StartedAt.In(loc).Format("2006-01-02 15:04:05 MST"),
		Video: rec.Kind == recvault.KindVideo, Lanes: rec.ChannelLabels(), MediaURL: base + "/media",
		PeaksURL: base + "/peaks", PlayID: newPlayback(), PlayFormat: media.FormatWAV, TrackFormat: media.FormatWAV}
	d.DualTrack = dualTrack(rec)
	if rec.Format.Container == "mp3" {
		d.PlayFormat = media.FormatOriginal // the stored MP3 seeks from the file
	}
	formats := media.Formats
	if d.Video {
		formats, d.PlayFormat = []string{media.FormatOriginal}, media.FormatOriginal
	}
	for _, f := range formats {
		d.Downloads = append(d.Downloads, download{Format: f, URL: base + "/media?format=" + url.QueryEscape(f)})
	}
	if p.User.Role == recvault.RoleAdmin {
		events, next, err := h.svc.AuditLog(r.Context(), p, recvault.AuditFilter{RecordingID: rec.ID, Limit: 200})
		if err != nil {
			h.fail(w, r, p, err)
			return
		}
		d.Audit, d.AuditMore = events, next != ""
		for i := range d.Audit {
			d.Audit[i].At = d.Audit[i].At.In(loc)
		}
	}
	h.render(w, r, http.StatusOK, "recording", page{Title: "Recording " + rec.CRTObjectID, User: p.User,
		Data: d})
}

func formatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

func channelsText(rec *recvault.Recording) string {
	f := rec.Format
	switch {
	case rec.Kind == recvault.KindVideo:
		return "video"
	case f.Channels == 1:
		return "mono"
	case dualTrack(rec):
		return "dual-track"
	case f.Channels == 2:
		return "stereo"
	}
	return strconv.Itoa(f.Channels) + " channels"
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " B"
}
