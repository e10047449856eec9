//go:build !unix

package server

// rawReadSupported: elsewhere connections read through net.Conn and hold
// their reader while idle.
const rawReadSupported = false

// errno stands for a system call's error number (0: none); nothing
// returns one here.
type errno uintptr

func (e errno) Error() string { return "raw I/O not supported" }

const (
	errWouldBlock errno = 1 + iota
	errInterrupted
	errUnsupported
)

func sysRead(fd uintptr, p []byte) (int, errno) {
	return 0, errUnsupported
}

func sysWrite(fd uintptr, p []byte) (int, errno) {
	return 0, errUnsupported
}
