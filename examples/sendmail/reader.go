package main

import "bytes"

// bytesReader returns a fresh reader over msg; its Len tells the client the
// size before MAIL (RFC 1870 SIZE).
func bytesReader(msg []byte) *bytes.Reader { return bytes.NewReader(msg) }
