// Package seekpos resolves an io.Seeker's arguments to the new position,
// the one computation every seekable body in recvault (sealed and S3
// blobs, the media engine's outputs computed by offset) shares.
package seekpos

import (
	"fmt"
	"io"
)

// Resolve returns the position that Seek(offset, whence) moves to from
// cur in a body of size bytes. A position past the end is allowed, as
// io.Seeker allows it (reads there give io.EOF); an unknown whence or a
// negative position is an error.
func Resolve(cur, size, offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = cur + offset
	case io.SeekEnd:
		pos = size + offset
	default:
		return 0, fmt.Errorf("invalid whence %d", whence)
	}
	if pos < 0 {
		return 0, fmt.Errorf("negative position %d", pos)
	}
	return pos, nil
}
