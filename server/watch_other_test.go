//go:build !linux

package server

// There is no watcher here: the tests that would call these skip.

func retireWatcher(*watcher) bool { panic("no watcher on this platform") }
func wakeParked(*conn)            { panic("no watcher on this platform") }
