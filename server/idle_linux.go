//go:build linux && !race

package server

import (
	"syscall"
	"unsafe"
)

// rawReadSupported: the raw I/O path reads and writes file descriptors
// directly.
const rawReadSupported = true

// errno is what sysRead and sysWrite return: the number itself, which
// the callers compare without boxing it in an error (0: none).
type errno = syscall.Errno

const (
	errWouldBlock  = syscall.EAGAIN
	errInterrupted = syscall.EINTR
)

// sysRead is read(2) on a non-blocking socket. It is a raw system call,
// made without telling the scheduler: on a non-blocking socket it never
// waits, and a goroutine in a scheduler-visible system call longer than
// the scheduler's monitor tick (20 µs, which a loopback write that
// delivers to the peer inline can take) loses its P to another thread,
// then waits to get one back: on a loaded CPU that hand-off, and the
// monitor waking every 20 µs while it finds such calls, cost more than
// the call (see docs/perf-findings.md).
func sysRead(fd uintptr, p []byte) (int, errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// sysWrite is write(2) on a non-blocking socket, a raw system call like
// sysRead.
func sysWrite(fd uintptr, p []byte) (int, errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
