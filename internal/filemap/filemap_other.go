//go:build !(linux || darwin || freebsd)

package filemap

import (
	"errors"
	"os"
)

const supported = false

var errUnsupported = errors.New("files are not mapped on this platform")

func identity(os.FileInfo) (uint64, uint64, error) { return 0, 0, errUnsupported }
func mapFile(*os.File, int64) ([]byte, error)      { return nil, errUnsupported }
func unmap([]byte) error                           { return nil }
