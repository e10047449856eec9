package smtptest

// isResetOrPipe: Plan 9 has no errno values for a reset connection or a
// broken pipe (its errors are strings), so a peer that reset the
// connection is reported as the read error it is.
func isResetOrPipe(error) bool { return false }
