package ccgateway

import (
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/api/httputil"
	"github.com/recvault/recvault/media"
	"github.com/recvault/recvault/vault"
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
		h.refused(w, r, c, "", "recordId missing", RetParam)
		return
	}
	if !safeVendorPath(recordID) {
		h.notFound(w, r, c, "recordId="+recordID)
		return
	}
	// The token is a catalog grant, so step two may land on any replica.
	t, rec, err := h.svc.IssueDownloadGrant(r.Context(), c.p, grantKind, c.agentID, "recordId="+recordID,
		recvault.RecordingFilter{OriginalPath: recordID, Kind: recvault.KindVoice}, tokenTTL)
	if err != nil {
		h.answer(w, r, err)
		return
	}
	name := path.Base(recvault.NormalizeVendorPath(rec.OriginalPath))
	name = strings.TrimSuffix(name, path.Ext(name)) + ".wav"
	reply(w, RetOK, map[string]string{"token": t, "localRecordPath": "/recordfile/" + c.agentID + "/" + name})
}

// qualityRecordFile is the second step: GET …/qualitycontrol/{agentid}/
// recordfile?token=&localRecordPath=. The path is only a label; the token
// alone decides what is served, and the token's user must still be allowed
// the recording.
func (h *Handler) qualityRecordFile(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	agentID := r.PathValue("agentid")
	d, err := h.svc.DownloadGrant(ctx, grantKind, r.URL.Query().Get("token"), agentID,
		vault.Want{Media: media.Request{Format: media.FormatWAVALaw}, Range: r.Header.Get("Range"), Whole: true})
	if err != nil {
		h.answer(w, r, err)
		return
	}
	defer d.Close()
	if err := httputil.ServeDownload(w, r, d, "application/octet-stream;charset=utf-8", h.log); err != nil {
		h.answer(w, r, err)
	}
}

// recordFromRecordID: GET …/recordplay/{agentid}/recordfilefromrecordid?recordid=<recorder path>.
func (h *Handler) recordFromRecordID(w http.ResponseWriter, r *http.Request, c *agentCall) {
	p := r.URL.Query().Get("recordid")
	if p == "" {
		h.refused(w, r, c, "", "recordid missing", RetParam)
		return
	}
	h.sendByRecorderPath(w, r, c, p)
}
