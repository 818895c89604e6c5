package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/recvault/recvault/vault"
)

// TestMain lets tests run this binary's main as a real child process (to
// kill it midway): with RECVAULT_TEST_ARGS set, the test binary is recvault.
func TestMain(m *testing.M) {
	if a := os.Getenv("RECVAULT_TEST_ARGS"); a != "" {
		var args []string
		if err := json.Unmarshal([]byte(a), &args); err != nil {
			os.Exit(3)
		}
		os.Exit(run(context.Background(), args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// wavPCM16 builds a mono 8 kHz PCM16 WAV of n samples of a 440 Hz tone with
// a per-file offset, so different seeds give different bytes.
func wavPCM16(n int, seed int) []byte {
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		v := int16(8000*math.Sin(2*math.Pi*440*float64(i)/8000) + float64(seed%100))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}

// countFiles counts regular files under dir.
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ingestReq(campaign int64, crt string) vault.IngestRequest {
	return vault.IngestRequest{CampaignID: campaign, CRTObjectID: crt, CallID: "call-" + crt, AgentID: "4977"}
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func ingestReqPath(campaign int64, crt, agent, path string) vault.IngestRequest {
	return vault.IngestRequest{CampaignID: campaign, CRTObjectID: crt, CallID: "call-" + crt, AgentID: agent, OriginalPath: path}
}
