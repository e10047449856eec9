//go:build !unix

package server

import (
	"errors"
	"syscall"
)

// rawReadSupported: elsewhere connections read through net.Conn and hold
// their reader while idle.
const rawReadSupported = false

var (
	errWouldBlock  = errors.New("would block")
	errInterrupted = errors.New("interrupted")
)

func sysRead(fd uintptr, p []byte) (int, error) {
	return 0, syscall.EINVAL
}

func sysWrite(fd uintptr, p []byte) (int, error) {
	return 0, syscall.EINVAL
}
