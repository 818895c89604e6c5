// Package s3 is the scale-out blob store: recording bytes as objects in an
// S3-compatible bucket (AWS S3, MinIO, Ceph RGW, versitygw, ...), under an
// optional key prefix.
//
// It is built on minio-go rather than the AWS SDK v2 because minio-go is one
// module with a handful of small dependencies (the SDK pulls in a dozen
// service and middleware modules), because it exposes the multipart
// primitives needed to stream a body of unknown length part by part with a
// conditional completion, and because it is written and tested against
// S3-compatible stores, not only AWS.
//
// Durability and atomicity: a blob up to one part (8 MiB) is a single PUT;
// a larger one is a multipart upload, and S3 makes an object visible only
// when CompleteMultipartUpload succeeds, atomically. A failed or cancelled
// Put aborts its upload; one interrupted by a crash leaves an incomplete
// upload, invisible to Open and Walk, that Clean aborts later. Both the PUT
// and the completion carry If-None-Match: *, so that of two concurrent Puts
// of one key exactly one succeeds and the other gets ECONFLICT (on stores
// that honour conditional writes: AWS since 2024, MinIO, versitygw); a store
// that ignores the header still never shows a mix of two writes, because
// each write replaces the object whole.
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/internal/ctxio"
	"github.com/recvault/recvault/internal/seekpos"
)

const (
	// partSize is both the largest blob written with a single PUT and the
	// size of each part of a multipart upload. It bounds a Put's memory to
	// one buffer of this size (minio-go's own default for bodies of unknown
	// length would be 512 MiB parts) while keeping the number of requests
	// low. With S3's limit of 10,000 parts it caps a blob at 80 GiB, far
	// above any recording.
	partSize = 8 << 20
	maxParts = 10000

	// startTimeout bounds the check Open makes, so that a wrong endpoint
	// fails start-up in seconds instead of hanging in retries.
	startTimeout = 5 * time.Second

	// abortTimeout bounds the abort of a failed upload, which runs even when
	// the Put's context is cancelled (that is often why it failed).
	abortTimeout = 30 * time.Second
)

// The kinds of start-up failure Open reports, each as one line naming it.
var (
	ErrURL         = errors.New("malformed URL")
	ErrUnreachable = errors.New("endpoint unreachable")
	ErrNoBucket    = errors.New("bucket does not exist")
	ErrCredentials = errors.New("bad credentials")
)

// Store is a BlobStore in an S3 bucket. It is safe for concurrent use.
type Store struct {
	core minio.Core // the full client and its low-level multipart calls
	// probe makes the start-up and readiness checks. It never retries, so
	// that a check reports the real failure (connection refused, ...) at
	// once instead of a timeout after minio-go's back-off.
	probe  *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	where  string // names the store in errors, without credentials
	access string // access key id, named when credentials are rejected
	redact []string
	bufs   sync.Pool
}

var _ recvault.BlobStore = (*Store)(nil)

// Open opens the store named by rawURL:
//
//	s3://BUCKET[/PREFIX][?endpoint=http://127.0.0.1:7070][&region=us-east-1][&path-style=true|false]
//
// Without endpoint it is AWS (https://s3.amazonaws.com, virtual-host style,
// region looked up if not given); with one, the scheme (http or https)
// decides TLS and path style is the default, as S3-compatible servers
// rarely have a wildcard DNS name. The credentials come from the
// environment, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN if set), never from the URL, so that the URL can be
// logged and shown.
//
// Open checks, within a few seconds, that the endpoint answers, the
// credentials are accepted and the bucket exists; it fails with one line
// naming which of those is wrong (errors.Is ErrURL, ErrUnreachable,
// ErrNoBucket or ErrCredentials), never containing the secret key.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, nil)
}

