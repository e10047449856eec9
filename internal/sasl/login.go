package sasl

import (
	"bytes"
	"context"
	"unicode/utf8"
)

// The LOGIN prompts. draft-murchison-sasl-login 2 notes that deployed
// clients expect exactly these strings.
const (
	loginUsernamePrompt = "Username:"
	loginPasswordPrompt = "Password:"
)

// loginClient implements LOGIN for a client.
type loginClient struct {
	username, password string
	step               int
}

// NewLoginClient returns a LOGIN client (draft-murchison-sasl-login). It
// sends no initial response and answers the server's first prompt with the
// user name and the second with the password. LOGIN sends the password
// itself and is obsolete: prefer PLAIN, and use either only over TLS.
func NewLoginClient(username, password string) Client {
	return &loginClient{username: username, password: password}
}

func (c *loginClient) Name() string { return Login }

func (c *loginClient) Start() ([]byte, error) {
	if c.username == "" {
		return nil, argError(Login, "username is empty")
	}
	// draft-murchison-sasl-login 2: the client answers prompts; most
	// servers accept the user name as an initial response, but not all, so
	// send none.
	return nil, nil
}

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	if err := tooLong(Login, challenge); err != nil {
		return nil, err
	}
	c.step++
	switch c.step {
	case 1:
		// Some servers send "Password:" first when they took the user
		// name from elsewhere; follow the prompt when it says so.
		if isPasswordPrompt(challenge) {
			c.step = 2
			return []byte(c.password), nil
		}
		return []byte(c.username), nil
	case 2:
		return []byte(c.password), nil
	}
	return nil, errAfterEnd(Login)
}

// isPasswordPrompt reports whether a LOGIN challenge asks for the password.
func isPasswordPrompt(challenge []byte) bool {
	return bytes.Contains(bytes.ToLower(challenge), []byte("password"))
}

// loginServer implements LOGIN for a server.
type loginServer struct {
	check    func(ctx context.Context, username, password string) error
	username string
	step     int // 0: nothing yet, 1: asked the user name, 2: asked the password
	done     bool
}

// NewLoginServer returns a LOGIN server (draft-murchison-sasl-login). It
// prompts "Username:" then "Password:"; an initial response, which many
// clients send, is taken as the user name. check receives the user name and
// password (valid UTF-8 without NUL, user name non-empty); its errors mean
// what they mean for [NewPlainServer]. SASLprep is not applied.
func NewLoginServer(check func(ctx context.Context, username, password string) error) Server {
	return &loginServer{check: check}
}

func (s *loginServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errAfterEnd(Login)
	}
	switch s.step {
	case 0:
		if resp == nil {
			s.step = 1
			return []byte(loginUsernamePrompt), false, nil
		}
		// An initial response is the user name (RFC 4954 4 allows one;
		// deployed clients send "AUTH LOGIN <base64 user>").
		fallthrough
	case 1:
		u, err := loginField(resp, "user name")
		if err != nil {
			s.done = true
			return nil, true, err
		}
		if u == "" {
			s.done = true
			return nil, true, malformed(Login, "empty user name")
		}
		s.username = u
		s.step = 2
		return []byte(loginPasswordPrompt), false, nil
	}
	s.done = true
	p, err := loginField(resp, "password")
	if err != nil {
		return nil, true, err
	}
	if err := s.check(ctx, s.username, p); err != nil {
		return nil, true, &AuthError{Mechanism: Login, Username: s.username, Err: err}
	}
	return nil, true, nil
}

// loginField validates one LOGIN response.
func loginField(resp []byte, what string) (string, error) {
	if err := tooLong(Login, resp); err != nil {
		return "", err
	}
	if bytes.IndexByte(resp, 0) >= 0 {
		return "", malformed(Login, what+" contains NUL")
	}
	if !utf8.Valid(resp) {
		return "", malformed(Login, what+" is not valid UTF-8")
	}
	return string(resp), nil
}
