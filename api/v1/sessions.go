package v1

import (
	"net/http"

	"github.com/recvault/recvault"
)

// logoutAll: DELETE /api/v1/sessions ends every session of the caller's
// user — this API's, Ameyo's and CC-Gateway's alike — and answers 204. It
// is the way to sign out everywhere (a lost device, a leaked token), since
// DELETE /api/v1/sessions/current ends only the session that asks.
func (h *Handler) logoutAll(w http.ResponseWriter, r *http.Request, p *recvault.Principal) {
	if _, err := h.svc.LogoutAll(r.Context(), p); err != nil {
		h.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
