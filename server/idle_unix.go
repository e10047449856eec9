//go:build unix

package server

import "syscall"

// rawReadSupported: the idle path reads file descriptors directly.
const rawReadSupported = true

const (
	errWouldBlock  = syscall.EAGAIN
	errInterrupted = syscall.EINTR
)

// sysRead is read(2) on a non-blocking socket.
func sysRead(fd uintptr, p []byte) (int, error) {
	return syscall.Read(int(fd), p)
}

// sysWrite is write(2) on a non-blocking socket.
func sysWrite(fd uintptr, p []byte) (int, error) {
	return syscall.Write(int(fd), p)
}
