package ccgateway

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/auth"
	"github.com/recvault/recvault/media"
)

// tokenTTL bounds how long a quality-control download token lives.
const tokenTTL = 60 * time.Second

// tokenStore holds the single-use download tokens of the agent portal's
// two-step download, by SHA-256: a token is bound to one agent, one user
// and one recording, lives tokenTTL and is consumed by its first use.
type tokenStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]grant
}

type grant struct {
	agentID  string
	userID   int64
	recordID string
	expires  time.Time
}

func newTokenStore(now func() time.Time) *tokenStore {
	return &tokenStore{now: now, m: map[string]grant{}}
}

func tokenKey(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func (s *tokenStore) issue(g grant) string {
	t := auth.NewToken(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, old := range s.m { // drop the expired, so the map stays small
		if now.After(old.expires) {
			delete(s.m, k)
		}
	}
	g.expires = now.Add(tokenTTL)
	s.m[tokenKey(t)] = g
	return t
}

// take consumes token for agentID; it fails for an unknown, expired,
// already used or other agent's token (which stays unused for its owner).
func (s *tokenStore) take(token, agentID string) (grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tokenKey(token)
	g, ok := s.m[k]
	if !ok || g.agentID != agentID {
		return grant{}, false
	}
	delete(s.m, k)
	if s.now().After(g.expires) {
		return grant{}, false
	}
	return g, true
}

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
	t := h.tokens.issue(grant{agentID: c.agentID, userID: c.p.User.ID, recordID: rec.ID})
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
	g, ok := h.tokens.take(r.URL.Query().Get("token"), agentID)
	if !ok {
		h.svc.Audit(ctx, nil, "download", "", "denied", "bad quality-control token")
		reply(w, RetTokenInvalid, nil)
		return
	}
	u, err := h.svc.Catalog().UserByID(ctx, g.userID)
	if err != nil || u.Disabled || u.AgentID != agentID {
		reply(w, RetTokenInvalid, nil)
		return
	}
	rec, err := h.svc.Catalog().Recording(ctx, g.recordID)
	if err != nil {
		h.notFound(w, r, &agentCall{p: &recvault.Principal{User: u}}, "recording of token")
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
