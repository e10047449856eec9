// Package session holds the one table of SMTP session states and command
// transitions that both the server and the client follow (RFC 5321 4.1.4
// and 3.3, RFC 3030 2, RFC 3207 4.2, RFC 4954 4, RFC 2033 4.1).
//
// A Machine knows where a session stands: before HELO/EHLO (StateConnected),
// greeted (StateGreeted), inside a mail transaction (StateMail, StateRcpt),
// receiving message data (StateData), between BDAT chunks (StateBDAT) or
// closed after QUIT. The server asks Check whether a command is allowed and
// sends the reply it gets when it is not; the client asks the same question
// before it writes a command, and hands the reply back to its caller as the
// error. After the peer answered, Apply (success), Fail (refused),
// EndMessage (the message was answered) or ApplyBDAT moves the machine.
//
// The Machine only sequences commands. Whether a command is offered at all
// (VRFY disabled, no STARTTLS configured, AUTH required before MAIL, TLS
// required) is policy, decided by the server before or after Check.
package session
