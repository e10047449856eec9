package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
)

// Help texts of the credential flags, the same in every program.
const (
	// VisibleInPS warns that a password on the command line is visible
	// to every local user (ps, /proc/PID/cmdline).
	VisibleInPS = "visible to every local user in ps: prefer -auth-file"
	// AuthHelp is the help of a server's -auth.
	AuthHelp = "`user:pass` (repeatable; " + VisibleInPS + ")"
	// AuthFileHelp says what -auth-file holds and which permissions it
	// needs.
	AuthFileHelp = "`file` of user:password lines, # comments (refused unless only its owner may access it: chmod 600)"
)

// MaxSecretFileSize bounds a file of credentials read into memory.
const MaxSecretFileSize = 1 << 20

// SecretFileMask holds the permission bits a file of secrets must not
// have: any access by group or others. Reading would give away the
// passwords (or the relay's DKIM keys); writing would let another user add
// a login of their own (or a key to sign with). ssh
// refuses a private key, and msmtp and fetchmail their configuration, on
// the same rule.
const SecretFileMask fs.FileMode = 0o077

// InsecureFileError reports a file of secrets that users other than its
// owner may access (Mode & SecretFileMask is not zero), or a file of
// access rules that they may write (Mode & PolicyFileMask).
type InsecureFileError struct {
	Path string
	Mode fs.FileMode
	// Mask holds the permission bits the file must not have.
	Mask fs.FileMode
}

// Error implements error.
func (e *InsecureFileError) Error() string {
	if e.Mask == PolicyFileMask {
		return fmt.Sprintf("%s: permissions %04o let group or others change who may do what; allow only its owner to write it (chmod go-w %s)",
			e.Path, e.Mode.Perm(), e.Path)
	}
	return fmt.Sprintf("%s: permissions %04o let group or others access a file of secrets (passwords, keys); allow only its owner (chmod 600 %s)",
		e.Path, e.Mode.Perm(), e.Path)
}

// ForeignFileError reports a file of secrets or access rules owned by a
// user other than the one the program runs as and other than root: its
// owner may change its mode and its content whatever they are now (add a
// login, grant itself a sender), so the permission bits say nothing. ssh
// takes its keys on the same rule.
type ForeignFileError struct {
	Path string
	UID  int // the file's owner
}

// Error implements error.
func (e *ForeignFileError) Error() string {
	return fmt.Sprintf("%s: owned by uid %d, who may change it; it must belong to uid %d (this program's user) or root",
		e.Path, e.UID, os.Geteuid())
}

// ReadSecretFile reads a file that holds secrets. It refuses the file when
// group or others have any permission on it (SecretFileMask; on Windows,
// where the mode bits say nothing of this, the check is skipped), when
// another user than this program's and root owns it (ForeignFileError;
// not checked on Windows either), and when it is larger than
// MaxSecretFileSize or not a regular file. The mode is
// checked on the open file, so that the file read is the file checked.
func ReadSecretFile(path string) ([]byte, error) {
	return readProtected(path, SecretFileMask)
}

// PolicyFileMask holds the permission bits a file of access rules (the
// relay's -senders) must not have: write access by group or others, which
// would let another user grant themselves rights. Reading it gives nothing
// away.
const PolicyFileMask fs.FileMode = 0o022

// ReadPolicyFile reads a file of access rules, refusing it when group or
// others may write it (PolicyFileMask) or another user owns it
// (ForeignFileError), as ReadSecretFile does.
func ReadPolicyFile(path string) ([]byte, error) {
	return readProtected(path, PolicyFileMask)
}

// readProtected reads path, a regular file of at most MaxSecretFileSize
// bytes with none of the permission bits of mask.
func readProtected(path string, mask fs.FileMode) ([]byte, error) {
	f, err := openNoBlock(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&mask != 0 {
		return nil, &InsecureFileError{Path: path, Mode: fi.Mode(), Mask: mask}
	}
	if uid, ok := FileOwner(fi); ok && !SelfOrRoot(uid) {
		return nil, &ForeignFileError{Path: path, UID: uid}
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSecretFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxSecretFileSize)
	}
	return b, nil
}

// credentialLines returns the user:password lines of a credentials file:
// every line but the blank ones and those starting with '#', without the
// line end (LF or CRLF) and otherwise as written (a password may hold
// spaces). Errors name the file and the line, never its content.
func credentialLines(path string, data []byte) ([][2]string, error) {
	var out [][2]string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, pass, ok := splitUserPass(line)
		if !ok {
			return nil, fmt.Errorf("%s:%d: want user:password", path, i+1)
		}
		out = append(out, [2]string{user, pass})
	}
	return out, nil
}

// splitUserPass splits "user:pass" at the first ':'; the password may
// contain ':', the user name may not be empty.
func splitUserPass(s string) (user, pass string, ok bool) {
	user, pass, ok = strings.Cut(s, ":")
	return user, pass, ok && user != ""
}

// ReadUsersFile reads a server's -auth-file: one user:password a line,
// blank lines and '#' comments ignored, each user once. The file must be
// accessible to its owner only (ReadSecretFile).
func ReadUsersFile(path string) (Users, error) {
	data, err := ReadSecretFile(path)
	if err != nil {
		return nil, err
	}
	lines, err := credentialLines(path, data)
	if err != nil {
		return nil, err
	}
	u := Users{}
	for _, l := range lines {
		if _, dup := u[l[0]]; dup {
			return nil, fmt.Errorf("%s: user %q given twice", path, l[0])
		}
		u[l[0]] = l[1]
	}
	return u, nil
}

// ErrNoUsers is returned by LoadUsers when a program that needs logins
// got none.
var ErrNoUsers = errors.New("no user: give -auth-file FILE (or -auth user:pass)")

// LoadUsers returns the users of the -auth values and of the -auth-file
// file ("" for none), together; a user given twice is an error.
func LoadUsers(auth []string, file string) (Users, error) {
	u, err := ParseUsers(auth)
	if err != nil {
		return nil, err
	}
	if file == "" {
		return u, nil
	}
	fu, err := ReadUsersFile(file)
	if err != nil {
		return nil, fmt.Errorf("-auth-file: %w", err)
	}
	for name, pass := range fu {
		if _, dup := u[name]; dup {
			return nil, fmt.Errorf("user %q is in both -auth and -auth-file", name)
		}
		u[name] = pass
	}
	return u, nil
}

// ReadCredential reads a client's -auth-file: exactly one user:password
// line (blank lines and '#' comments aside), in a file accessible to its
// owner only (ReadSecretFile).
func ReadCredential(path string) (user, pass string, err error) {
	data, err := ReadSecretFile(path)
	if err != nil {
		return "", "", err
	}
	lines, err := credentialLines(path, data)
	if err != nil {
		return "", "", err
	}
	if len(lines) != 1 {
		return "", "", fmt.Errorf("%s: want one user:password line, found %d", path, len(lines))
	}
	return lines[0][0], lines[0][1], nil
}

// SelfOrRoot reports whether uid is this program's effective user or
// root: the owners whose files (secrets, a queue, a program to run) no
// other local user can have put there.
func SelfOrRoot(uid int) bool { return uid == 0 || uid == os.Geteuid() }
