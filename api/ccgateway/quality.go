package ccgateway

import (
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/media"
)

// tokenTTL bounds how long a quality-control download token lives.
const tokenTTL = 60 * time.Second

// grantKind marks the catalog grants of the two-step download.
const grantKind = "ccgw-quality"

// localRecordPath is the portal's first step: GET …/qualitycontrol/{agentid}/
// localrecordpath?format=1&recordId=<recorder path>. It answers a token for
// the second step and a localRecordPath whose last segment names the file.
func (h *Handler) localRecordPath(w http.ResponseWriter, r *http.Request, c *agentCall) {
	recordID := r.URL.Query().Get("recordId")
	if recordID == "" {
		reply(w, RetParam, nil)
		return
	}
	rec, ok := h.byRecorderPath(w, r, c, recordID)
	if !ok {
		return
	}
	// The token is a catalog grant, so step two may land on any replica.
	t, err := h.svc.IssueGrant(r.Context(), grantKind, c.p.User, c.agentID, rec, tokenTTL)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	name := path.Base(recvault.NormalizeVendorPath(rec.OriginalPath))
	name = strings.TrimSuffix(name, path.Ext(name)) + ".wav"
	h.svc.Audit(r.Context(), c.p, "download-token", rec.ID, "granted", "")
	reply(w, RetOK, map[string]string{"token": t, "localRecordPath": "/recordfile/" + c.agentID + "/" + name})
}

// qualityRecordFile is the second step: GET …/qualitycontrol/{agentid}/
// recordfile?token=&localRecordPath=. The path is only a label; the token
// alone decides what is served, and the token's user must still be allowed
// the recording.
func (h *Handler) qualityRecordFile(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	agentID := r.PathValue("agentid")
	u, rec, err := h.svc.RedeemGrant(ctx, grantKind, r.URL.Query().Get("token"), agentID)
	switch {
	case u == nil && recvault.ErrorCode(err) == recvault.ENOTFOUND:
		h.svc.Audit(ctx, nil, "download", "", "denied", "bad quality-control token")
		reply(w, RetTokenInvalid, nil)
		return
	case u != nil && recvault.ErrorCode(err) == recvault.ENOTFOUND:
		h.notFound(w, r, &agentCall{p: &recvault.Principal{User: u}}, "recording of token")
		return
	case err != nil:
		h.internal(w, r, err)
		return
	}
	h.send(w, r, &agentCall{p: &recvault.Principal{User: u}, agentID: agentID}, rec, media.Request{Format: media.FormatWAVALaw})
}

// recordFromRecordID: GET …/recordplay/{agentid}/recordfilefromrecordid?recordid=<recorder path>.
func (h *Handler) recordFromRecordID(w http.ResponseWriter, r *http.Request, c *agentCall) {
	p := r.URL.Query().Get("recordid")
	if p == "" {
		reply(w, RetParam, nil)
		return
	}
	h.sendByRecorderPath(w, r, c, p)
}
