package sasl

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// cramDigestLen is the length of the hex HMAC-MD5 digest (RFC 2195 2).
const cramDigestLen = 2 * md5.Size

// cramClient implements CRAM-MD5 (RFC 2195) for a client.
type cramClient struct {
	username, secret string
	step             int
}

// NewCramMD5Client returns a CRAM-MD5 client (RFC 2195). secret is the
// shared secret, usually the password. CRAM-MD5 does not send the secret,
// but it authenticates only the client and needs the server to keep the
// secret in clear; prefer SCRAM-SHA-256.
func NewCramMD5Client(username, secret string) Client {
	return &cramClient{username: username, secret: secret}
}

func (c *cramClient) Name() string { return CramMD5 }

func (c *cramClient) Start() ([]byte, error) {
	if c.username == "" {
		return nil, argError(CramMD5, "username is empty")
	}
	// RFC 2195 2: the server speaks first; no initial response.
	return nil, nil
}

func (c *cramClient) Next(challenge []byte) ([]byte, error) {
	if err := tooLong(CramMD5, challenge); err != nil {
		return nil, err
	}
	c.step++
	if c.step > 1 {
		return nil, errAfterEnd(CramMD5)
	}
	if len(challenge) == 0 {
		return nil, malformed(CramMD5, "empty challenge")
	}
	return cramResponse(c.username, c.secret, challenge), nil
}

// cramResponse builds the client's reply: RFC 2195 2: the user name, a
// space, and the HMAC-MD5 of the challenge keyed by the secret, as 32
// lowercase hex digits.
func cramResponse(username, secret string, challenge []byte) []byte {
	m := hmac.New(md5.New, []byte(secret))
	m.Write(challenge)
	var sum [md5.Size]byte
	out := make([]byte, 0, len(username)+1+cramDigestLen)
	out = append(out, username...)
	out = append(out, ' ')
	return hex.AppendEncode(out, m.Sum(sum[:0]))
}

// cramServer implements CRAM-MD5 (RFC 2195) for a server.
type cramServer struct {
	hostname  string
	lookup    func(ctx context.Context, username string) (string, error)
	newChal   func() string // makes the challenge; replaced by tests
	challenge []byte
	step      int
	done      bool
}

// NewCramMD5Server returns a CRAM-MD5 server (RFC 2195). Its challenge has
// the form "<random.time@hostname>" (RFC 2195 2 asks for a globally unique
// msg-id). lookup returns the user's shared secret; it returns
// ErrAuthFailed (or an error wrapping it) for an unknown user and any other
// error for a backend failure. The client's digest is compared in constant
// time; a wrong digest is ErrAuthFailed.
func NewCramMD5Server(hostname string, lookup func(ctx context.Context, username string) (secret string, err error)) Server {
	s := &cramServer{hostname: hostname, lookup: lookup}
	s.newChal = s.makeChallenge
	return s
}

// makeChallenge returns a fresh "<random.time@hostname>" string.
func (s *cramServer) makeChallenge() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	host := s.hostname
	if host == "" {
		host = "localhost"
	}
	c := make([]byte, 0, 48+len(host))
	c = append(c, '<')
	c = strconv.AppendUint(c, binary.BigEndian.Uint64(b[:]), 10)
	c = append(c, '.')
	c = strconv.AppendInt(c, time.Now().Unix(), 10)
	c = append(c, '@')
	c = append(c, host...)
	c = append(c, '>')
	return string(c)
}

func (s *cramServer) Next(ctx context.Context, resp []byte) ([]byte, bool, error) {
	if s.done {
		return nil, true, errAfterEnd(CramMD5)
	}
	s.step++
	if s.step == 1 {
		if resp != nil {
			// RFC 4954 4: an initial response to a mechanism where
			// the server speaks first is rejected with 501.
			s.done = true
			return nil, true, malformed(CramMD5, "initial response not allowed")
		}
		s.challenge = []byte(s.newChal())
		return s.challenge, false, nil
	}
	s.done = true
	if err := tooLong(CramMD5, resp); err != nil {
		return nil, true, err
	}
	// RFC 2195 2: user name, SP, 32 lowercase hex digits. The user name
	// may itself contain spaces, so split at the last one.
	sp := bytes.LastIndexByte(resp, ' ')
	if sp <= 0 {
		return nil, true, malformed(CramMD5, "missing user name or digest")
	}
	user, digestHex := resp[:sp], resp[sp+1:]
	if len(digestHex) != cramDigestLen {
		return nil, true, malformed(CramMD5, "digest is not 32 hex digits")
	}
	var got [md5.Size]byte
	if _, err := hex.Decode(got[:], digestHex); err != nil {
		return nil, true, malformed(CramMD5, "digest is not hex")
	}
	if bytes.IndexByte(user, 0) >= 0 || !utf8.Valid(user) {
		return nil, true, malformed(CramMD5, "user name is not valid UTF-8 text")
	}
	username := string(user)
	secret, err := s.lookup(ctx, username)
	if err != nil && !errors.Is(err, ErrAuthFailed) {
		return nil, true, &AuthError{Mechanism: CramMD5, Username: username, Err: err}
	}
	// An unknown user (err is ErrAuthFailed) costs the same digest as a
	// known one and fails the same way, so that neither the answer nor
	// its timing tells whether the user exists.
	m := hmac.New(md5.New, []byte(secret))
	m.Write(s.challenge)
	var want [md5.Size]byte
	if ok := hmac.Equal(m.Sum(want[:0]), got[:]); !ok || err != nil {
		if err == nil {
			err = ErrAuthFailed
		}
		return nil, true, &AuthError{Mechanism: CramMD5, Username: username, Err: err}
	}
	return nil, true, nil
}
