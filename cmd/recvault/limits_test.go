package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/server"
)

// limitsIngestPath is an ingest of a fresh identity.
func limitsIngestPath(crt string) string {
	return "/api/v1/recordings?campaign=300&crtObjectId=" + crt + "&callId=call-" + crt + "&agent=4977"
}

// trickle sends the request head on a raw connection, then body bytes one
// at a time every gap, and reports how long the server kept the connection
// (until it closed it or the deadline passed) and what it answered.
func trickle(t *testing.T, url, head string, gap, deadline time.Duration) (held time.Duration, answer string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("{")); err != nil {
					return // cut: what the test wants
				}
			}
		}
	}()
	if err := c.SetReadDeadline(start.Add(deadline)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	held = time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held the trickled connection after %v (read %q)", held, got)
	}
	return held, string(got)
}

// A body trickled a byte at a time is cut within the body bound, on an
// ordinary route and on the upload (held to a rate); a slow but steady
// upload that takes longer than the window still succeeds, and normal
// requests are unaffected.
func TestTrickledBodyIsCut(t *testing.T) {
	const bound = time.Second
	env := startEnvWith(t, func(c *server.Config) {
		c.BodyTimeout = bound
		c.UploadWindow = bound
		c.UploadChunk = 1024
	})
	admin := env.loginDemo("admin") // a normal request works

	host := strings.TrimPrefix(env.URL, "http://")
	login := "POST /api/v1/sessions HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	held, answer := trickle(t, env.URL, login, 200*time.Millisecond, 10*time.Second)
	if held < bound/2 || held > bound+3*time.Second {
		t.Fatalf("trickled login body held the connection %v, want about %v (answer %q)", held, bound, answer)
	}
	t.Logf("trickled login cut after %v; answer %.40q", held, answer)

	upload := "POST " + limitsIngestPath("trickle") + " HTTP/1.1\r\nHost: " + host +
		"\r\nAuthorization: Bearer " + admin + "\r\nContent-Length: 100000\r\n\r\n"
	held, answer = trickle(t, env.URL, upload, 200*time.Millisecond, 10*time.Second)
	if held < bound/2 || held > bound+3*time.Second {
		t.Fatalf("trickled upload held the connection %v, want about %v (answer %q)", held, bound, answer)
	}

	// 16 KB in 2 KiB pieces every 300 ms: 2.4 s in all, longer than the
	// window, but each window brings more than the chunk.
	wav := wavPCM16(8000, 3)
	slow := &pacedReader{b: wav, piece: 2048, gap: 300 * time.Millisecond}
	start := time.Now()
	req, err := http.NewRequest("POST", env.URL+limitsIngestPath("slow-steady"), slow)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(wav))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("slow but steady upload: %d %s %v", resp.StatusCode, b, err)
	}
	if took := time.Since(start); took < 2*bound {
		t.Fatalf("the upload took only %v: not slower than the window", took)
	}

	resp, b = env.do("GET", "/api/v1/recordings?campaign=300", admin, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "slow-steady") {
		t.Fatalf("list after the cuts: %d %s", resp.StatusCode, b)
	}
}

// pacedReader yields b piece bytes at a time, waiting gap before each.
type pacedReader struct {
	b     []byte
	piece int
	gap   time.Duration
}

func (p *pacedReader) Read(q []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	time.Sleep(p.gap)
	n := copy(q[:min(len(q), p.piece)], p.b)
	p.b = p.b[n:]
	return n, nil
}

// rawHealthz sends GET /healthz on c and reads the answer.
func rawHealthz(c net.Conn, br *bufio.Reader) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("healthz: %d", resp.StatusCode)
	}
	return nil
}

type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string) rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return rawConn{c, bufio.NewReader(c)}
}

