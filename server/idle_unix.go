//go:build unix && (!linux || race)

package server

import "syscall"

// rawReadSupported: the idle path reads file descriptors directly.
const rawReadSupported = true

// errno is what sysRead and sysWrite return (see idle_linux.go).
type errno = syscall.Errno

const (
	errWouldBlock  = syscall.EAGAIN
	errInterrupted = syscall.EINTR
)

// sysRead is read(2) on a non-blocking socket. (On Linux without the race
// detector it is a raw system call, see idle_linux.go; syscall.Read and
// Write tell the race detector that what one goroutine did before writing
// to a socket happened before what another does after reading from it.)
func sysRead(fd uintptr, p []byte) (int, errno) {
	return toErrno(syscall.Read(int(fd), p))
}

// sysWrite is write(2) on a non-blocking socket.
func sysWrite(fd uintptr, p []byte) (int, errno) {
	return toErrno(syscall.Write(int(fd), p))
}

// toErrno turns the result of syscall.Read or Write into sysRead's.
func toErrno(n int, err error) (int, errno) {
	if err == nil {
		return n, 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return 0, e
	}
	return 0, syscall.EIO // syscall's errors are all Errno values
}
