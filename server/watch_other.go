//go:build !linux

package server

import (
	"errors"
	"syscall"
)

// parkSupported: elsewhere a handed-off connection waits in a goroutine
// of its own (idleWait).
const parkSupported = false

var errNoWatcher = errors.New("smtp server: no watcher on this platform")

type watcher struct{}

func (s *Server) watch(c *conn) error { return errNoWatcher }
func (s *Server) stopWatcher()        {}
func (s *Server) unwatchConn(c *conn) {}
func socketFD(syscall.RawConn) int32  { return -1 }
