package smtptest

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/smtpkit/smtp/envelope"
	"github.com/smtpkit/smtp/reply"
	"github.com/smtpkit/smtp/server"
)

// Message is a message the server received, to its end.
type Message struct {
	// ConnID is the id of the connection it came on (server.Conn.ID), the
	// one the protocol trace shows; messages of one connection share it.
	ConnID string
	// Hello is the name the client gave with HELO, EHLO or LHLO.
	Hello string
	// Identity is the user the client authenticated as, "" without AUTH.
	Identity string
	// TLS reports whether the connection was encrypted.
	TLS bool
	// Envelope holds the reverse-path and the MAIL parameters, and every
	// recipient the server accepted, with its RCPT parameters.
	Envelope envelope.Envelope
	// Command is "DATA" or "BDAT": how the message was sent.
	Command string
	// Data is the message as the backend read it: dot-unstuffed (DATA)
	// or the chunks joined (BDAT), with its CRLF line ends.
	Data []byte
	// Accepted reports whether the client was told the message was taken:
	// false when a fault refused it or cut the connection before the
	// reply. (In LMTP, a fault for one recipient leaves it true.)
	Accepted bool
}

// Messages returns the messages received so far, in the order their ends
// arrived. A message is recorded before the client gets the reply to it,
// so once a client has its reply the message is here.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitMessages waits until the server has received n messages and returns
// them all (possibly more than n), or ctx's error and those received so
// far. It is for clients that send in the background; a test that sends
// itself finds its message in Messages as soon as it has the reply.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs, changed := s.messages, s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return append([]Message(nil), msgs...), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return append([]Message(nil), msgs...), fmt.Errorf("smtptest: %d of %d messages received: %w", len(msgs), n, ctx.Err())
		}
	}
}

func (s *Server) record(m Message) {
	s.mu.Lock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// backend is the recording backend.
type backend struct{ s *Server }

func (b backend) NewSession(ctx context.Context, c *server.Conn) (server.Session, error) {
	b.s.mu.Lock()
	b.s.conns[c] = &connState{}
	b.s.mu.Unlock()
	if err := b.s.strike(ctx, c, cmdConnect, ""); err != nil {
		return nil, err
	}
	sess := &session{s: b.s, c: c}
	if len(b.s.users) > 0 {
		return &authSession{sess}, nil
	}
	return sess, nil
}

// session records the transaction of one connection.
type session struct {
	s   *Server
	c   *server.Conn
	env envelope.Envelope
}

func (ss *session) Mail(ctx context.Context, from envelope.Path, p envelope.MailParams) error {
	err := ss.s.strike(ctx, ss.c, "MAIL", "")
	if !refuses(err) {
		ss.env = envelope.Envelope{From: from, Mail: p}
	}
	return err
}

func (ss *session) Rcpt(ctx context.Context, to envelope.Path, p envelope.RcptParams) error {
	err := ss.s.strike(ctx, ss.c, "RCPT", to.Address.String())
	if !refuses(err) {
		ss.env.To = append(ss.env.To, envelope.Recipient{Path: to, Params: p})
	}
	return err
}

// refuses reports whether the backend's err refuses the command: anything
// but nil or a positive reply.
func refuses(err error) bool {
	r, ok := err.(*reply.Reply)
	return err != nil && !(ok && r.Code.IsPositive())
}

func (ss *session) Data(ctx context.Context, r io.Reader) error {
	_, err := ss.receive(ctx, r)
	return err
}

// LMTPData gives each recipient the reply of its fault, if any.
func (ss *session) LMTPData(ctx context.Context, r io.Reader) ([]error, error) {
	faults, err := ss.receive(ctx, r)
	if err != nil {
		return nil, err
	}
	perRcpt := make([]error, len(ss.env.To))
	for i, to := range ss.env.To {
		for _, f := range faults {
			if strings.EqualFold(f.Recipient, to.Address.String()) {
				perRcpt[i] = f.Reply
			}
		}
	}
	return perRcpt, nil
}

// receive reads and records the message, with the faults of its command
// applied. It returns the LMTP faults for single recipients, which apply
// after the message.
func (ss *session) receive(ctx context.Context, r io.Reader) ([]Fault, error) {
	cmd := "BDAT"
	ss.s.mu.Lock()
	if cs := ss.s.conns[ss.c]; cs != nil && cs.dataCmd {
		cmd, cs.dataCmd = "DATA", false
	}
	ss.s.mu.Unlock()
	all := ss.s.matching(cmd, "")
	var whole, perRcpt []Fault
	for _, f := range all {
		if f.Recipient != "" {
			perRcpt = append(perRcpt, f)
		} else {
			whole = append(whole, f)
		}
	}
	for _, f := range whole {
		if f.CutAfter > 0 {
			// Before the end of the data: read that much, then cut.
			io.CopyN(io.Discard, r, f.CutAfter)
			ss.s.cut(ss.c)
			return nil, errCut
		}
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err // the server answers the stream's own errors
	}
	m := Message{
		ConnID:   ss.c.ID(),
		Hello:    ss.c.Hello(),
		Identity: ss.c.Identity(),
		TLS:      ss.c.TLS() != nil,
		Envelope: ss.env,
		Command:  cmd,
		Data:     data,
		Accepted: true,
	}
	m.Envelope.To = append([]envelope.Recipient(nil), ss.env.To...)
	if len(whole) == 0 {
		ss.s.record(m)
		return perRcpt, nil
	}
	f := whole[0]
	m.Accepted = f.accepts()
	ss.s.record(m)
	return perRcpt, ss.s.act(ctx, ss.c, f)
}

func (ss *session) Reset(ctx context.Context) { ss.env = envelope.Envelope{} }

func (ss *session) Logout(ctx context.Context) error { return nil }

// authSession adds AUTH with the server's users.
type authSession struct{ *session }

// AuthPassword enables PLAIN and LOGIN. An authorization identity other
// than the user's own is refused.
func (a *authSession) AuthPassword(ctx context.Context, identity, username, password string) error {
	if p, ok := a.s.users[username]; ok && p == password && (identity == "" || identity == username) {
		return nil
	}
	return server.ErrAuthFailed
}

// AuthSecret enables CRAM-MD5.
func (a *authSession) AuthSecret(ctx context.Context, username string) (string, error) {
	if p, ok := a.s.users[username]; ok {
		return p, nil
	}
	return "", server.ErrAuthFailed
}

// AuthScram enables SCRAM-SHA-256.
func (a *authSession) AuthScram(ctx context.Context, username string) (server.ScramCredentials, error) {
	p, ok := a.s.users[username]
	if !ok {
		return server.ScramCredentials{}, server.ErrAuthFailed
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if cr, ok := a.s.scram[username]; ok {
		return cr, nil
	}
	cr, err := server.NewScramCredentials(p, nil, 0)
	if err != nil {
		return cr, err
	}
	if a.s.scram == nil {
		a.s.scram = make(map[string]server.ScramCredentials)
	}
	a.s.scram[username] = cr
	return cr, nil
}
