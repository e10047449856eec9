//go:build !linux

package reliability

import (
	"syscall"
	"testing"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func mountSmall(t *testing.T, size int) string {
	t.Skip("filling a small file system needs Linux (tmpfs)")
	return ""
}
