package main

import (
	"bytes"
	"encoding/binary"
	"github.com/recvault/recvault/internal/testtool"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// needTool: see testtool.Need.
func needTool(t testing.TB, name string) string { return testtool.Need(t, name) }

// ffdecode decodes any media to interleaved s16le samples with ffmpeg.
func ffdecode(t *testing.T, data []byte, channels int) []int16 {
	t.Helper()
	needTool(t, "ffmpeg")
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, data, 0o600)
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", in, "-f", "s16le", "-ac", itoa(channels), "-")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("ffmpeg decode: %v %s", err, errb.String())
	}
	s := make([]int16, out.Len()/2)
	binary.Read(&out, binary.LittleEndian, s)
	return s
}

func ffprobe(t *testing.T, data []byte) string {
	t.Helper()
	needTool(t, "ffprobe")
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, data, 0o600)
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels,bit_rate", "-of", "compact", in).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v %s", err, out)
	}
	return string(out)
}

// snr is the signal-to-noise ratio of got against ref in dB, over their
// common length, after the best alignment within ±maxLag samples.
func snr(ref, got []int16, maxLag int) float64 {
	best := math.Inf(-1)
	for lag := -maxLag; lag <= maxLag; lag++ {
		var sig, noise float64
		for i := range ref {
			j := i + lag
			if j < 0 || j >= len(got) {
				continue
			}
			d := float64(ref[i]) - float64(got[j])
			sig += float64(ref[i]) * float64(ref[i])
			noise += d * d
		}
		if noise == 0 {
			return math.Inf(1)
		}
		if v := 10 * math.Log10(sig/noise); v > best {
			best = v
		}
	}
	return best
}