// open is Open with a replaceable HTTP transport, for tests that count
// what goes over the wire.
func open(ctx context.Context, rawURL string, tr http.RoundTripper) (*Store, error) {
	cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: %w: %s", ErrURL, err.Error())
	}
	where := "s3 blob store s3://" + cfg.bucket
	if cfg.prefix != "" {
		where += "/" + strings.TrimSuffix(cfg.prefix, "/")
	}
	where += " at " + cfg.display
	ak, sk, token := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
	if ak == "" || sk == "" {
		return nil, fmt.Errorf("%s: %w: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set", where, ErrCredentials)
	}
	if tr == nil {
		t, err := minio.DefaultTransport(cfg.secure)
		if err != nil {
			return nil, fmt.Errorf("%s: transport: %w", where, err)
		}
		// Every download opens a GET: keep as many idle connections to
		// the store as a busy replica has downloads in flight, or each
		// request beyond minio-go's 16 pays a new TCP (and TLS) handshake.
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 512
		tr = t
	}
	lookup := minio.BucketLookupDNS
	if cfg.pathStyle {
		lookup = minio.BucketLookupPath
	}
	opts := func(retries int) *minio.Options {
		return &minio.Options{
			Creds:        credentials.NewStaticV4(ak, sk, token),
			Secure:       cfg.secure,
			Transport:    tr,
			Region:       cfg.region,
			BucketLookup: lookup,
			MaxRetries:   retries,
		}
	}
	cl, err := minio.New(cfg.endpoint, opts(0)) // 0: minio-go's default retries
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", where, ErrURL, err.Error())
	}
	probe, err := minio.New(cfg.endpoint, opts(1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", where, ErrURL, err.Error())
	}
	s := &Store{
		core: minio.Core{Client: cl}, probe: probe,
		bucket: cfg.bucket, prefix: cfg.prefix, where: where, access: ak,
		redact: []string{sk, token},
	}
	s.bufs.New = func() any { b := make([]byte, partSize); return &b }
	cctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := s.check(cctx); err != nil {
		return nil, err
	}
	return s, nil
}

type config struct {
	bucket, prefix string
	endpoint       string // host[:port], as minio-go wants it
	display        string // scheme://host[:port], for messages
	secure         bool
	pathStyle      bool
	region         string
}

// parseURL reads the store URL. Its errors never repeat the URL, which
// might hold credentials someone put there by mistake.
func parseURL(raw string) (config, error) {
	var cfg config
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return cfg, err
	}
	switch {
	case u.Scheme != "s3":
		return cfg, errors.New("want s3://BUCKET[/PREFIX]?endpoint=URL")
	case u.User != nil:
		return cfg, errors.New("credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	case u.Opaque != "" || u.Fragment != "":
		return cfg, errors.New("want s3://BUCKET[/PREFIX]?endpoint=URL")
	}
	cfg.bucket = u.Host
	if cfg.bucket == "" {
		return cfg, errors.New("no bucket: want s3://BUCKET[/PREFIX]")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.bucket); err != nil {
		return cfg, fmt.Errorf("bucket %q: %v", cfg.bucket, err)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if !validKey(p) {
			return cfg, fmt.Errorf("prefix %q: want letters, digits, '-', '_', '.' in '/'-separated segments", p)
		}
		cfg.prefix = p + "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return cfg, fmt.Errorf("query: %v", err)
	}
	pathStyle := ""
	for k, v := range q {
		if len(v) != 1 {
			return cfg, fmt.Errorf("parameter %s given %d times", k, len(v))
		}
		switch k {
		case "endpoint":
			e, err := url.Parse(v[0])
			if err != nil || e.Scheme != "http" && e.Scheme != "https" || e.Host == "" ||
				e.User != nil || e.Path != "" && e.Path != "/" || e.RawQuery != "" || e.Fragment != "" {
				return cfg, errors.New("endpoint: want http://HOST[:PORT] or https://HOST[:PORT]")
			}
			cfg.endpoint, cfg.secure, cfg.display = e.Host, e.Scheme == "https", e.Scheme+"://"+e.Host
		case "region":
			cfg.region = v[0]
		case "path-style":
			pathStyle = v[0]
		default:
			return cfg, fmt.Errorf("unknown parameter %q (want endpoint, region, path-style)", k)
		}
	}
	if cfg.endpoint == "" {
		cfg.endpoint, cfg.secure, cfg.display = "s3.amazonaws.com", true, "https://s3.amazonaws.com"
	} else {
		cfg.pathStyle = true
	}
	if pathStyle != "" {
		b, err := strconv.ParseBool(pathStyle)
		if err != nil {
			return cfg, errors.New("path-style: want true or false")
		}
		cfg.pathStyle = b
	}
	return cfg, nil
}

