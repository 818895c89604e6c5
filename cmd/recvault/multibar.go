package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// multiBar draws batch progress on a terminal: one line per file being
// downloaded and a last line for the whole batch, redrawn in place (ANSI
// cursor-up and clear-line) at most ten times a second. The caller
// serialises calls.
type multiBar struct {
	w      io.Writer
	total  int
	done   int
	active map[int]*fileLine // by manifest line
	drawn  int               // lines on screen from the last draw
	last   time.Time
	now    func() time.Time
}

type fileLine struct {
	name        string
	done, total int64
}

func newMultiBar(w io.Writer, total int) *multiBar {
	return &multiBar{w: w, total: total, active: map[int]*fileLine{}, now: time.Now}
}

// update records a file's progress and redraws if due.
func (m *multiBar) update(line int, name string, done, total int64) {
	f := m.active[line]
	if f == nil {
		f = &fileLine{}
		m.active[line] = f
	}
	f.name, f.done, f.total = name, done, total
	m.draw(false)
}

// fileDone removes a file's line and counts it in the batch.
func (m *multiBar) fileDone(line int) {
	delete(m.active, line)
	m.done++
	m.draw(true)
}

// finish draws the final state and leaves the cursor below it.
func (m *multiBar) finish() { m.draw(true) }

func (m *multiBar) draw(force bool) {
	if now := m.now(); !force && now.Sub(m.last) < 100*time.Millisecond {
		return
	} else {
		m.last = now
	}
	var b strings.Builder
	if m.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", m.drawn)
	}
	lines := slices.Sorted(mapKeys(m.active))
	for _, l := range lines {
		f := m.active[l]
		b.WriteString("\r\x1b[2K" + barLine(f.name, f.done, f.total) + "\n")
	}
	b.WriteString("\r\x1b[2K" + batchLine(m.done, m.total) + "\n")
	n := len(lines) + 1
	// Clear what a longer previous draw left below, and come back up.
	for i := n; i < m.drawn; i++ {
		b.WriteString("\r\x1b[2K\n")
	}
	if extra := m.drawn - n; extra > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", extra)
	}
	m.drawn = n
	io.WriteString(m.w, b.String())
}

func mapKeys(m map[int]*fileLine) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

const barWidth = 30

func bar(frac float64) string {
	frac = min(max(frac, 0), 1)
	n := int(frac * barWidth)
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", barWidth-n) + "]"
}

func barLine(name string, done, total int64) string {
	if len(name) > 28 {
		name = "…" + name[len(name)-27:]
	}
	if total <= 0 {
		return fmt.Sprintf("%-28s %s %s", name, bar(0), humanBytes(done))
	}
	return fmt.Sprintf("%-28s %s %3d%% %s/%s", name, bar(float64(done)/float64(total)), done*100/total,
		humanBytes(done), humanBytes(total))
}

func batchLine(done, total int) string {
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	return fmt.Sprintf("%-28s %s %d/%d files", "batch", bar(frac), done, total)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
