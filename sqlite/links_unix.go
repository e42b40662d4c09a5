//go:build unix

package sqlite

import (
	"io/fs"
	"syscall"
)

// Open flags: never follow a symbolic link at the last element, never block
// opening a FIFO.
const (
	noFollow = syscall.O_NOFOLLOW
	nonBlock = syscall.O_NONBLOCK
)

// links returns how many names (hard links) the file has.
func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
