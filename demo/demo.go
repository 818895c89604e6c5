// Package demo seeds a vault with the users and recordings that the vendor
// documents use as examples, so that their sample requests work against a
// fresh `recvault serve --demo`. The recordings are real speech embedded in
// the binary; nothing is read from outside it at run time.
package demo

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/vault"
)

//go:embed assets
var assets embed.FS

// User is a demo account.
type User struct {
	recvault.User
	Password string
}

// Users are the demo accounts. Their passwords are public: demo data is for
// trying recvault out, never for production.
var Users = []User{
	{User: recvault.User{Login: "admin", Role: recvault.RoleAdmin}, Password: "admin-demo-pass"},
	{User: recvault.User{Login: "supervisor@exotel.in", Role: recvault.RoleSupervisor, Campaigns: []int64{110}}, Password: "supervisor-demo-pass"},
	{User: recvault.User{Login: "inspector@example.com", Role: recvault.RoleInspector, AgentID: "4900", Inspects: []string{"4977"}}, Password: "inspector-demo-pass"},
	{User: recvault.User{Login: "agent4977@example.com", Role: recvault.RoleAgent, AgentID: "4977"}, Password: "agent-demo-pass"},
	{User: recvault.User{Login: "agent5001@example.com", Role: recvault.RoleAgent, AgentID: "5001"}, Password: "agent-demo-pass"},
}

// Recording is a demo recording: its metadata and the embedded file.
type Recording struct {
	vault.IngestRequest
	File string
}

// Recordings are the demo recordings, under the identities of the vendor
// documents' examples.
var Recordings = []Recording{
	{IngestRequest: vault.IngestRequest{CampaignID: 110, CRTObjectID: "d741-6904fad1-vce-daf-638729",
		CallID: "d741-6904fad1-vcall-10989826", AgentID: "5001", StartedAt: time.Date(2025, 11, 13, 10, 0, 0, 0, time.UTC)},
		File: "call-alaw-mono.wav"},
	{IngestRequest: vault.IngestRequest{CampaignID: 110, CRTObjectID: "1621413752-2011-voice",
		CallID: "1621413752-2011", AgentID: "4977", OriginalPath: "Y:/90/0/20210519/4977/1642329.V3",
		StartedAt: time.Unix(1621413752, 0).UTC()},
		File: "call-alaw-stereo.wav"},
	{IngestRequest: vault.IngestRequest{CampaignID: 110, CRTObjectID: "1621413752-2011-video",
		CallID: "1621413752-2011", AgentID: "4977", Kind: recvault.KindVideo, OriginalPath: "Y:/90/0/20210519/4977/1642329.mp4",
		StartedAt: time.Unix(1621413752, 0).UTC()},
		File: "screen.mp4"},
	{IngestRequest: vault.IngestRequest{CampaignID: 110, CRTObjectID: "d741-6904fad1-vce-daf-638730",
		CallID: "d741-6904fad1-vcall-10989827", AgentID: "5001", StartedAt: time.Date(2025, 11, 13, 10, 5, 0, 0, time.UTC)},
		File: "call-ulaw-mono.wav"},
	{IngestRequest: vault.IngestRequest{CampaignID: 120, CRTObjectID: "d741-6904fad1-vce-daf-700001",
		CallID: "d741-6904fad1-vcall-20000001", AgentID: "5002", StartedAt: time.Date(2025, 11, 14, 9, 30, 0, 0, time.UTC)},
		File: "call-mono.mp3"},
}

// Open returns the embedded bytes of a demo recording.
func Open(name string) (io.Reader, error) {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// Seed creates the demo users and recordings that do not exist yet, and
// writes what it did to out. Running it again changes nothing.
func Seed(ctx context.Context, svc *vault.Service, out io.Writer) error {
	fmt.Fprintln(out, "demo users (passwords are public; do not use demo data in production):")
	existed := 0
	for _, du := range Users {
		u := du.User
		err := svc.AddUser(ctx, &u, du.Password)
		switch recvault.ErrorCode(err) {
		case "":
			fmt.Fprintf(out, "  %-24s %-10s password %s (created)\n", u.Login, u.Role, du.Password)
		case recvault.ECONFLICT:
			existed++
			fmt.Fprintf(out, "  %-24s %-10s (exists; password unchanged)\n", u.Login, u.Role)
		default:
			return fmt.Errorf("demo user %s: %w", u.Login, err)
		}
	}
	if existed > 0 {
		fmt.Fprintln(out, "  existing demo users keep the passwords they were created with: the demo passwords are\n"+
			"  listed in the README (Set-up) and in demo/demo.go; set another with: recvault user passwd --login LOGIN")
	}
	fmt.Fprintln(out, "demo recordings:")
	for _, dr := range Recordings {
		body, err := Open(dr.File)
		if err != nil {
			return err
		}
		rec, created, err := svc.Ingest(ctx, nil, dr.IngestRequest, body)
		if err != nil {
			return fmt.Errorf("demo recording %s: %w", dr.CRTObjectID, err)
		}
		state := "exists"
		if created {
			state = "created"
		}
		fmt.Fprintf(out, "  %s campaign %d crtObjectId %s callId %s agent %s %s/%s (%s)\n", rec.ID, rec.CampaignID,
			rec.CRTObjectID, rec.CallID, rec.AgentID, rec.Kind, rec.Format.Container, state)
	}
	return nil
}