// validKey reports whether key is a blob key: the characters the disk store
// accepts, at most 200 of them, no "..", and (stricter than the disk store,
// because S3 keys are not paths and "a//b" and "a/b" would be two objects)
// no empty or "." segments.
func validKey(key string) bool {
	if key == "" || len(key) > 200 || strings.Contains(key, "..") {
		return false
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." {
			return false
		}
	}
	return true
}

// object maps a key to its object name under the prefix.
func (s *Store) object(key string) (string, error) {
	if !validKey(key) {
		return "", recvault.Errorf(recvault.EINVALID, "invalid blob key")
	}
	return s.prefix + key, nil
}

// check lists at most one key under the prefix: unlike a HEAD of the bucket
// (BucketExists), a listing's error has a body, whose code tells a missing
// bucket from a wrong secret (SignatureDoesNotMatch) and an unknown access
// key (InvalidAccessKeyId); versitygw answers HEAD with an unknown key as
// if the bucket were missing.
func (s *Store) check(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing after its first page
	noOwner := false
	for obj := range s.probe.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1, FetchOwner: &noOwner}) {
		if obj.Err != nil {
			return s.checkErr(ctx, obj.Err)
		}
		break
	}
	// The listing stops silently when ctx ends.
	if err := ctx.Err(); err != nil {
		return s.checkErr(ctx, err)
	}
	return nil
}

// credentialCodes are the S3 error codes that mean the credentials are
// wrong or lack the right to list the bucket. versitygw reports an unknown
// access key as XAdminUserNotFound, with status 404.
var credentialCodes = map[string]bool{
	"AccessDenied": true, "SignatureDoesNotMatch": true, "InvalidAccessKeyId": true,
	"InvalidToken": true, "ExpiredToken": true, "InvalidSecurity": true, "XAdminUserNotFound": true,
}

// checkErr turns the failure of check into one line naming its kind.
func (s *Store) checkErr(ctx context.Context, err error) error {
	var e minio.ErrorResponse
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &e):
		switch {
		case e.Code == "NoSuchBucket" || e.Code == "" && e.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w", s.where, ErrNoBucket)
		case credentialCodes[e.Code] || e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%s: %w for access key %s: %s: %s", s.where, ErrCredentials, s.access, e.Code, s.clean(e.Message))
		}
		return fmt.Errorf("%s: check failed: %s: %s", s.where, e.Code, s.clean(e.Message))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: no answer within %v", s.where, ErrUnreachable, startTimeout)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: check cancelled: %w", s.where, err)
	case errors.As(err, &ue):
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w: no answer within %v", s.where, ErrUnreachable, startTimeout)
		}
		return fmt.Errorf("%s: %w: %s", s.where, ErrUnreachable, s.clean(ue.Err.Error()))
	case errors.As(err, &ne):
		return fmt.Errorf("%s: %w: %s", s.where, ErrUnreachable, s.clean(ne.Error()))
	}
	return fmt.Errorf("%s: check failed: %s", s.where, s.clean(err.Error()))
}

