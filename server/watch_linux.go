//go:build linux

package server

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// On Linux a handed-off connection (see idle.go) holds no goroutine at
// all: its socket is watched by the Server's watcher, one goroutine
// blocked in epoll_wait(2) on a set of its own, which starts a goroutine
// for the connection when the socket becomes readable (or is closed by
// the peer). The command's deadline is kept by a timer, and Shutdown and
// Close wake the connection themselves. An idle connection is then its
// conn, its socket and that timer: no stack, no goroutine. The watcher
// wakes every watcherLinger at least, and when it watches no connection
// then it closes its descriptors and ends; the next hand-off makes
// another.

// watcher watches the sockets of the handed-off connections of a Server.
type watcher struct {
	srv    *Server
	gen    uint32 // tells the sockets in this set from those in an earlier one
	epfd   int
	stopR  int // the read end of the pipe that stops the loop
	stopW  int
	mu     sync.Mutex
	parked map[int32]*conn // by file descriptor
	closed bool
}

// watcherLinger is the longest a watcher sleeps: one with no connection
// to watch ends after a while so long.
const watcherLinger = time.Second

// errWatcherClosed refuses a connection once the watcher has stopped.
var errWatcherClosed = errors.New("smtp server: watcher stopped")

// newWatcher makes the epoll set and starts the loop.
func newWatcher(s *Server, gen uint32) (*watcher, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(p[0])
		syscall.Close(p[1])
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	w := &watcher{srv: s, gen: gen, epfd: epfd, stopR: p[0], stopW: p[1], parked: make(map[int32]*conn)}
	go w.loop()
	return w, nil
}

// loop starts the goroutines of the connections whose sockets become
// readable, until stop or retire.
func (w *watcher) loop() {
	defer func() {
		syscall.Close(w.epfd)
		syscall.Close(w.stopR)
		syscall.Close(w.stopW)
	}()
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(w.epfd, events, int(watcherLinger/time.Millisecond))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Cannot happen with a valid set; wake everyone rather than
			// leave them waiting.
			w.retire(true)
			w.wakeAll(os.NewSyscallError("epoll_wait", err))
			return
		}
		if n == 0 && w.retire(false) {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(w.stopR) {
				return
			}
			w.mu.Lock()
			c := w.parked[ev.Fd]
			delete(w.parked, ev.Fd)
			w.mu.Unlock()
			if c != nil {
				c.unpark(nil)
			}
		}
	}
}

// park makes the watcher watch c's socket; it must not be used by the
// caller afterwards. It fails only when the watcher has stopped.
func (w *watcher) park(c *conn) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errWatcherClosed
	}
	// Wakers take w.mu before c: the timer and the map entry are in
	// place before the socket can fire.
	w.parked[c.fd] = c
	c.parked.Store(true)
	if d := c.cmdDeadline; d != 0 {
		c.parkTimer = time.AfterFunc(time.Duration(d-c.srv.clock()), c.parkTimeout)
	}
	// Level-triggered and one-shot: a socket readable already fires at
	// once, and fires once until it is armed again by the next park.
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.fd}
	op := syscall.EPOLL_CTL_MOD
	if c.watchGen != w.gen {
		op = syscall.EPOLL_CTL_ADD
	}
	if err := syscall.EpollCtl(w.epfd, op, int(c.fd), &ev); err != nil {
		// The connection is served on at once with the error (a
		// closed socket, out of memory).
		delete(w.parked, c.fd)
		c.parked.Store(false)
		if c.parkTimer != nil {
			c.parkTimer.Stop()
		}
		return os.NewSyscallError("epoll_ctl", err)
	}
	c.watchGen = w.gen
	return nil
}

// unwatch forgets c if it is parked, for a waker other than the loop.
func (w *watcher) unwatch(c *conn) {
	w.mu.Lock()
	if w.parked[c.fd] == c {
		delete(w.parked, c.fd)
	}
	w.mu.Unlock()
}

// stop ends the loop; later parks fail.
func (w *watcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		syscall.Write(w.stopW, []byte{0})
	}
}

// retire ends the watcher if it watches no connection (or always, with
// force): later parks fail, and the Server makes a new watcher for them.
// It reports whether the watcher ended.
func (w *watcher) retire(force bool) bool {
	s := w.srv
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !force && len(w.parked) > 0 {
		return false
	}
	w.closed = true
	if s.watcher == w {
		s.watcher = nil
	}
	return true
}

// wakeAll wakes every parked connection with err.
func (w *watcher) wakeAll(err error) {
	w.mu.Lock()
	cs := make([]*conn, 0, len(w.parked))
	for fd, c := range w.parked {
		cs = append(cs, c)
		delete(w.parked, fd)
	}
	w.mu.Unlock()
	for _, c := range cs {
		c.unpark(err)
	}
}

// parkSupported: handed-off connections are watched by the watcher.
const parkSupported = true

// watch parks c with the Server's watcher, made when there is none.
func (s *Server) watch(c *conn) error {
	for {
		s.watchMu.Lock()
		w := s.watcher
		if w == nil {
			if s.shutdown.Load() {
				s.watchMu.Unlock()
				return errWatcherClosed
			}
			s.watchGen++
			var err error
			if w, err = newWatcher(s, s.watchGen); err != nil {
				s.watchMu.Unlock()
				return err
			}
			s.watcher = w
		}
		s.watchMu.Unlock()
		if err := w.park(c); err != errWatcherClosed || s.shutdown.Load() {
			return err
		}
		// The watcher retired meanwhile: the next one.
	}
}

// stopWatcher stops the watcher, if any.
func (s *Server) stopWatcher() {
	s.watchMu.Lock()
	w := s.watcher
	s.watchMu.Unlock()
	if w != nil {
		w.stop()
	}
}

// unwatchConn forgets c in the watcher, if it is parked there.
func (s *Server) unwatchConn(c *conn) {
	s.watchMu.Lock()
	w := s.watcher
	s.watchMu.Unlock()
	if w != nil {
		w.unwatch(c)
	}
}

// socketFD returns the file descriptor of rc.
func socketFD(rc syscall.RawConn) int32 {
	fd := int32(-1)
	rc.Control(func(f uintptr) { fd = int32(f) })
	return fd
}
