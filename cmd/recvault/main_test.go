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

	"github.com/recvault/recvault/internal/pgtest"
	"github.com/recvault/recvault/internal/testtool"
	"github.com/recvault/recvault/media/wav"
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
	code := pgtest.Main(m) // m.Run, then stop the throw-away PostgreSQL if one was started
	testtool.Report()      // the tests skipped for a missing tool, in one line
	os.Exit(code)
}

// wavPCM16 builds a mono 8 kHz PCM16 WAV of n samples of a 440 Hz tone with
// a per-file offset, so different seeds give different bytes.
func wavPCM16(n int, seed int) []byte {
	b, err := wav.AppendHeader(make([]byte, 0, 44+2*n), wav.Header{Format: wav.PCM16, SampleRate: 8000, Channels: 1, DataSize: int64(2 * n)})
	if err != nil {
		panic(err)
	}
	for i := 0; i < n; i++ {
		v := int16(8000*math.Sin(2*math.Pi*440*float64(i)/8000) + float64(seed%100))
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
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