// clean makes a server's message safe for one log line: no secret (no
// server should echo it, but this one line is what gets printed), no
// newline.
func (s *Store) clean(msg string) string {
	for _, r := range s.redact {
		if r != "" {
			msg = strings.ReplaceAll(msg, r, "[redacted]")
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

// Ping checks, like Open, that the endpoint answers, the credentials are
// accepted and the bucket exists.
func (s *Store) Ping(ctx context.Context) error {
	return s.check(ctx)
}

// exclusive returns options that make a write fail with 412 if the object
// exists by then: the atomic half of "never replace", the StatObject before
// it being only the cheap, early half.
func exclusive() minio.PutObjectOptions {
	var o minio.PutObjectOptions
	o.SetMatchETagExcept("*")
	return o
}

// Put streams r to key, hashing it on the way. It holds at most one part in
// memory: a blob that fits one part is sent with a single PUT, a larger one
// part by part as a multipart upload, which becomes visible only when
// completed. It refuses (ECONFLICT) to replace an existing blob.
//
// As with any remote store, a Put whose context ends while the final
// request is in flight may report an error although the blob was stored;
// the core's pending-blob bookkeeping covers that case.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (recvault.BlobInfo, error) {
	name, err := s.object(key)
	if err != nil {
		return recvault.BlobInfo{}, err
	}
	if _, err := s.core.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{}); err == nil {
		return recvault.BlobInfo{}, recvault.Errorf(recvault.ECONFLICT, "blob %s exists", key)
	} else if !isNotFound(err) {
		return recvault.BlobInfo{}, fmt.Errorf("put blob %s: %w", key, err)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	h := sha256.New()
	src := io.TeeReader(ctxio.Reader(ctx, r), h)

	n, err := io.ReadFull(src, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		sum := hex.EncodeToString(h.Sum(nil))
		// The payload hash is signed, so the store verifies the bytes.
		_, err := s.core.PutObject(ctx, s.bucket, name, bytes.NewReader(buf[:n]), int64(n), "", sum, exclusive())
		if err != nil {
			return recvault.BlobInfo{}, s.putErr(key, err)
		}
		return recvault.BlobInfo{Size: int64(n), SHA256: sum}, nil
	} else if err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("read blob %s: %w", key, err)
	}
	return s.putMultipart(ctx, key, name, src, h, buf)
}

// putMultipart uploads buf, already full, and the rest of src as parts;
// h is hashing src.
func (s *Store) putMultipart(ctx context.Context, key, name string, src io.Reader, h hash.Hash, buf []byte) (_ recvault.BlobInfo, err error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, name, minio.PutObjectOptions{})
	if err != nil {
		return recvault.BlobInfo{}, fmt.Errorf("put blob %s: start upload: %w", key, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Without the abort the parts would linger (and be billed) until
		// Clean; the upload was never visible either way.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if aerr := s.core.AbortMultipartUpload(actx, s.bucket, name, id); aerr != nil && !isNoUpload(aerr) {
			err = errors.Join(err, fmt.Errorf("abort upload of blob %s: %w", key, aerr))
		}
	}()
	var parts []minio.CompletePart
	size := int64(0)
	n, last := len(buf), false
	for num := 1; ; num++ {
		if num > maxParts {
			return recvault.BlobInfo{}, fmt.Errorf("put blob %s: larger than %d bytes", key, int64(maxParts)*partSize)
		}
		p, err := s.core.PutObjectPart(ctx, s.bucket, name, id, num, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return recvault.BlobInfo{}, fmt.Errorf("put blob %s: part %d: %w", key, num, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		size += int64(n)
		if last {
			break
		}
		n, err = io.ReadFull(src, buf)
		if err == io.EOF {
			break
		} else if err == io.ErrUnexpectedEOF {
			last = true
		} else if err != nil {
			return recvault.BlobInfo{}, fmt.Errorf("read blob %s: %w", key, err)
		}
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, name, id, parts, exclusive()); err != nil {
		return recvault.BlobInfo{}, s.putErr(key, err)
	}
	return recvault.BlobInfo{Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// putErr maps the failure of a conditional write: 412 means another Put of
// the key won the race.
func (s *Store) putErr(key string, err error) error {
	var e minio.ErrorResponse
	if errors.As(err, &e) && (e.StatusCode == http.StatusPreconditionFailed || e.Code == "PreconditionFailed" ||
		e.Code == "ConditionalRequestConflict") {
		return recvault.Errorf(recvault.ECONFLICT, "blob %s exists", key)
	}
	return fmt.Errorf("put blob %s: %w", key, err)
}

// isNotFound reports a missing object (not a missing bucket, which is a
// misconfiguration and must not read as "no such blob").
func isNotFound(err error) bool {
	var e minio.ErrorResponse
	return errors.As(err, &e) && (e.Code == "NoSuchKey" || e.StatusCode == http.StatusNotFound && e.Code != "NoSuchBucket")
}

func isNoUpload(err error) bool {
	var e minio.ErrorResponse
	return errors.As(err, &e) && e.Code == "NoSuchUpload"
}

// Open returns the blob key. It sends one GET of the whole object and
// reads only its headers (size, ETag): the body stays unread in the socket,
// so a whole-file read — the usual download — costs one round trip, and a
// read elsewhere drops that stream for a ranged GET. Nothing is
// transferred beyond what the socket buffers take before it is read.
func (s *Store) Open(ctx context.Context, key string) (recvault.Blob, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	// Reads outlive Open's context on purpose: Blob's methods take none,
	// the disk store's reads ignore it, and a caller that opened under a
	// short timeout must not see later reads fail. Close stops a read.
	rctx := context.WithoutCancel(ctx)
	body, info, _, err := s.core.GetObject(rctx, s.bucket, name, minio.GetObjectOptions{})
	if isNotFound(err) {
		return nil, recvault.Errorf(recvault.ENOTFOUND, "blob not found")
	} else if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return &blob{s: s, ctx: rctx, key: key, name: name, size: info.Size, etag: info.ETag, body: body}, nil
}

// Delete removes the blob key; a missing blob is not an error (S3's
// DeleteObject succeeds for a missing key).
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.core.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}

// Walk calls fn with the key (relative to the prefix) and the time of
// every stored blob. Objects whose names are no blob keys (directory
// markers, another tool's files) are skipped.
func (s *Store) Walk(ctx context.Context, fn func(key string, mod time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	noOwner := false
	for obj := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true, FetchOwner: &noOwner}) {
		if obj.Err != nil {
			return fmt.Errorf("walk blobs: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if !validKey(key) {
			continue
		}
		if err := fn(key, obj.LastModified); err != nil {
			return err
		}
	}
	// The listing stops silently when ctx ends.
	return ctx.Err()
}

// Clean aborts the multipart uploads under the prefix started more than age
// ago: the leftovers of Puts a crash interrupted. Age keeps it from
// aborting a running upload (of this or another recvault process). It
// aborts each upload by its id, not every upload of the key, for the same
// reason.
func (s *Store) Clean(ctx context.Context, age time.Duration) (int, error) {
	var stale []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := s.core.ListMultipartUploads(ctx, s.bucket, s.prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return 0, fmt.Errorf("clean blob store: %w", err)
		}
		for _, u := range res.Uploads {
			if time.Since(u.Initiated) >= age {
				stale = append(stale, u)
			}
		}
		if !res.IsTruncated {
			break
		}
		if res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker {
			return 0, fmt.Errorf("clean blob store: listing of uploads does not advance")
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	n := 0
	for _, u := range stale {
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err != nil && !isNoUpload(err) {
			return n, fmt.Errorf("clean blob store: abort upload of %s: %w", u.Key, err)
		}
		n++
	}
	return n, nil
}

// blob reads an object by ranged GETs, opened lazily: Read continues one
// stream from the current offset; a Seek to another offset drops it, and
// the next Read opens a new one there. ReadAt keeps a stream of its own
// (the media engine reads a conversion's source through a SectionReader,
// that is by consecutive ReadAt calls): a ReadAt where the previous one
// ended continues it, any other opens a GET from there to the end. ReadAt
// calls are serialised by a mutex, so parallel callers are safe. Every GET
// after Open's is pinned to the ETag Open saw, so a blob can never read as
// a mix of two objects.
type blob struct {
	s         *Store
	ctx       context.Context
	key, name string
	etag      string
	size      int64
	pos       int64         // offset of the next Read
	body      io.ReadCloser // stream positioned at bodyPos, or nil
	bodyPos   int64
	closed    bool

	atMu   sync.Mutex
	atBody io.ReadCloser // ReadAt's stream, positioned at atPos, or nil
	atPos  int64
}

func (b *blob) Size() int64 { return b.size }

// get opens a GET of the bytes [off, end).
func (b *blob) get(off, end int64) (io.ReadCloser, error) {
	var o minio.GetObjectOptions
	if err := o.SetRange(off, end-1); err != nil {
		return nil, fmt.Errorf("read blob %s: %w", b.key, err)
	}
	if b.etag != "" {
		if err := o.SetMatchETag(b.etag); err != nil {
			return nil, fmt.Errorf("read blob %s: %w", b.key, err)
		}
	}
	body, _, _, err := b.s.core.GetObject(b.ctx, b.s.bucket, b.name, o)
	if err != nil {
		return nil, fmt.Errorf("read blob %s at %d: %w", b.key, off, err)
	}
	return body, nil
}

func (b *blob) Read(p []byte) (int, error) {
	if b.closed {
		return 0, os.ErrClosed
	}
	if b.pos >= b.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.body != nil && b.bodyPos != b.pos {
		// Seeked away: closing an unfinished response drops its
		// connection instead of reading the rest of it.
		if err := b.dropBody(); err != nil {
			return 0, err
		}
	}
	if b.body == nil {
		body, err := b.get(b.pos, b.size)
		if err != nil {
			return 0, err
		}
		b.body, b.bodyPos = body, b.pos
	}
	n, err := b.body.Read(p)
	b.pos += int64(n)
	b.bodyPos = b.pos
	switch {
	case err == io.EOF && b.pos < b.size:
		err = fmt.Errorf("read blob %s: stream ended at %d of %d: %w", b.key, b.pos, b.size, io.ErrUnexpectedEOF)
	case err == io.EOF:
		// The stream is used up; the next Read reports EOF by position.
		err = nil
	case err != nil:
		err = fmt.Errorf("read blob %s at %d: %w", b.key, b.pos, err)
	}
	if err != nil || b.pos >= b.size {
		if cerr := b.dropBody(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err == nil && b.pos >= b.size {
		err = io.EOF
	}
	return n, err
}

func (b *blob) dropBody() error {
	if b.body == nil {
		return nil
	}
	err := b.body.Close()
	b.body = nil
	if err != nil {
		return fmt.Errorf("read blob %s: %w", b.key, err)
	}
	return nil
}

func (b *blob) Seek(offset int64, whence int) (int64, error) {
	if b.closed {
		return 0, os.ErrClosed
	}
	pos, err := seekpos.Resolve(b.pos, b.size, offset, whence)
	if err != nil {
		return 0, fmt.Errorf("seek blob %s: %w", b.key, err)
	}
	// Only the position moves: the open stream is kept until a Read needs
	// another offset, so the usual Seek(0, End), Seek(0, Start) of
	// http.ServeContent costs no request.
	b.pos = pos
	return pos, nil
}

// ReadAt reads len(p) bytes at off (less at the end of the blob, reported
// as io.EOF as io.ReaderAt requires), continuing ReadAt's stream when off is
// where the previous call ended.
func (b *blob) ReadAt(p []byte, off int64) (int, error) {
	b.atMu.Lock()
	defer b.atMu.Unlock()
	if b.closed {
		return 0, os.ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("read blob %s: negative offset %d", b.key, off)
	}
	if off >= b.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.atBody != nil && b.atPos != off {
		if err := b.dropAt(); err != nil {
			return 0, err
		}
	}
	if b.atBody == nil {
		body, err := b.get(off, b.size)
		if err != nil {
			return 0, err
		}
		b.atBody, b.atPos = body, off
	}
	end := min(off+int64(len(p)), b.size)
	n, err := io.ReadFull(b.atBody, p[:end-off])
	b.atPos += int64(n)
	if err != nil {
		derr := b.dropAt()
		return n, errors.Join(fmt.Errorf("read blob %s at %d: %w", b.key, off+int64(n), err), derr)
	}
	if b.atPos >= b.size {
		if err := b.dropAt(); err != nil {
			return n, err
		}
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (b *blob) dropAt() error {
	if b.atBody == nil {
		return nil
	}
	err := b.atBody.Close()
	b.atBody = nil
	if err != nil {
		return fmt.Errorf("read blob %s: %w", b.key, err)
	}
	return nil
}

// Close releases the open streams, if any.
func (b *blob) Close() error {
	b.atMu.Lock()
	defer b.atMu.Unlock()
	if b.closed {
		return os.ErrClosed
	}
	b.closed = true
	return errors.Join(b.dropBody(), b.dropAt())
}
