// Package s3test gives tests a fresh, empty S3 bucket.
//
// By default it starts one throw-away versitygw server (a small S3 gateway
// over a local directory) per test binary, on a free loopback port, and
// kills it with the binary. versitygw is looked up on PATH and in
// $(go env GOPATH)/bin; install it with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// Without it the tests that need S3 skip, and fail under CI=true (see
// internal/testtool).
//
// With RECVAULT_TEST_S3 set to an endpoint URL (http://HOST:PORT) the tests
// use that server instead, with the credentials already in
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; each test gets a bucket of
// its own, removed with its contents when the test ends.
package s3test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/recvault/recvault/internal/testtool"
)

// EnvEndpoint names the environment variable that points the tests at an
// existing S3 server (http://HOST:PORT) instead of a throw-away one.
const EnvEndpoint = "RECVAULT_TEST_S3"

// The local server's root credentials. They guard nothing: the server
// listens on loopback only and lives as long as the test binary.
const (
	accessKey = "recvault-test"
	secretKey = "recvault-test-secret"
)

var (
	once   sync.Once
	server struct {
		endpoint string // http://127.0.0.1:PORT
		root     string // versitygw's posix root: one directory per bucket
		err      error
	}
)

// URL returns s3://BUCKET?endpoint=http://127.0.0.1:PORT&region=us-east-1,
// the URL of a new, empty bucket that exists until t ends.
//
// For blob/s3.Open, which reads the credentials from the environment, it
// sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the whole process
// (os.Setenv, once) to the local server's; with RECVAULT_TEST_S3 they are
// left as they are. A test may still override them with t.Setenv.
func URL(t testing.TB) string {
	t.Helper()
	endpoint, root := os.Getenv(EnvEndpoint), ""
	if endpoint != "" {
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
			t.Fatalf("s3test: %s is set but AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is not", EnvEndpoint)
		}
	} else {
		bin := find()
		if bin == "" {
			t.Log("s3test: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
			bin = testtool.Need(t, "versitygw") // skips, or fails under CI=true
		}
		once.Do(func() {
			server.endpoint, server.root, server.err = start(bin)
			if server.err == nil {
				server.err = errors.Join(os.Setenv("AWS_ACCESS_KEY_ID", accessKey), os.Setenv("AWS_SECRET_ACCESS_KEY", secretKey))
			}
		})
		if server.err != nil {
			t.Fatalf("s3test: %v", server.err)
		}
		endpoint, root = server.endpoint, server.root
	}
	c, err := client(endpoint)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	bucket := "recvault-" + random(6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("s3test: create bucket %s at %s: %v", bucket, endpoint, err)
	}
	t.Cleanup(func() {
		if root != "" {
			// The local server keeps a bucket as a directory; removing it
			// also removes unfinished uploads, which live inside it.
			if err := os.RemoveAll(filepath.Join(root, bucket)); err != nil {
				t.Errorf("s3test: remove bucket %s: %v", bucket, err)
			}
			return
		}
		if err := removeBucket(c, bucket); err != nil {
			t.Errorf("s3test: remove bucket %s at %s: %v", bucket, endpoint, err)
		}
	})
	return "s3://" + bucket + "?endpoint=" + endpoint + "&region=us-east-1"
}

// client connects to endpoint with the credentials the stores will use.
func client(endpoint string) (*minio.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("endpoint %q: want http://HOST:PORT", endpoint)
	}
	return minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure:       u.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
}

// removeBucket empties and removes a bucket on a server that is not ours.
func removeBucket(c *minio.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for obj := range c.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return obj.Err
		}
		if err := c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	core := minio.Core{Client: c}
	for {
		res, err := core.ListMultipartUploads(ctx, bucket, "", "", "", "", 1000)
		if err != nil {
			return err
		}
		for _, u := range res.Uploads {
			if err := core.AbortMultipartUpload(ctx, bucket, u.Key, u.UploadID); err != nil {
				return err
			}
		}
		if len(res.Uploads) == 0 || !res.IsTruncated {
			break
		}
	}
	return c.RemoveBucket(ctx, bucket)
}

// find looks for versitygw on PATH, then where go install puts it.
func find() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for dir := range strings.SplitSeq(gopath, string(os.PathListSeparator)) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "bin", "versitygw")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

const dirPattern = "recvault-s3test-"

// start runs versitygw on a free port over a new temporary directory and
// waits until it answers. It tries a few ports, because another process
// may take the free port between our probe and versitygw's listen.
func start(bin string) (endpoint, root string, err error) {
	reapStale()
	dir, err := os.MkdirTemp("", dirPattern+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", "", err
	}
	root = filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return "", "", err
	}
	for range 3 {
		var port int
		port, err = freePort()
		if err != nil {
			return "", "", err
		}
		endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		if err = run(bin, port, root, filepath.Join(dir, "versitygw.log")); err == nil {
			return endpoint, root, nil
		}
	}
	return "", "", err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// run starts the server and returns once it answers HTTP, or fails if it
// exits or stays silent for 15 seconds.
func run(bin string, port int, root, logPath string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", root)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig kills the server when the thread that started it ends, so
	// it is started from a goroutine locked to its thread that lives, in
	// Wait, as long as the server (and so as long as the test binary).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, exited := make(chan error, 1), make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return errors.Join(fmt.Errorf("start %s: %w", bin, err), logf.Close())
	}
	// The server inherited the log file; our copy is no longer needed.
	if err := logf.Close(); err != nil {
		return err
	}
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited: %v: %s", bin, err, tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := hc.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err == nil {
			// Any answer (403 without credentials) means it serves.
			return resp.Body.Close()
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("%s did not answer within 15s, and kill: %v", bin, err)
	}
	return fmt.Errorf("%s did not answer within 15s: %s", bin, tail(logPath))
}

// tail returns the end of the server's log, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// reapStale removes the directories of earlier test binaries, which had
// no chance to remove them: they end by the server being killed.
func reapStale() {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	if err != nil {
		return // the pattern is constant and valid
	}
	for _, d := range dirs {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), dirPattern), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			// Best effort: a directory left now is tried again next time.
			_ = os.RemoveAll(d)
		}
	}
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
