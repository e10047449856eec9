// Package dsn builds delivery status notifications ("bounces"): RFC 3464
// messages of type multipart/report (RFC 6522) with report-type
// delivery-status, sent by a relay to the reverse-path of a message it could
// not deliver.
//
// A notification has three parts: a text for humans, the machine-readable
// message/delivery-status fields (Reporting-MTA, then per recipient
// Final-Recipient, Action, Status, Remote-MTA, Diagnostic-Code), and the
// original message or its header section. It is sent with the null
// reverse-path <> so that it can never itself be bounced (RFC 5321 4.5.5,
// RFC 3464 2); ShouldNotify tells whether a failed message may be reported at
// all.
package dsn
