package client

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry is the retry policy: exponential backoff with jitter between
// attempts, or the server's Retry-After when it asks for longer.
type Retry struct {
	Attempts      int           // attempts in all, the first included; default 5
	Base          time.Duration // first backoff; default 500 ms
	Max           time.Duration // backoff cap; default 30 s
	MaxRetryAfter time.Duration // longest Retry-After honoured; default 5 min
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 30 * time.Second
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = 5 * time.Minute
	}
	return r
}

// Delay is the wait before retry number n (1 for the first retry): a random
// duration in [d/2, d] where d = Base·2^(n-1) capped at Max ("equal
// jitter", so that many clients failing together spread out but none
// retries at once), or retryAfter when that is longer (capped).
func (r Retry) Delay(n int, retryAfter time.Duration) time.Duration {
	r = r.withDefaults()
	d := r.Max
	if n < 1 {
		n = 1
	}
	if n <= 30 {
		if x := r.Base << (n - 1); x > 0 && x < r.Max {
			d = x
		}
	}
	d = d/2 + rand.N(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, r.MaxRetryAfter)
	}
	return d
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). It returns 0 when the value is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 86400 {
			n = 86400 // a day: anything longer is a misconfiguration
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, 24*time.Hour)
		}
	}
	return 0
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
