package webui

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/smtpkit/smtp/client"
	"github.com/smtpkit/smtp/envelope"
)

// Security modes of a release.
const (
	// SecurityOpportunistic is STARTTLS when offered (the default), with
	// the certificate unverified, except when a password is sent.
	SecurityOpportunistic = "opportunistic"
	SecurityNone          = "none"     // plain text
	SecurityStartTLS      = "starttls" // STARTTLS required (RFC 3207)
	SecurityTLS           = "tls"      // implicit TLS (RFC 8314)
)

// releaseRequest is the body of a release: where to send the message and
// how. From and To default to the message's envelope.
type releaseRequest struct {
	Server   string   `json:"server"`   // host:port
	Security string   `json:"security"` // one of the Security modes
	Insecure bool     `json:"insecure"` // do not verify the server's certificate
	Username string   `json:"username"` // AUTH with the strongest mechanism offered
	Password string   `json:"password"`
	From     *string  `json:"from"` // the reverse-path; "" for <>
	To       []string `json:"to"`
}

// releaseJSON is the outcome of a release.
type releaseJSON struct {
	Server     string          `json:"server"`
	TLS        string          `json:"tls,omitempty"` // the TLS version used, if any
	From       string          `json:"from"`
	Recipients []recipientJSON `json:"recipients"`
	// Reply is the server's reply to the end of the message.
	Reply string `json:"reply,omitempty"`
	// Error is the failure of the release as a whole (connection, TLS,
	// AUTH, MAIL, the message refused), "" when it went through.
	Error string `json:"error,omitempty"`
}

type recipientJSON struct {
	Address  string `json:"address"`
	OK       bool   `json:"ok"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced,omitempty"`
	Error    string `json:"error,omitempty"`
}

// parseAddr parses an address of the request; "" or "<>" is the null
// reverse-path.
func parseAddr(s string) (envelope.Path, error) {
	s = strings.Trim(strings.TrimSpace(s), "<>")
	if s == "" {
		return envelope.Path{Null: true}, nil
	}
	return envelope.ParsePath("<"+s+">", envelope.ParseOptions{SMTPUTF8: true})
}

// apiRelease sends a stored message to another SMTP server with our
// client: the message as received with mailsink's Received field on top
// (it did handle the message, RFC 5321 4.4), without the envelope lines.
func (u *ui) apiRelease(w http.ResponseWriter, r *http.Request) {
	var req releaseRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	if _, _, err := net.SplitHostPort(req.Server); err != nil {
		writeError(w, http.StatusBadRequest, "server: want host:port")
		return
	}
	switch req.Security {
	case "":
		req.Security = SecurityOpportunistic
	case SecurityOpportunistic, SecurityNone, SecurityStartTLS, SecurityTLS:
	default:
		writeError(w, http.StatusBadRequest, "security: want opportunistic, none, starttls or tls")
		return
	}
	m, ok := u.load(w, r.PathValue("id"))
	if !ok {
		return
	}
	from := m.Envelope.MailFrom
	if req.From != nil {
		from = *req.From
	}
	to := req.To
	if len(to) == 0 {
		to = m.Envelope.RcptTo
	}
	env := envelope.Envelope{}
	var err error
	if env.From, err = parseAddr(from); err != nil {
		writeError(w, http.StatusBadRequest, "from: "+err.Error())
		return
	}
	for _, a := range to {
		p, err := parseAddr(a)
		if err != nil || p.Null {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("to: %q is not an address", a))
			return
		}
		env.To = append(env.To, envelope.Recipient{Path: p})
	}
	if len(env.To) == 0 {
		writeError(w, http.StatusBadRequest, "to: no recipients")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ReleaseTimeout)
	defer cancel()
	res := u.release(ctx, req, env, m.Forward)
	res.Server, res.From = req.Server, from
	u.log.Info("message released", "id", m.ID, "server", req.Server, "err", res.Error)
	status := http.StatusOK
	if res.Error != "" && len(res.Recipients) == 0 {
		status = http.StatusBadGateway
	}
	writeJSON(w, status, res)
}

// release connects, secures, authenticates and sends.
func (u *ui) release(ctx context.Context, req releaseRequest, env envelope.Envelope, msg []byte) releaseJSON {
	res := releaseJSON{Recipients: []recipientJSON{}}
	host, _, _ := net.SplitHostPort(req.Server)
	opts := &client.Options{LocalName: u.localName, TLSConfig: &tls.Config{ServerName: host, InsecureSkipVerify: req.Insecure}}
	var c *client.Client
	var err error
	switch req.Security {
	case SecurityTLS:
		c, err = client.DialTLS(ctx, req.Server, opts)
	case SecurityStartTLS:
		c, err = client.DialStartTLS(ctx, req.Server, opts)
	default:
		c, err = client.Dial(ctx, req.Server, opts)
		if err == nil && req.Security == SecurityOpportunistic {
			if err = c.Hello(ctx, ""); err == nil && c.Extensions().StartTLS {
				// Opportunistic, as an MTA does it: encryption without
				// authentication of the server (RFC 7435), which stops
				// a passive listener only. With a password to send the
				// certificate must verify, as with "starttls", unless
				// insecure is asked for: a man in the middle would
				// answer STARTTLS with a certificate of his own.
				opts.TLSConfig.InsecureSkipVerify = req.Insecure || req.Username == ""
				err = c.StartTLS(ctx, opts.TLSConfig)
			}
		}
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		res.Error = err.Error()
		return res
	}
	defer c.Close()
	if st, ok := c.TLSConnectionState(); ok {
		res.TLS = tls.VersionName(st.Version)
	}
	if req.Username != "" {
		if err := c.AuthAuto(ctx, client.Credentials{Username: req.Username, Password: req.Password}); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	result, err := c.Send(ctx, env, bytes.NewReader(msg))
	if result != nil {
		for _, rr := range result.Recipients {
			rj := recipientJSON{Address: rr.Path.Address.String(), OK: rr.Err == nil, Code: int(rr.Code)}
			if rr.Enhanced.Class != 0 {
				rj.Enhanced = rr.Enhanced.String()
			}
			if rr.Err != nil {
				rj.Error = rr.Err.Error()
			}
			res.Recipients = append(res.Recipients, rj)
		}
		if result.Code != 0 {
			res.Reply = result.Text()
		}
	}
	var re *client.RecipientsError
	if err != nil && !errors.As(err, &re) {
		res.Error = err.Error()
	}
	if err == nil {
		c.Quit(ctx)
	}
	return res
}
