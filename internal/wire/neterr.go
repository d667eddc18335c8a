package wire

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// IsTimeout reports a deadline or context timeout.
func IsTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsClosed reports an orderly or abrupt close by the peer.
func IsClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed)
}

// IsRefused reports a connection refused: nothing listens on the port.
func IsRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// ErrTooLarge is what a capped reader returns once its limit is reached.
var ErrTooLarge = errors.New("header limit exceeded")
