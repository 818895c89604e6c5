//go:build linux || darwin || freebsd

package filemap

import (
	"fmt"
	"os"
	"syscall"
)

const supported = true

// identity returns the device and inode numbers of the file fi describes.
func identity(fi os.FileInfo) (dev, ino uint64, err error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("no inode in %T", fi.Sys())
	}
	return uint64(st.Dev), uint64(st.Ino), nil // int32 and uint32 on some platforms
}

// mapFile maps f's first size bytes read-only and shared: the page
// cache's pages themselves, so that what is read through the mapping is
// what a read call or sendfile of the file gets.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if int64(int(size)) != size {
		return nil, fmt.Errorf("%d bytes: too large to map", size)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var data []byte
	var merr error
	if err := raw.Control(func(fd uintptr) {
		data, merr = syscall.Mmap(int(fd), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	return data, merr
}

func unmap(data []byte) error { return syscall.Munmap(data) }
