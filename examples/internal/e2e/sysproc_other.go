//go:build !linux

package e2e

import "syscall"

// sysProcAttr: without Pdeathsig, a child outlives a test binary that dies
// before its cleanups run.
func sysProcAttr() *syscall.SysProcAttr { return nil }
