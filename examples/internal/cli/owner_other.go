//go:build !unix

package cli

import (
	"io/fs"
	"os"
)

// openNoBlock opens path for reading.
func openNoBlock(path string) (*os.File, error) { return os.Open(path) }

// FileOwner says nothing where files have no owner id (Windows).
func FileOwner(fs.FileInfo) (uid int, ok bool) { return 0, false }
