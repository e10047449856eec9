package queue

import (
	"time"
)

// RcptState is the delivery state of one recipient.
type RcptState string

// Recipient states. Delivered and Failed are final.
const (
	Pending   RcptState = "pending"
	Delivered RcptState = "delivered"
	Failed    RcptState = "failed"
)

// Final reports whether no more attempts will be made for the recipient.
func (s RcptState) Final() bool { return s == Delivered || s == Failed }

// Recipient is one forward-path of a queued message and how far its delivery
// got.
type Recipient struct {
	Addr  string    `json:"addr"`
	State RcptState `json:"state"`
	// Notify is the RFC 3461 NOTIFY parameter as received ("" = absent,
	// meaning the default: failures are notified).
	Notify string `json:"notify,omitempty"`
	// ORcpt is the RFC 3461 ORCPT parameter as received, "type;xtext".
	ORcpt string `json:"orcpt,omitempty"`
	// Status is the last RFC 3463 enhanced status code, e.g. "5.1.1".
	Status string `json:"status,omitempty"`
	// Diagnostic is the last reply of the remote server, e.g.
	// "550 5.1.1 no such user", when RemoteMTA is set; else a local
	// explanation ("connection to mx.example.net failed: ...").
	Diagnostic string `json:"diagnostic,omitempty"`
	// RemoteMTA is the host that gave the last reply; empty when no
	// server replied.
	RemoteMTA string `json:"remote_mta,omitempty"`
	// Updated is when the state last changed.
	Updated time.Time `json:"updated,omitzero"`
	// Notified is set once a delivery status notification covering this
	// recipient's failure is queued.
	Notified bool `json:"notified,omitempty"`
}

// Message is the envelope and delivery state of a queued message: the
// content of its state file.
type Message struct {
	ID string `json:"id"`
	// From is the reverse-path without angle brackets; "" is the null
	// reverse-path <> of a bounce (RFC 5321 4.5.5), which is never bounced.
	From string `json:"from"`
	// Envelope parameters to pass on when relaying.
	SMTPUTF8 bool   `json:"smtputf8,omitempty"` // RFC 6531
	EightBit bool   `json:"8bitmime,omitempty"` // RFC 6152 BODY=8BITMIME
	EnvID    string `json:"envid,omitempty"`    // RFC 3461 ENVID (xtext-decoded)
	Ret      string `json:"ret,omitempty"`      // RFC 3461 RET: "FULL", "HDRS" or ""
	// RequireTLS is the REQUIRETLS parameter (RFC 8689 4): the message
	// goes on only over TLS with a verified certificate to a server that
	// offers REQUIRETLS, and its bounce returns nothing of it.
	RequireTLS bool `json:"requiretls,omitempty"`
	// Prefix is header fields sent before the data: the DKIM-Signature
	// fields made at intake, which can only be computed once the data is
	// written (RFC 6376 5: a signer adds its field at the top).
	Prefix string `json:"prefix,omitempty"`

	Recipients []Recipient `json:"recipients"`
	Size       int64       `json:"size"`
	Created    time.Time   `json:"created"`
	// Client describes who submitted the message (address, AUTH identity),
	// for logs and the listing.
	Client string `json:"client,omitempty"`

	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	// Bounces counts the delivery status notifications generated so far.
	Bounces int `json:"bounces,omitempty"`
	// Held is set by the operator (relay -hold): no attempt is made until
	// the message is released.
	Held bool `json:"held,omitempty"`
}

// Done reports whether the queue is finished with the message: every
// recipient is in a final state and every failure has been reported
// (Notified: its bounce is queued, or none is due). A failed recipient
// whose bounce could not be queued keeps the message in the queue until
// it is: RFC 5321 6.1, a message taken with 250 is delivered or its
// failure reported, never dropped.
func (m *Message) Done() bool {
	for _, r := range m.Recipients {
		if !r.State.Final() || (r.State == Failed && !r.Notified) {
			return false
		}
	}
	return true
}

// Pending returns the indexes of the recipients still to be delivered.
func (m *Message) Pending() []int {
	var idx []int
	for i, r := range m.Recipients {
		if !r.State.Final() {
			idx = append(idx, i)
		}
	}
	return idx
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	c := *m
	c.Recipients = append([]Recipient(nil), m.Recipients...)
	return &c
}