func TestMediaFormatsOverAPI(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("admin")
	mono := env.recordingID(110, "d741-6904fad1-vce-daf-638729") // A-law mono WAV
	path := "/api/v1/recordings/" + mono.ID + "/media"
	_, orig := env.do("GET", path, tok, nil)
	ref := ffdecode(t, orig, 1)

	// PCM WAV: size known up front, Range straight from the source offset.
	resp, wav := env.do("GET", path+"?format=wav", tok, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" ||
		resp.Header.Get("Content-Length") != itoa(len(wav)) || len(wav) != 44+2*len(ref) {
		t.Fatalf("wav: %d %v %d bytes (ref %d samples)", resp.StatusCode, resp.Header, len(wav), len(ref))
	}
	if !strings.HasSuffix(resp.Header.Get("Content-Disposition"), `.wav`) {
		t.Errorf("disposition %q", resp.Header.Get("Content-Disposition"))
	}
	if got := ffdecode(t, wav, 1); snr(ref, got, 0) < 90 {
		t.Errorf("A-law → PCM WAV differs from ffmpeg's decode of the source: %.1f dB", snr(ref, got, 0))
	}
	wavETag := resp.Header.Get("ETag")
	resp, part := env.do("GET", path+"?format=wav", tok, nil, "Range", "bytes=1001-5000")
	if resp.StatusCode != 206 || !bytes.Equal(part, wav[1001:5001]) {
		t.Fatalf("wav range: %d, equal %v", resp.StatusCode, bytes.Equal(part, wav[1001:5001]))
	}

	// µ-law WAV and raw outputs.
	for _, c := range []struct{ format, ctype string }{{"wav-ulaw", "audio/wav"}, {"ulaw", "audio/basic"}, {"alaw", "audio/x-alaw-basic"}, {"wav-alaw", "audio/wav"}} {
		resp, b := env.do("GET", path+"?format="+c.format, tok, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("%s: %d %s", c.format, resp.StatusCode, resp.Header.Get("Content-Type"))
			continue
		}
		if resp.Header.Get("ETag") == wavETag {
			t.Errorf("%s shares the wav ETag", c.format)
		}
		if c.format == "alaw" && !bytes.Equal(b, orig[int(mono.Format.DataOffset):]) {
			t.Errorf("A-law source to raw A-law is not the stored samples")
		}
	}

	// MP3 of a PCM/G.711 recording: computed at any offset like WAV, so
	// even the first request has a Content-Length and Range works
	// without the transcode cache.
	resp, mp3a := env.do("GET", path+"?format=mp3", tok, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || len(mp3a) < 1000 {
		t.Fatalf("mp3: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(mp3a))
	}
	if resp.Header.Get("Content-Length") != itoa(len(mp3a)) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("first mp3 response: Content-Length %q (%d bytes), Accept-Ranges %q", resp.Header.Get("Content-Length"), len(mp3a), resp.Header.Get("Accept-Ranges"))
	}
	etag := resp.Header.Get("ETag")
	if etag == wavETag || etag == `"`+mono.SHA256[:32]+`"` {
		t.Error("mp3 ETag equals another format's")
	}
	if p := ffprobe(t, mp3a); !strings.Contains(p, "codec_name=mp3") || !strings.Contains(p, "sample_rate=8000") || !strings.Contains(p, "channels=1") {
		t.Errorf("ffprobe of the mp3: %s", p)
	}
	if got := ffdecode(t, mp3a, 1); snr(ref, got, 3000) < 8 {
		t.Errorf("mp3 SNR %.1f dB against the source", snr(ref, got, 3000))
	}
	resp, mp3b := env.do("GET", path+"?format=mp3", tok, nil)
	if !bytes.Equal(mp3a, mp3b) || resp.Header.Get("Content-Length") != itoa(len(mp3b)) || resp.Header.Get("ETag") != etag {
		t.Fatalf("second mp3 request: equal %v, length %q, etag %q", bytes.Equal(mp3a, mp3b), resp.Header.Get("Content-Length"), resp.Header.Get("ETag"))
	}
	resp, part = env.do("GET", path+"?format=mp3", tok, nil, "Range", "bytes=100-199", "If-Range", etag)
	if resp.StatusCode != 206 || !bytes.Equal(part, mp3a[100:200]) {
		t.Fatalf("mp3 range: %d", resp.StatusCode)
	}
	if resp, _ := env.do("GET", path+"?format=mp3", tok, nil, "If-None-Match", etag); resp.StatusCode != 304 {
		t.Errorf("mp3 If-None-Match: %d", resp.StatusCode)
	}
	// A first request that is ranged is served from the segment holding
	// the offset: the same bytes as the full download.
	_, full16 := env.do("GET", path+"?format=mp3&bitrate=16", tok, nil)
	resp, part = env.do("GET", path+"?format=mp3&bitrate=24", tok, nil, "Range", "bytes=0-99")
	if resp.StatusCode != 206 || len(part) != 100 || !bytes.HasPrefix(part, []byte{0xff}) && !bytes.HasPrefix(part, []byte("ID3")) {
		t.Fatalf("first ranged mp3 request: %d %x", resp.StatusCode, part[:min(4, len(part))])
	}
	mid := len(full16) / 2
	resp, part = env.do("GET", path+"?format=mp3&bitrate=16", tok, nil, "Range", "bytes="+itoa(mid)+"-")
	if resp.StatusCode != 206 || !bytes.Equal(part, full16[mid:]) {
		t.Fatalf("mp3 range from the middle: %d, %d bytes, equal %v", resp.StatusCode, len(part), bytes.Equal(part, full16[mid:]))
	}
	if _, n, fills := env.app.cache.Stats(); n != 0 || fills != 0 {
		t.Errorf("cache holds %d outputs after %d conversions, want none: PCM/G.711 to MP3 needs no cache", n, fills)
	}

	// Refusals name the accepted values.
	for q, want := range map[string]string{
		"?format=flac":                   "original, wav, wav-alaw, wav-ulaw, alaw, ulaw, mp3",
		"?format=wav&channels=left":      "stereo, mono, agent, customer",
		"?format=wav&channels=agent":     "agent",
		"?format=mp3&bitrate=abc":        "bitrate",
		"?format=original&channels=mono": "original",
	} {
		resp, b := env.do("GET", path+q, tok, nil)
		wantError(t, resp, b, 400, recvault.EINVALID)
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: %s does not mention %q", q, b, want)
		}
	}
}

// TestDualTrackChannels checks that agent and customer come from the right
// stored channels and that stereo keeps their order.
func TestDualTrackChannels(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("admin")
	rec := env.recordingID(110, "1621413752-2011-voice")
	if rec.Format.Channels != 2 || rec.Format.AgentChannel != 0 || rec.Format.CustomerChannel != 1 {
		t.Fatalf("dual-track format %+v", rec.Format)
	}
	path := "/api/v1/recordings/" + rec.ID + "/media"
	_, orig := env.do("GET", path, tok, nil)
	both := ffdecode(t, orig, 2)
	left, right := make([]int16, len(both)/2), make([]int16, len(both)/2)
	for i := range left {
		left[i], right[i] = both[2*i], both[2*i+1]
	}
	if snr(left, right, 0) > 10 {
		t.Fatal("test recording's channels are too alike to tell apart")
	}
	_, agent := env.do("GET", path+"?format=wav&channels=agent", tok, nil)
	_, customer := env.do("GET", path+"?format=wav&channels=customer", tok, nil)
	_, stereo := env.do("GET", path+"?format=wav", tok, nil)
	a, c, s := ffdecode(t, agent, 1), ffdecode(t, customer, 1), ffdecode(t, stereo, 2)
	if snr(left, a, 0) < 90 || snr(right, c, 0) < 90 {
		t.Fatalf("agent/customer tracks: %.1f / %.1f dB", snr(left, a, 0), snr(right, c, 0))
	}
	if snr(both, s, 0) < 90 {
		t.Fatalf("stereo order changed: %.1f dB", snr(both, s, 0))
	}
	// The video has no audio outputs but its original bytes.
	video := env.recordingID(110, "1621413752-2011-video")
	resp, b := env.do("GET", "/api/v1/recordings/"+video.ID+"/media", tok, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || sha(b) != video.SHA256 {
		t.Fatalf("video original: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, b = env.do("GET", "/api/v1/recordings/"+video.ID+"/media?format=mp3", tok, nil)
	wantError(t, resp, b, 400, recvault.EINVALID)
}

// TestStreamFailureCutsTheConnection: when a conversion fails after the
// answer has started (here the stored file shrinks under a running MP3
// conversion), the client sees a broken transfer, not a short file that
// looks complete, and the cause is logged with the request id. It plays a
// failing local disk, so it runs on the embedded store on every backend
// run (an S3 read already streaming keeps its object whatever is put).
func TestStreamFailureCutsTheConnection(t *testing.T) {
	env := startEnvEmbedded(t)
	tok := env.loginDemo("admin")
	rec := ingestLong(t, env, 30*60)
	req, _ := http.NewRequest("GET", env.URL+"/api/v1/recordings/"+rec.ID+"/media?format=mp3", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	first := make([]byte, 4096)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(env.dir, "blobs", "objects", filepath.FromSlash(rec.BlobKey))
	if err := os.Truncate(blob, 1<<20); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a failed conversion ended as a clean body (%d more bytes)", len(body))
	}
	rid := resp.Header.Get("X-Request-Id")
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(env.logs.String(), "media stream failed") || !strings.Contains(env.logs.String(), rid) {
		if time.Now().After(deadline) {
			t.Fatalf("failure not logged with request id %s:\n%s", rid, env.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, n, _ := env.app.cache.Stats(); n != 0 {
		t.Fatal("a failed conversion was cached")
	}
}
