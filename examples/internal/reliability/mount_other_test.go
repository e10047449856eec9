//go:build !linux

package reliability

import "testing"

func mountSmall(t *testing.T, size int) string {
	t.Skip("filling a small file system needs Linux (tmpfs)")
	return ""
}
