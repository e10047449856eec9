package sasl

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf8"
)

// plainClient implements PLAIN (RFC 4616) for a client.
type plainClient struct {
	identity, username, password string
	started                      bool
}

// NewPlainClient returns a PLAIN client (RFC 4616). identity is the
// authorization identity and is usually empty (act as username). PLAIN sends
// the password itself: use it only over TLS.
func NewPlainClient(identity, username, password string) Client {
	return &plainClient{identity: identity, username: username, password: password}
}

func (c *plainClient) Name() string { return Plain }

func (c *plainClient) Start() ([]byte, error) {
	c.started = true
	// RFC 4616 2: authcid and passwd are 1*SAFE, authzid is optional; SAFE
	// is any UTF-8 except NUL.
	if err := plainField("identity", c.identity, true); err != nil {
		return nil, err
	}
	if err := plainField("username", c.username, false); err != nil {
		return nil, err
	}
	if err := plainField("password", c.password, false); err != nil {
		return nil, err
	}
	// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
	msg := make([]byte, 0, len(c.identity)+len(c.username)+len(c.password)+2)
	msg = append(msg, c.identity...)
	msg = append(msg, 0)
	msg = append(msg, c.username...)
	msg = append(msg, 0)
	msg = append(msg, c.password...)
	return msg, nil
}

func (c *plainClient) Next(challenge []byte) ([]byte, error) {
	// RFC 4616 2: the exchange is the single client message; a server that
	// sends a challenge after it is broken.
	return nil, errAfterEnd(Plain)
}

// plainField checks one PLAIN field against RFC 4616 2.
func plainField(what, v string, optional bool) error {
	switch {
	case v == "" && !optional:
		return argError(Plain, what+" is empty")
	case strings.IndexByte(v, 0) >= 0:
		return argError(Plain, what+" contains NUL")
	case !utf8.ValidString(v):
		return argError(Plain, what+" is not valid UTF-8")
	}
	return nil
}

// plainServer implements PLAIN (RFC 4616) for a server.
type plainServer struct {
	check func(ctx context.Context, identity, username, password string) error
	steps int
	done  bool
}

// NewPlainServer returns a PLAIN server (RFC 4616). check receives the
// authorization identity (empty when the client sent none; RFC 4616 2 says
// the server then derives it from username), the authentication identity
// and the password, all valid UTF-8 without NUL and with username and
// password non-empty. It returns nil to accept, ErrAuthFailed (or an error
// wrapping it) for wrong credentials or an identity username may not act
// as, and any other error for a backend failure. Passwords are compared as
// given: SASLprep (RFC 4013) is not applied.
func NewPlainServer(check func(ctx context.Context, identity, username, password string) error) Server {
	return &plainServer{check: check}
}

func (s *plainServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errAfterEnd(Plain)
	}
	s.steps++
	if resp == nil && s.steps == 1 {
		// RFC 4954 4: no initial response; ask for it with an empty
		// challenge (RFC 4422 5).
		return []byte{}, false, nil
	}
	s.done = true
	if err := tooLong(Plain, resp); err != nil {
		return nil, true, err
	}
	identity, username, password, err := parsePlain(resp)
	if err != nil {
		return nil, true, err
	}
	if err := s.check(ctx, identity, username, password); err != nil {
		return nil, true, &AuthError{Mechanism: Plain, Username: username, Err: err}
	}
	return nil, true, nil
}

// parsePlain splits a PLAIN message (RFC 4616 2).
func parsePlain(msg []byte) (identity, username, password string, err error) {
	// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
	i := bytes.IndexByte(msg, 0)
	if i < 0 {
		return "", "", "", malformed(Plain, "missing NUL separator")
	}
	j := bytes.IndexByte(msg[i+1:], 0)
	if j < 0 {
		return "", "", "", malformed(Plain, "missing second NUL separator")
	}
	j += i + 1
	if bytes.IndexByte(msg[j+1:], 0) >= 0 {
		return "", "", "", malformed(Plain, "too many NUL separators")
	}
	// RFC 4616 2: authcid = 1*SAFE, passwd = 1*SAFE.
	if j == i+1 {
		return "", "", "", malformed(Plain, "empty username")
	}
	if j+1 == len(msg) {
		return "", "", "", malformed(Plain, "empty password")
	}
	// RFC 4616 2: the fields are UTF-8.
	if !utf8.Valid(msg) {
		return "", "", "", malformed(Plain, "not valid UTF-8")
	}
	return string(msg[:i]), string(msg[i+1 : j]), string(msg[j+1:]), nil
}
