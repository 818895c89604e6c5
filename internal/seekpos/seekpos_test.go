package seekpos

import (
	"io"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, c := range []struct {
		cur, size, off int64
		whence         int
		want           int64
		bad            bool
	}{
		{5, 100, 10, io.SeekStart, 10, false},
		{5, 100, 10, io.SeekCurrent, 15, false},
		{5, 100, -10, io.SeekEnd, 90, false},
		{5, 100, 50, io.SeekEnd, 150, false}, // past the end is allowed
		{5, 100, -6, io.SeekCurrent, 0, true},
		{5, 100, -1, io.SeekStart, 0, true},
		{5, 100, 0, 7, 0, true},
	} {
		got, err := Resolve(c.cur, c.size, c.off, c.whence)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("Resolve(%d, %d, %d, %d) = %d, %v", c.cur, c.size, c.off, c.whence, got, err)
		}
	}
}
