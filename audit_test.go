package recvault

import (
	"strings"
	"testing"
	"time"
)

// TestChainHashFormat pins the chain's encoding (ChainHash's comment) to
// known values, worked out from that description alone with Python's
// hashlib and struct, not by this code: a change to the bytes hashed would
// make every stored trail fail verification, and a test that compares
// ChainHash with itself cannot see one.
func TestChainHashFormat(t *testing.T) {
	e := &AuditEvent{Seq: 42, At: time.Unix(1733280000, 123456789), Actor: "supervisor@exotel.in", Role: "supervisor",
		API: "ameyo", Action: "download", Outcome: "granted", RecordingID: "rec-1", RecordingIDs: []string{"a", "b c"},
		Subject: "s", Format: "mp3", Range: "bytes=0-99", Detail: "dé", Remote: "10.0.0.1", RequestID: "r1"}
	for _, c := range []struct {
		e    *AuditEvent
		prev string
		want string
	}{
		{e, "ab12", "603055a3776e78fa05c27199b89ad226a525082bba5fa3229d561171a04f9374"},
		{&AuditEvent{}, "", "66324d6ef2f3d7cc922a7d75acbeb04024297b624043de901468aec17ad86d33"},
	} {
		if got := c.e.ChainHash(c.prev); got != c.want {
			t.Errorf("ChainHash(%q) of %+v = %s, want %s", c.prev, *c.e, got, c.want)
		}
	}
	// A record longer than ChainHash's stack buffer (its Detail 5,000
	// bytes), worked out the same way.
	long := *e
	long.Detail = strings.Repeat("x", 5000)
	if got, want := long.ChainHash("ab12"), "e8a6e928fcd414cf2e143610c69c6d07157871e5a97f6b24bb5fbf04f237050a"; got != want {
		t.Errorf("ChainHash of a record with a 5,000-byte detail = %s, want %s", got, want)
	}
}
