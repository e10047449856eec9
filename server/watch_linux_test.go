package server

// retireWatcher ends w if it watches nothing (see watcher.retire).
func retireWatcher(w *watcher) bool { return w.retire(false) }

// wakeParked does what the watcher's loop does with an event for the
// descriptor of c, parked.
func wakeParked(c *conn) {
	w := c.srv.watcher
	w.mu.Lock()
	delete(w.parked, c.fd)
	w.mu.Unlock()
	c.unpark(nil)
}
