package v1

import (
	"net/http"
	"strconv"
	"time"

	"github.com/recvault/recvault"
)

// auditLog serves GET /api/v1/audit: one page of the audit trail, oldest
// first, for admins only (the core refuses anyone else, and audits the
// read either way). Query: since, until (RFC 3339), recording, actor,
// cursor (the previous page's "next"), limit (1-1000, default 100).
// Answer: {"records":[…],"next":"…"} with next "" on the last page.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	q := r.URL.Query()
	f := recvault.AuditFilter{RecordingID: q.Get("recording"), Actor: q.Get("actor"), Cursor: q.Get("cursor")}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			var err error
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				h.error(w, r, recvault.Errorf(recvault.EINVALID, "%s must be an RFC 3339 time such as 2026-01-31T09:00:00Z", t.name))
				return
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, "limit must be an integer from 1 to 1000"))
			return
		}
		f.Limit = n
	}
	records, next, err := h.svc.AuditLog(r.Context(), p, f)
	if err != nil {
		h.error(w, r, err)
		return
	}
	if records == nil {
		records = []recvault.AuditEvent{} // [] rather than null
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": records, "next": next})
}
