package server

// retireWatcher ends w if it watches nothing (see watcher.retire).
func retireWatcher(w *watcher) bool { return w.retire(false) }
