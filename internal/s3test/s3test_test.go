package s3test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// Each URL names a new, empty bucket the process's credentials can use.
func TestURL(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("two calls gave one bucket: %s", a)
	}
	for _, raw := range []string{a, b} {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "s3" || u.Host == "" || u.Query().Get("region") != "us-east-1" {
			t.Fatalf("URL %q: %v", raw, err)
		}
		ep := u.Query().Get("endpoint")
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			t.Fatalf("URL %q: endpoint %q", raw, ep)
		}
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" || os.Getenv("AWS_SECRET_ACCESS_KEY") == "" {
			t.Fatal("credentials not in the environment")
		}
		c, err := client(ep)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for obj := range c.ListObjectsIter(ctx, u.Host, minio.ListObjectsOptions{Recursive: true}) {
			t.Fatalf("bucket %s not empty or not usable: %q %v", u.Host, obj.Key, obj.Err)
		}
		if err := ctx.Err(); err != nil {
			t.Fatal(err)
		}
	}
}
