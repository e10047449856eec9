package e2e

import "syscall"

// sysProcAttr ties a child process to the test binary: the kernel kills
// the child when the thread that started it ends, so a test that panics or
// times out leaves no server running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
