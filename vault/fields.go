package vault

import (
	"strconv"
	"strings"
	"time"

	"github.com/recvault/recvault"
)

// IngestRequestFromFields reads ingest metadata from name/value pairs, the
// form shared by the HTTP query, multipart fields and import manifests.
// Names: campaign (or campaign_id), crtObjectId (crt_object_id), callId
// (call_id), agent (agent_id), kind, originalPath (original_path), codec,
// startedAt (started_at, RFC 3339), agentChannel.
func IngestRequestFromFields(f map[string]string) (IngestRequest, error) {
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := f[n]; ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	var req IngestRequest
	c := get("campaign", "campaignId", "campaign_id")
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 {
		return req, recvault.Errorf(recvault.EINVALID, "campaign must be a positive integer, got %q", c)
	}
	req.CampaignID = n
	req.CRTObjectID = get("crtObjectId", "crt_object_id")
	req.CallID = get("callId", "call_id")
	req.AgentID = get("agent", "agentId", "agent_id")
	req.Kind = recvault.Kind(get("kind"))
	if req.Kind != "" && !req.Kind.Valid() {
		return req, recvault.Errorf(recvault.EINVALID, "kind must be voice or video, got %q", req.Kind)
	}
	req.OriginalPath = get("originalPath", "original_path")
	req.Codec = get("codec")
	if v := get("startedAt", "started_at"); v != "" {
		if req.StartedAt, err = time.Parse(time.RFC3339, v); err != nil {
			return req, recvault.Errorf(recvault.EINVALID, "started at must be an RFC 3339 time such as 2026-01-31T09:00:00Z, got %q", v)
		}
	}
	if v := get("agentChannel", "agent_channel"); v != "" {
		if req.AgentChannel, err = strconv.Atoi(v); err != nil {
			return req, recvault.Errorf(recvault.EINVALID, "agent channel must be 0 or 1")
		}
	}
	return req, nil
}
