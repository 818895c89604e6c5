package main

import (
	"runtime/debug"
	"testing"
)

// TestServeGC: serve sets its own GC target when GOGC is unset, and
// leaves the operator's alone when it is set.
func TestServeGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	setServeGC(getenv)
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, serveGCPercent)
	}
	env["GOGC"] = "100"
	setServeGC(getenv)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC=100: GC percent %d, want 100 (left alone)", got)
	}
}
