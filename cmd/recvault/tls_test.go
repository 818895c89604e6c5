package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/server"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "recvault test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestHTTPSWhenGivenACertificate(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	a, err := openApp(context.Background(), testLocations(t, t.TempDir()), appOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.svc.AddUser(context.Background(), &recvault.User{Login: "root", Role: recvault.RoleAdmin}, "root-password")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := server.New(a.svc, server.Config{TLSCert: certFile, TLSKey: keyFile, Logger: quietLog})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(context.Background()); <-done }()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+ln.Addr().String()+"/api/v1/sessions", "application/json",
		strings.NewReader(`{"login":"root","password":"root-password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.TLS == nil || err != nil {
		t.Fatalf("HTTPS login: %d, TLS %v, %v", resp.StatusCode, resp.TLS != nil, err)
	}
	// A recording larger than one span downloads whole and by Range over
	// HTTPS (where it is copied, not sent by sendfile), byte for byte.
	src := wavPCM16(8000*40, 3)
	rec, _, err := a.svc.Ingest(context.Background(), nil, ingestReqPath(110, "tls-a", "4977", "Y:/9/0/20260101/4977/7.V3"), bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range []string{"", "bytes=200000-500000"} {
		req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/api/v1/recordings/"+rec.ID+"/media", nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		want := src
		if rg != "" {
			req.Header.Set("Range", rg)
			want = src[200000:500001]
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode/100 != 2 || !bytes.Equal(body, want) {
			t.Fatalf("HTTPS download %q: %d, %d bytes, %v", rg, resp.StatusCode, len(body), err)
		}
	}
	// Plain HTTP on the TLS port is not served.
	resp, err = http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP answered on the HTTPS port")
		}
	}
	// The serve command wants both files or neither.
	if code, _, errs := runCLI(t, "", "serve", "--data", t.TempDir(), "--tls-cert", certFile); code != 2 || !strings.Contains(errs, "go together") {
		t.Fatalf("serve with only a cert: %d %s", code, errs)
	}
}

// TestCLIBesideRunningServer ingests with several `recvault ingest`
// processes into the data directory of a running server, while clients
// list through the API: SQLite's WAL and busy timeout keep them all going.
func TestCLIBesideRunningServer(t *testing.T) {
	env := startEnv(t)
	tok := env.loginDemo("admin")
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			src := filepath.Join(t.TempDir(), "c.wav")
			os.WriteFile(src, wavPCM16(40000, 100+i), 0o600)
			cmd := child(t, "ingest", "--data", env.dir, "--campaign", "777", "--crt-object-id", "par-"+itoa(i),
				"--call-id", "p", "--agent", "4977", src)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- string(out) + err.Error()
			}
		}(i)
	}
	stop := make(chan struct{})
	var lister sync.WaitGroup
	lister.Add(1)
	go func() {
		defer lister.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, b := env.do("GET", "/api/v1/recordings?campaign=777", tok, nil)
			if resp.StatusCode != 200 {
				errs <- "list during ingest: " + string(b)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	lister.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	_, b := env.do("GET", "/api/v1/recordings?campaign=777", tok, nil)
	var list struct{ Recordings []json.RawMessage }
	json.Unmarshal(b, &list)
	if len(list.Recordings) != 4 {
		t.Fatalf("server sees %d of 4 recordings ingested beside it", len(list.Recordings))
	}
}
