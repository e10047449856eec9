package sasl

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Mechanism names, as registered with IANA (RFC 4422 3.1) and advertised
// after the EHLO keyword AUTH (RFC 4954 3).
const (
	Plain       = "PLAIN"         // RFC 4616
	Login       = "LOGIN"         // draft-murchison-sasl-login
	CramMD5     = "CRAM-MD5"      // RFC 2195
	ScramSHA256 = "SCRAM-SHA-256" // RFC 7677, RFC 5802
	XOAuth2     = "XOAUTH2"       // Google's XOAUTH2 protocol
	OAuthBearer = "OAUTHBEARER"   // RFC 7628
)

// MaxMessageSize is the largest decoded SASL message, in octets, that a
// [Server] accepts from a client or a [Client] accepts from a server.
// RFC 4954 4: a server must accept AUTH lines of up to 12288 octets; a
// message is base64 on the wire, so its decoded form is always shorter than
// the line. The SMTP layer's own line limit is the configurable knob; this
// bound only stops a caller that forgot to apply one.
const MaxMessageSize = 12288

// Client is the client half of one SASL exchange. A Client is used for one
// AUTH command and is not safe for concurrent use.
//
// The SMTP layer base64-encodes what it gets from Start and Next and decodes
// the server's 334 challenges before passing them to Next; mechanisms deal
// in raw bytes only.
type Client interface {
	// Name returns the mechanism name, e.g. "SCRAM-SHA-256".
	Name() string

	// Start returns the initial response. A nil slice means the mechanism
	// sends none (the AUTH command carries no argument and the client waits
	// for the first 334 challenge); an empty non-nil slice is an empty
	// initial response, sent as "=" (RFC 4954 4).
	Start() (initialResponse []byte, err error)

	// Next returns the response to the server's challenge. An error means
	// the exchange cannot go on: the SMTP layer then cancels it by sending
	// "*" (RFC 4954 4). Challenges the mechanism does not expect, or that
	// are longer than MaxMessageSize, are a *MalformedError.
	Next(challenge []byte) (response []byte, err error)
}

// Finisher is implemented by a [Client] whose mechanism requires
// something of the server before the server may report success: the SMTP
// layer calls Finish when the server answers 235, and fails the exchange
// when it returns an error. SCRAM-SHA-256 requires the server's valid
// signature (RFC 5802 5: the client "MUST verify" it), XOAUTH2 and
// OAUTHBEARER a success that does not follow the server's refusal of the
// token (RFC 7628 3.2.3). PLAIN, LOGIN and CRAM-MD5 authenticate the
// client only and do not implement it.
type Finisher interface {
	Finish() error
}

// ErrNoServerSignature is returned by the SCRAM-SHA-256 client's Finish
// when the server reported success without sending its signature (RFC
// 5802 5, RFC 7677): the server did not prove that it knows the user's
// keys.
var ErrNoServerSignature = errors.New("sasl: success reported without the server signature")

// ErrSuccessAfterFailure is returned by the OAuth clients' Finish when the
// server reported success after it had refused the token (RFC 7628 3.2.3).
var ErrSuccessAfterFailure = errors.New("sasl: success reported after the server refused the credentials")

// Server is the server half of one SASL exchange. A Server is used for one
// AUTH command and is not safe for concurrent use.
//
// The SMTP layer calls Next first with the decoded initial response of the
// AUTH command: nil when the command had none, an empty non-nil slice when
// it was "=" (RFC 4954 4). Each later call gets the client's decoded reply
// to the previous challenge. Next returns one of:
//
//   - (challenge, false, nil): send challenge in a 334 reply (an empty
//     challenge is "334 " followed by nothing) and call Next again with the
//     client's reply;
//   - (nil, true, nil): the client is authenticated (235 2.7.0);
//   - (nil, true, err): the exchange failed; see below.
//
// Errors, from the most specific:
//
//   - *MalformedError: the client's message breaks the mechanism's syntax,
//     or a mechanism without an initial response got one; reply 501 5.5.2
//     (RFC 4954 4).
//   - *AuthError whose Err is or wraps ErrAuthFailed: wrong credentials;
//     reply 535 5.7.8 (RFC 4954 6).
//   - *AuthError with any other Err: the backend failed (a lookup could not
//     be made); reply 454 4.7.0, temporary authentication failure (RFC 4954
//     6), and log Err without sending its text.
//
// A mechanism with "additional data with success" (SCRAM's server
// signature) returns it as a challenge with done false and ends the exchange
// when the client answers with an empty response: SMTP AUTH cannot carry
// data in the 235 reply (RFC 4422 4, RFC 4954 4).
//
// The callbacks of the constructors get the context passed to Next, so a
// backend lookup can honour the command's deadline.
type Server interface {
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, err error)
}

// ErrAuthFailed reports wrong credentials. Server callbacks return it, or an
// error wrapping it, when the user is unknown or the password, secret or
// token is wrong; any other error they return is a backend failure. The
// Server returns it inside an *AuthError, so test it with errors.Is.
var ErrAuthFailed = errors.New("sasl: authentication failed")

