package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestMultiBar checks what a terminal would show: a line per file in
// flight and a batch line, redrawn in place, throttled.
func TestMultiBar(t *testing.T) {
	var out bytes.Buffer
	clock := time.Unix(0, 0)
	m := newMultiBar(&out, 3)
	m.now = func() time.Time { return clock }
	m.update(2, "a.wav", 0, 1000)
	clock = clock.Add(200 * time.Millisecond)
	out.Reset()
	m.update(5, "b.mp3", 500, 1000)
	frame := out.String()
	// Back up over the 2 lines drawn before, then 3 lines: two files and the batch.
	if !strings.HasPrefix(frame, "\x1b[2A") || !strings.Contains(frame, "a.wav") || !strings.Contains(frame, "b.mp3") ||
		!strings.Contains(frame, " 50% ") || !strings.Contains(frame, "0/3 files") || strings.Count(frame, "\n") != 3 {
		t.Fatalf("frame with two files: %q", frame)
	}
	out.Reset()
	m.update(5, "b.mp3", 600, 1000) // within 100 ms: not redrawn
	if out.Len() != 0 {
		t.Fatal("redraw not throttled")
	}
	m.fileDone(2)
	frame = out.String()
	// Two lines now (b.mp3 and the batch); the third, left from the longer
	// frame, is cleared and the cursor comes back up one line.
	if strings.Contains(frame, "a.wav") || !strings.Contains(frame, "1/3 files") || !strings.Contains(frame, "b.mp3") ||
		!strings.HasPrefix(frame, "\x1b[3A") || !strings.HasSuffix(frame, "files\n\r\x1b[2K\n\x1b[1A") {
		t.Fatalf("after a.wav finished: %q", frame)
	}
	m.fileDone(5)
	m.fileDone(9)
	out.Reset()
	m.finish()
	if frame := out.String(); !strings.Contains(frame, "3/3 files") || !strings.Contains(frame, "[==============================]") ||
		strings.Contains(frame, "b.mp3") {
		t.Fatalf("final frame: %q", frame)
	}
}
