package catalogtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recvault/recvault"
)

// testLoginThrottle checks the sign-in throttle's shared state: counts per
// key, blocks that only grow, forgetting, success, and failures counted
// exactly once when replicas race.
func testLoginThrottle(t *testing.T, c recvault.Catalog) {
	ctx := context.Background()
	const forget = 15 * time.Minute
	// seen records the counts LoginFailure reported per key; the delay is
	// one second per failure from the third on.
	var mu sync.Mutex
	seen := map[string][]int{}
	delay := func(key string, n int) time.Duration {
		mu.Lock()
		seen[key] = append(seen[key], n)
		mu.Unlock()
		if n < 3 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	fail := func(at time.Time, keys ...string) {
		t.Helper()
		if err := c.LoginFailure(ctx, keys, at, forget, delay); err != nil {
			t.Fatal(err)
		}
	}
	blocked := func(at time.Time, keys ...string) time.Time {
		t.Helper()
		until, err := c.LoginBlocked(ctx, keys, at)
		if err != nil {
			t.Fatal(err)
		}
		return until
	}
	last := func(key string) int {
		mu.Lock()
		defer mu.Unlock()
		s := seen[key]
		if len(s) == 0 {
			return 0
		}
		return s[len(s)-1]
	}

	if u := blocked(base, "a", "b"); !u.IsZero() {
		t.Fatalf("unknown keys blocked until %v", u)
	}
	if u, err := c.LoginBlocked(ctx, nil, base); err != nil || !u.IsZero() {
		t.Fatalf("no keys: %v %v", u, err)
	}
	if err := c.LoginFailure(ctx, nil, base, forget, delay); err != nil {
		t.Fatalf("no keys: %v", err)
	}

	// Two failures: counted, not blocked. The third blocks for 3 s; a key
	// named twice counts once.
	fail(base, "a", "b")
	fail(base.Add(time.Second), "a")
	if last("a") != 2 || last("b") != 1 {
		t.Fatalf("counts %v", seen)
	}
	if u := blocked(base.Add(time.Second), "a", "b"); !u.IsZero() {
		t.Fatalf("blocked after two failures until %v", u)
	}
	t3 := base.Add(2 * time.Second)
	fail(t3, "a", "a")
	if last("a") != 3 {
		t.Fatalf("duplicate key counted twice: %v", seen["a"])
	}
	if u := blocked(t3, "a", "b"); !u.Equal(t3.Add(3 * time.Second)) {
		t.Fatalf("blocked until %v, want %v", u, t3.Add(3*time.Second))
	}
	if u := blocked(t3, "b"); !u.IsZero() {
		t.Fatalf("another key blocked until %v", u)
	}
	if u := blocked(t3.Add(3*time.Second), "a"); !u.IsZero() {
		t.Fatalf("block still on at its end: %v", u)
	}
	// The latest block among the keys wins.
	fail(t3, "b")
	fail(t3, "b") // b: 3 failures, blocked 3 s
	fail(t3.Add(time.Second), "a")
	if u := blocked(t3, "a", "b"); !u.Equal(t3.Add(5 * time.Second)) {
		t.Fatalf("latest block %v, want %v", u, t3.Add(5*time.Second))
	}
	// A block never shrinks: a smaller delay later leaves the longer one.
	long := func(string, int) time.Duration { return time.Hour }
	if err := c.LoginFailure(ctx, []string{"a"}, t3, forget, long); err != nil {
		t.Fatal(err)
	}
	if u := blocked(t3.Add(2*time.Second), "a"); !u.Equal(t3.Add(time.Hour)) {
		t.Fatalf("long block %v", u)
	}
	fail(t3.Add(3*time.Second), "a")
	if u := blocked(t3.Add(3*time.Second), "a"); !u.Equal(t3.Add(time.Hour)) {
		t.Fatalf("block shortened to %v", u)
	}
	// Forgetting runs from the end of the last block, not the last
	// failure: just before block end + forget the count goes on, after it
	// it starts again at one.
	n := last("a")
	fail(t3.Add(time.Hour+forget-time.Second), "a")
	if last("a") != n+1 {
		t.Fatalf("count forgotten before block end + %v: %v", forget, seen["a"])
	}
	lastFail := t3.Add(time.Hour + forget - time.Second)
	fail(lastFail.Add(forget+time.Minute), "a") // past that failure's own 7 s block, too
	if last("a") != 1 {
		t.Fatalf("count kept after %v: %v", forget, seen["a"])
	}
	// Success forgets the named keys only.
	fail(t3, "c")
	fail(t3, "c")
	if err := c.LoginSuccess(ctx, []string{"b", "zz"}); err != nil {
		t.Fatal(err)
	}
	if u := blocked(t3, "b"); !u.IsZero() {
		t.Fatalf("success left a block until %v", u)
	}
	fail(t3, "b")
	fail(t3, "c")
	if last("b") != 1 || last("c") != 3 {
		t.Fatalf("after success: b %v c %v", seen["b"], seen["c"])
	}
	if err := c.LoginSuccess(ctx, nil); err != nil {
		t.Fatalf("no keys: %v", err)
	}

	// Replicas racing: every failure is counted once, and each caller's
	// delay saw a distinct count.
	const racers = 8
	race(t, racers, func(i int) (bool, error) {
		return true, c.LoginFailure(ctx, []string{"hot", fmt.Sprintf("own-%d", i)}, base, forget, delay)
	})
	mu.Lock()
	counts := slices.Clone(seen["hot"])
	mu.Unlock()
	slices.Sort(counts)
	if len(counts) != racers || counts[0] != 1 || counts[racers-1] != racers || len(slices.Compact(counts)) != racers {
		t.Fatalf("racing failures counted %v, want 1..%d once each", counts, racers)
	}
	if u := blocked(base, "hot"); !u.Equal(base.Add(racers * time.Second)) {
		t.Fatalf("racing failures blocked until %v", u)
	}
}
