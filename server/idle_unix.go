//go:build unix && (!linux || race)

package server

import "syscall"

// rawReadSupported: the idle path reads file descriptors directly.
const rawReadSupported = true

const (
	errWouldBlock  = syscall.EAGAIN
	errInterrupted = syscall.EINTR
)

// sysRead is read(2) on a non-blocking socket. (On Linux without the race
// detector it is a raw system call, see idle_linux.go; syscall.Read and
// Write tell the race detector that what one goroutine did before writing
// to a socket happened before what another does after reading from it.)
func sysRead(fd uintptr, p []byte) (int, error) {
	return syscall.Read(int(fd), p)
}

// sysWrite is write(2) on a non-blocking socket.
func sysWrite(fd uintptr, p []byte) (int, error) {
	return syscall.Write(int(fd), p)
}
