package vault

import (
	"testing"

	"github.com/recvault/recvault"
)

func TestIngestRequestFromFields(t *testing.T) {
	req, err := IngestRequestFromFields(map[string]string{"campaign_id": " 110 ", "crt_object_id": "c", "call_id": "k",
		"agent_id": "4977", "kind": "video", "original_path": "Y:/a.mp4", "started_at": "2026-01-02T03:04:05+01:00", "agent_channel": "1"})
	if err != nil || req.CampaignID != 110 || req.Kind != recvault.KindVideo || req.AgentChannel != 1 ||
		req.StartedAt.UTC().Hour() != 2 || req.OriginalPath != "Y:/a.mp4" {
		t.Fatalf("%+v %v", req, err)
	}
	for _, bad := range []map[string]string{
		{}, {"campaign": "0"}, {"campaign": "-5"}, {"campaign": "1e3"}, {"campaign": "99999999999999999999"},
		{"campaign": "1", "kind": "fax"}, {"campaign": "1", "startedAt": "2026-01-02"}, {"campaign": "1", "agentChannel": "left"},
	} {
		if _, err := IngestRequestFromFields(bad); recvault.ErrorCode(err) != recvault.EINVALID {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func FuzzIngestRequestFromFields(f *testing.F) {
	f.Add("110", "crt", "call", "4977", "voice", "2026-01-02T03:04:05Z", "0")
	f.Add("", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, campaign, crt, call, agent, kind, started, ch string) {
		req, err := IngestRequestFromFields(map[string]string{"campaign": campaign, "crtObjectId": crt, "callId": call,
			"agent": agent, "kind": kind, "startedAt": started, "agentChannel": ch})
		if err != nil {
			if recvault.ErrorCode(err) != recvault.EINVALID {
				t.Fatalf("non-EINVALID error %v", err)
			}
			return
		}
		if req.CampaignID <= 0 {
			t.Fatalf("accepted campaign %d", req.CampaignID)
		}
	})
}