// ErrServerSignature is returned by the SCRAM-SHA-256 client when the
// server's final message does not prove that the server knows the user's
// keys (RFC 5802 3): the peer is not the server holding the credentials.
var ErrServerSignature = errors.New("sasl: server signature mismatch")

// ErrInvalidArgument is returned (wrapped, with a detail) by a Client's
// Start when its constructor arguments cannot be encoded by the mechanism,
// for example a PLAIN password containing NUL.
var ErrInvalidArgument = errors.New("sasl: invalid argument")

// MalformedError reports a message that does not follow the mechanism's
// syntax: from a client, seen by a Server (the SMTP layer replies 501 5.5.2),
// or from a server, seen by a Client.
type MalformedError struct {
	Mechanism string // mechanism name, e.g. "PLAIN"
	Reason    string // what is wrong, for logs
}

// Error implements error.
func (e *MalformedError) Error() string {
	return "sasl: " + e.Mechanism + ": malformed message: " + e.Reason
}

// AuthError reports that a well-formed exchange did not authenticate the
// client: the credentials were wrong (Err is or wraps ErrAuthFailed) or the
// backend failed (any other Err). The error of a callback is kept as Err.
type AuthError struct {
	Mechanism string // mechanism name, e.g. "PLAIN"
	Username  string // authentication identity the client sent; may be empty
	Err       error  // ErrAuthFailed (possibly wrapped) or a backend error
}

// Error implements error.
func (e *AuthError) Error() string {
	s := "sasl: " + e.Mechanism + ": authentication of " + strconv.Quote(e.Username) + " failed"
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err.
func (e *AuthError) Unwrap() error { return e.Err }

// Temporary reports whether the failure is a backend failure rather than
// wrong credentials (454 4.7.0 rather than 535 5.7.8, RFC 4954 6).
func (e *AuthError) Temporary() bool { return !errors.Is(e.Err, ErrAuthFailed) }

// Strength ranks a mechanism name (case-insensitive) for [Choose]: higher is
// preferred, 0 means not implemented by this package. SCRAM-SHA-256 never
// shows the password to the server and proves the server's identity;
// OAUTHBEARER and XOAUTH2 send a revocable, scoped token; CRAM-MD5 hides the
// password but lets the server store it in clear; PLAIN and LOGIN send the
// password itself, LOGIN being non-standard.
func Strength(name string) int {
	switch {
	case strings.EqualFold(name, ScramSHA256):
		return 60
	case strings.EqualFold(name, OAuthBearer):
		return 50
	case strings.EqualFold(name, XOAuth2):
		return 40
	case strings.EqualFold(name, CramMD5):
		return 30
	case strings.EqualFold(name, Plain):
		return 20
	case strings.EqualFold(name, Login):
		return 10
	}
	return 0
}

// PasswordMechanisms returns the mechanisms a client holding a user name and
// password can use, strongest first.
func PasswordMechanisms() []string {
	return []string{ScramSHA256, CramMD5, Plain, Login}
}

// TokenMechanisms returns the mechanisms a client holding an OAuth 2.0
// bearer token can use, strongest first.
func TokenMechanisms() []string {
	return []string{OAuthBearer, XOAuth2}
}

// Choose returns the strongest mechanism (by [Strength]) that is both in
// offered (the server's EHLO AUTH list) and in usable (what the client can
// do, e.g. [PasswordMechanisms] or [TokenMechanisms], possibly filtered by
// policy such as "no PLAIN without TLS"). Names compare case-insensitively
// (RFC 4422 3.1); the result is spelled as in usable. It returns "" when the
// two lists share no mechanism this package implements.
func Choose(offered, usable []string) string {
	best, bestStrength := "", 0
	for _, u := range usable {
		s := Strength(u)
		if s <= bestStrength {
			continue
		}
		for _, o := range offered {
			if strings.EqualFold(o, u) {
				best, bestStrength = u, s
				break
			}
		}
	}
	return best
}

// malformed is a shorthand for building a *MalformedError.
func malformed(mech, reason string) error {
	return &MalformedError{Mechanism: mech, Reason: reason}
}

// tooLong reports whether a message exceeds MaxMessageSize.
func tooLong(mech string, msg []byte) error {
	if len(msg) > MaxMessageSize {
		return malformed(mech, "message longer than "+strconv.Itoa(MaxMessageSize)+" octets")
	}
	return nil
}

// errAfterEnd is returned by a Server called again after it reported done,
// and by a Client given more challenges than its mechanism has.
func errAfterEnd(mech string) error {
	return malformed(mech, "message after the end of the exchange")
}

// argError wraps ErrInvalidArgument with a mechanism and a detail.
func argError(mech, detail string) error {
	return &argErr{mech: mech, detail: detail}
}

// argErr is the concrete error behind argError.
type argErr struct{ mech, detail string }

func (e *argErr) Error() string { return "sasl: " + e.mech + ": invalid argument: " + e.detail }
func (e *argErr) Unwrap() error { return ErrInvalidArgument }