// With a cap of 5, a sixth connection from the same address is closed at
// once while the five stay usable; when one goes, a new one is taken. A
// trusted proxy's connections are not capped.
func TestConnsPerClientCapped(t *testing.T) {
	env := startEnvWith(t, func(c *server.Config) { c.MaxConnsPerClient = 5 })
	var conns []rawConn
	for i := range 5 {
		rc := dialRaw(t, env.URL)
		if err := rawHealthz(rc, rc.br); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		conns = append(conns, rc)
	}
	sixth := dialRaw(t, env.URL)
	if err := rawHealthz(sixth, sixth.br); err == nil {
		t.Fatal("a sixth connection was served")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the sixth connection was left open, not closed: %v", err)
	}
	for i, rc := range conns {
		if err := rawHealthz(rc, rc.br); err != nil {
			t.Fatalf("connection %d after the refusal: %v", i+1, err)
		}
	}
	conns[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rc := dialRaw(t, env.URL)
		err := rawHealthz(rc, rc.br)
		if err == nil {
			break
		}
		rc.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no new connection taken after one closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	proxied := startEnvWith(t, func(c *server.Config) {
		c.MaxConnsPerClient = 2
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	for i := range 4 {
		rc := dialRaw(t, proxied.URL)
		if err := rawHealthz(rc, rc.br); err != nil {
			t.Fatalf("trusted proxy's connection %d: %v", i+1, err)
		}
	}
}

// countingGate is an upload body: head at once, then nothing until open is
// closed (the answer arrived) or a timeout passes, then the rest. It counts
// what the HTTP client took from it.
type countingGate struct {
	head, rest []byte
	open       <-chan struct{}
	read       atomic.Int64
	late       atomic.Bool // the rest was sent before any answer
}

func (g *countingGate) Read(p []byte) (int, error) {
	if len(g.head) == 0 {
		select {
		case <-g.open:
			return 0, errors.New("test: answered, stop sending")
		case <-time.After(10 * time.Second):
			g.late.Store(true)
			g.head, g.rest = g.rest, nil
			if len(g.head) == 0 {
				return 0, io.EOF
			}
		}
	}
	n := copy(p, g.head)
	g.head = g.head[n:]
	g.read.Add(int64(n))
	return n, nil
}

// tmpLeftovers counts what a finished ingest left for Clean (on disk:
// temporary files; on an object store: unfinished uploads).
func tmpLeftovers(t *testing.T, env *testEnv) int {
	t.Helper()
	n, err := env.app.blobs.Clean(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An upload whose first bytes are no supported format is refused with 400
// naming the problem before the client has sent most of it; one larger
// than the configured maximum is refused too; neither leaves a blob.
func TestIngestLimits(t *testing.T) {
	env := startEnv(t)
	admin := env.loginDemo("admin")
	blobs := env.blobCount()

	const total, sent = 2 << 20, 128 << 10
	junk := make([]byte, total)
	rng := rand.New(rand.NewChaCha8([32]byte{7}))
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	junk[0] = 0 // no MPEG frame sync by chance
	answered := make(chan struct{})
	body := &countingGate{head: junk[:sent], rest: junk[sent:], open: answered}
	req, err := http.NewRequest("POST", env.URL+limitsIngestPath("junk-2mb"), body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = total
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(answered)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, resp, b, http.StatusBadRequest, recvault.EINVALID)
	if !strings.Contains(string(b), "not a recognised media format") {
		t.Fatalf("refusal does not name the problem: %s", b)
	}
	if body.late.Load() {
		t.Fatal("the server answered only after the whole body was sent")
	}
	if n := body.read.Load(); n > sent {
		t.Fatalf("the client sent %d bytes before the answer", n)
	}
	t.Logf("refused after the client sent %d of %d bytes: %s", body.read.Load(), total, b)

	// What the prober reads is never refused early: an MP3 after 1000
	// bytes of junk has no signature at the start.
	mp3, err := os.ReadFile(filepath.Join("..", "..", "media", "probe", "testdata", "call-mono.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	junkMP3 := append(make([]byte, 1000), mp3[45:]...) // without its ID3 tag
	resp, b = env.do("POST", limitsIngestPath("junk-mp3"), admin, bytes.NewReader(junkMP3))
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"container":"mp3"`) {
		t.Fatalf("MP3 after leading junk: %d %s", resp.StatusCode, b)
	}
	blobs++

	env.app.svc.SetMaxIngestBytes(1 << 20)
	big := wavPCM16(700_000, 5) // 1.4 MB
	resp, b = env.do("POST", limitsIngestPath("too-big"), admin, bytes.NewReader(big))
	wantError(t, resp, b, http.StatusBadRequest, recvault.EINVALID)
	if !strings.Contains(string(b), "recording too large (max 1 MiB)") {
		t.Fatalf("too large: %s", b)
	}
	// Under the limit still fine.
	resp, b = env.do("POST", limitsIngestPath("small-ok"), admin, bytes.NewReader(wavPCM16(8000, 6)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("ingest under the limit: %d %s", resp.StatusCode, b)
	}
	if got := env.blobCount(); got != blobs+1 {
		t.Fatalf("%d blobs, want %d: a refused upload left one", got, blobs+1)
	}
	if n := tmpLeftovers(t, env); n != 0 {
		t.Fatalf("refused uploads left %d partial writes", n)
	}
}

// Range requests the standard library gets wrong or that amplify: a zero
// suffix is 416, too many or overlapping ranges get the whole file, and a
// sane multi-range stays a multipart 206.
func TestRangeLimits(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("supervisor@exotel.in")
	rec := env.recordingID(110, "d741-6904fad1-vce-daf-638729")
	path := "/api/v1/recordings/" + rec.ID + "/media"
	_, full := env.do("GET", path, tok, nil)
	size := len(full)

	resp, _ := env.do("GET", path, tok, nil, "Range", "bytes=-0")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
		t.Fatalf("bytes=-0: %d, Content-Range %q", resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	resp, b := env.do("GET", path, tok, nil, "Range", "bytes=-0,0-9")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(b, full[:10]) {
		t.Fatalf("bytes=-0,0-9: %d, %d bytes", resp.StatusCode, len(b))
	}

	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("%d-%d", 2*i, 2*i))
	}
	for name, rh := range map[string]string{
		"1000 ranges": "bytes=" + strings.Join(many, ","),
		"17 ranges":   "bytes=" + strings.Join(many[:17], ","),
		"overlapping": "bytes=0-99,50-149",
		"suffix over": "bytes=0-99,-" + fmt.Sprint(size-50),
	} {
		resp, b = env.do("GET", path, tok, nil, "Range", rh)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, full) {
			t.Errorf("%s: %d, %d bytes; want 200 with the whole %d", name, resp.StatusCode, len(b), size)
		}
	}

	var sixteen [][2]int
	for i := range 16 {
		sixteen = append(sixteen, [2]int{2 * i, 2*i + 1})
	}
	for name, c := range map[string]struct {
		rh    string
		parts [][2]int
	}{
		"two":     {"bytes=0-9,20-29", [][2]int{{0, 10}, {20, 30}}},
		"sixteen": {"bytes=" + strings.Join(many[:16], ","), sixteen},
	} {
		resp, b = env.do("GET", path, tok, nil, "Range", c.rh)
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
			t.Fatalf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
		n := 0
		for ; ; n++ {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: part %d: %v", name, n, err)
			}
			got, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			if n >= len(c.parts) {
				t.Fatalf("%s: more than %d parts", name, len(c.parts))
			}
			want := c.parts[n]
			if !bytes.Equal(got, full[want[0]:want[1]]) ||
				part.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", want[0], want[1]-1, size) {
				t.Fatalf("%s: part %d is %q (%s)", name, n, got, part.Header.Get("Content-Range"))
			}
		}
		if n != len(c.parts) {
			t.Fatalf("%s: %d parts, want %d", name, n, len(c.parts))
		}
	}
}

// TestIngestNamesKnownFormats: an upload of a known format recvault does
// not store is refused naming it, not with its bytes in hex.
func TestIngestNamesKnownFormats(t *testing.T) {
	env := startEnv(t)
	admin := env.loginDemo("admin")
	flac := append([]byte("fLaC\x00\x00\x00\x22"), make([]byte, 4096)...)
	resp, b := env.do("POST", limitsIngestPath("flac-1"), admin, bytes.NewReader(flac))
	wantError(t, resp, b, http.StatusBadRequest, recvault.EINVALID)
	if !strings.Contains(string(b), "FLAC") || strings.Contains(string(b), "66 4c 61 43") {
		t.Fatalf("a FLAC upload answered %s", b)
	}
}
