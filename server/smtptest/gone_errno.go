//go:build !plan9

package smtptest

import (
	"errors"
	"syscall"
)

// isResetOrPipe reports whether err is the system's "connection reset
// by peer" or "broken pipe".
func isResetOrPipe(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
