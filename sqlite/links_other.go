//go:build !unix

package sqlite

import "io/fs"

// Open flags that only Unix systems have.
const (
	noFollow = 0
	nonBlock = 0
)

// links returns 1: counting hard links needs Unix's stat.
func links(fs.FileInfo) uint64 { return 1 }
