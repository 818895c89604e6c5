package v1

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/recvault/recvault"
)

// deleteRecording destroys a recording: DELETE /api/v1/recordings/{id}
// with the reason in ?reason= or a JSON body {"reason":"…"}. The core
// authorises it like a read first (404 for a recording the caller cannot
// see), then admits only admins (403); a held recording is 409. 204 on
// success: from then on every API answers 404 for it.
func (h *Handler) deleteRecording(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	reason := r.URL.Query().Get("reason")
	if reason == "" && r.ContentLength != 0 {
		var in struct {
			Reason string `json:"reason"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
			h.error(w, r, recvault.Errorf(recvault.EINVALID, `body must be JSON {"reason":"…"}`))
			return
		}
		reason = in.Reason
	}
	if err := h.svc.Delete(r.Context(), p, r.PathValue("id"), reason); err != nil {
		h.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
