package durable

// IsNoSpace reports whether err means the file system is full or the quota
// is exhausted: a condition that may clear, so a server should answer with a
// transient reply (RFC 3463 4.3.1, mail system full) rather than accept a
// message it could not store.
func IsNoSpace(err error) bool { return isNoSpace(err) }
