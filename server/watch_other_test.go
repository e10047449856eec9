//go:build !linux

package server

// retireWatcher: there is no watcher here (the tests that call it skip).
func retireWatcher(*watcher) bool { panic("no watcher on this platform") }
