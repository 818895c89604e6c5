package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// multiBar is the one progress display of the commands (get, import) on a
// terminal: one line per file being transferred and a last line for the
// whole batch, redrawn in place (ANSI cursor-up and clear-line) at most ten
// times a second. A batch of 0 (a single download) has no batch line. Text
// for the same terminal (report lines) goes through above, so that it never
// shares a line with the bars. The caller serialises calls.
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
	start       time.Time
}

func newMultiBar(w io.Writer, total int) *multiBar {
	return &multiBar{w: w, total: total, active: map[int]*fileLine{}, now: time.Now}
}

// update records a file's progress and redraws if due.
func (m *multiBar) update(line int, name string, done, total int64) {
	f := m.active[line]
	if f == nil {
		f = &fileLine{start: m.now()}
		m.active[line] = f
	}
	f.name, f.done, f.total = name, done, total
	m.draw(false)
}

// above erases the bars, lets write print whole lines where they were, and
// draws the bars again below them.
func (m *multiBar) above(write func()) {
	if m.drawn > 0 {
		fmt.Fprintf(m.w, "\x1b[%dA\r\x1b[J", m.drawn)
		m.drawn = 0
	}
	write()
	m.draw(true)
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
	now := m.now()
	for _, l := range lines {
		f := m.active[l]
		b.WriteString("\r\x1b[2K" + barLine(f.name, f.done, f.total, now.Sub(f.start)) + "\n")
	}
	n := len(lines)
	if m.total > 0 {
		b.WriteString("\r\x1b[2K" + batchLine(m.done, m.total) + "\n")
		n++
	}
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

// barLine is a file's line: a bar and percentage when the size is known,
// else the bytes so far (with the rate, as the only sign of life).
func barLine(name string, done, total int64, took time.Duration) string {
	if len(name) > 28 {
		name = "…" + name[len(name)-27:]
	}
	rate := ""
	if took >= 100*time.Millisecond {
		rate = " " + humanBytes(int64(float64(done)/took.Seconds())) + "/s"
	}
	if total <= 0 {
		return fmt.Sprintf("%-28s %-*s %s%s", name, barWidth+2, "[ size unknown ]", humanBytes(done), rate)
	}
	return fmt.Sprintf("%-28s %s %3d%% %s/%s%s", name, bar(float64(done)/float64(total)), done*100/total,
		humanBytes(done), humanBytes(total), rate)
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
