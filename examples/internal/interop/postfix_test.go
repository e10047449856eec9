//go:build unix

package interop

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Domains of the private Postfix instance: mail to boxDomain is delivered
// by virtual(8) into one Maildir; mail to relayDomain and to senderDomain
// (where Postfix sends its delivery status notifications) goes by SMTP to
// our in-process server.
const (
	boxDomain    = "box.interop.test"
	relayDomain  = "relay.interop.test"
	senderDomain = "client.interop.test"
)

// postfix is a private Postfix instance (postfix -c DIR): its own
// configuration, queue, log file and loopback port, no chroot, so the
// system's instance (if any) is not touched.
type postfix struct {
	dir     string
	smtpd   string // the smtpd listener, host:port
	maildir string // where virtual(8) delivers mail for boxDomain
	logFile string
}

// needPostfix skips (or under CI fails) when no private Postfix can run.
func needPostfix(t testing.TB) {
	t.Helper()
	for _, p := range []string{"postfix", "postconf"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				needPeer(t, p+" is not installed")
			}
		}
	}
	if os.Geteuid() != 0 {
		needPeer(t, "a private Postfix instance needs root (its master process runs as root)")
	}
}

func postfixBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startPostfix configures and starts an instance whose SMTP client
// relays relayDomain and senderDomain to nextHop (host:port). It is
// stopped when the test ends.
func startPostfix(t testing.TB, nextHop string) *postfix {
	t.Helper()
	needPostfix(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		needPeer(t, "no user nobody for virtual(8): "+err.Error())
	}
	dir := t.TempDir()
	worldTraversable(t, dir)
	p := &postfix{
		dir:     dir,
		smtpd:   "127.0.0.1:" + freePort(t),
		maildir: filepath.Join(dir, "vmail", "Maildir"),
		logFile: filepath.Join(dir, "maillog"),
	}
	for _, d := range []string{"etc", "queue", "vmail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	if err := os.Chown(filepath.Join(dir, "vmail"), uid, gid); err != nil {
		t.Fatal(err)
	}
	hop := "smtp:[" + strings.Replace(nextHop, ":", "]:", 1)
	// One setting a line; see postconf(5). Relaying from 127.0.0.0/8 is
	// allowed by mynetworks; nothing is delivered locally.
	mainCF := []string{
		"compatibility_level = 3.6",
		"queue_directory = " + filepath.Join(dir, "queue"),
		"data_directory = " + filepath.Join(dir, "data"),
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"syslog_name = smtpkit-interop",
		"maillog_file = " + p.logFile,
		"maillog_file_prefixes = " + dir,
		"myhostname = pf.interop.test",
		"mydomain = interop.test",
		"myorigin = $myhostname",
		"mydestination =",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"alias_maps =",
		"alias_database =",
		"local_recipient_maps =",
		"local_transport = error:5.1.1 no local delivery in this test",
		"local_header_rewrite_clients =",
		"biff = no",
		"smtputf8_enable = yes",
		"message_size_limit = 52428800",
		"smtp_tls_security_level = none",
		"smtpd_tls_security_level = none",
		"relay_domains = " + relayDomain,
		"transport_maps = inline:{" + relayDomain + "=" + hop + ", " + senderDomain + "=" + hop + "}",
		"virtual_mailbox_domains = " + boxDomain,
		"virtual_mailbox_base = " + filepath.Join(dir, "vmail"),
		"virtual_mailbox_maps = static:Maildir/",
		"virtual_uid_maps = static:" + nobody.Uid,
		"virtual_gid_maps = static:" + nobody.Gid,
		"virtual_mailbox_limit = 0",
		// A failed test must not leave Postfix retrying for long.
		"maximal_queue_lifetime = 1m",
		"bounce_queue_lifetime = 1m",
	}
	// The services this instance needs, none chrooted.
	masterCF := []string{
		p.smtpd + " inet n - n - - smtpd",
		"pickup unix n - n 60 1 pickup",
		"cleanup unix n - n - 0 cleanup",
		"qmgr unix n - n 300 1 qmgr",
		"tlsmgr unix - - n 1000? 1 tlsmgr",
		"rewrite unix - - n - - trivial-rewrite",
		"bounce unix - - n - 0 bounce",
		"defer unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce",
		"verify unix - - n - 1 verify",
		"flush unix n - n 1000? 0 flush",
		"proxymap unix - - n - - proxymap",
		"proxywrite unix - - n - 1 proxymap",
		"smtp unix - - n - - smtp",
		"relay unix - - n - - smtp",
		"showq unix n - n - - showq",
		"error unix - - n - - error",
		"retry unix - - n - - error",
		"discard unix - - n - - discard",
		"virtual unix - n n - - virtual",
		"anvil unix - - n - 1 anvil",
		"scache unix - - n - 1 scache",
		"postlog unix-dgram n - n - 1 postlogd",
	}
	etc := filepath.Join(dir, "etc")
	for name, lines := range map[string][]string{"main.cf": mainCF, "master.cf": masterCF} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, postfixBin("postfix"), "-c", etc, "start")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.log())
		}
	})
	if err != nil {
		t.Fatalf("postfix start: %v\n%s\nlog:\n%s", err, out, p.log())
	}
	p.waitListen(t)
	return p
}

// masterPID returns the PID of the instance's master, 0 if unknown.
func (p *postfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.dir, "queue", "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func (p *postfix) waitListen(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(caseTimeout)
	for {
		c, err := net.DialTimeout("tcp", p.smtpd, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix smtpd not listening on %s: %v\nlog:\n%s", p.smtpd, err, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the master (which stops its children), by the PID in the
// instance's own queue directory, and kills it if it lingers.
func (p *postfix) stop(t testing.TB) {
	pid := p.masterPID()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, postfixBin("postfix"), "-c", filepath.Join(p.dir, "etc"), "stop")
	cmd.WaitDelay = time.Second
	_ = cmd.Run()
	if pid <= 0 {
		return
	}
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("postfix master %d did not stop; killing it", pid)
	syscall.Kill(pid, syscall.SIGKILL)
}

// log returns the instance's log so far.
func (p *postfix) log() string {
	b, _ := os.ReadFile(p.logFile)
	return string(b)
}

// waitLog waits until the log has a line matching re and returns the first
// such line's submatches.
func (p *postfix) waitLog(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(caseTimeout)
	for {
		for _, line := range strings.Split(p.log(), "\n") {
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix log has no line matching %s:\n%s", re, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// maildirMessage waits for one new message in the instance's Maildir,
// removes it and returns its bytes.
func (p *postfix) maildirMessage(t testing.TB) []byte {
	t.Helper()
	dir := filepath.Join(p.maildir, "new")
	deadline := time.Now().Add(caseTimeout)
	for {
		ents, _ := os.ReadDir(dir)
		if len(ents) > 0 {
			f := filepath.Join(dir, ents[0].Name())
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(f)
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing delivered into %s within %v\nlog:\n%s", dir, caseTimeout, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueID extracts Postfix's queue id from its reply to the end of the
// message ("250 2.0.0 Ok: queued as 4Xyz...").
func queueID(t testing.TB, text string) string {
	t.Helper()
	m := regexp.MustCompile(`queued as ([0-9A-Za-z]+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no queue id in Postfix's reply %q", text)
	}
	return m[1]
}

// stripTrace removes the leading header fields (with their continuation
// lines) whose names are in names, in any order, failing the test unless
// each of them was there; it returns the rest.
func stripTrace(t testing.TB, msg []byte, names ...string) []byte {
	t.Helper()
	known, missing := map[string]bool{}, map[string]bool{}
	for _, n := range names {
		known[strings.ToLower(n)], missing[strings.ToLower(n)] = true, true
	}
	for {
		name, _, ok := bytes.Cut(msg, []byte(":"))
		if !ok || !known[strings.ToLower(string(name))] {
			break
		}
		delete(missing, strings.ToLower(string(name)))
		i := 0
		for {
			j := bytes.IndexByte(msg[i:], '\n')
			if j < 0 {
				t.Fatalf("unterminated %s header", name)
			}
			i += j + 1
			if i >= len(msg) || (msg[i] != ' ' && msg[i] != '\t') {
				break
			}
		}
		msg = msg[i:]
	}
	if len(missing) > 0 {
		t.Fatalf("message lacks the trace fields %v:\n%.400s", missing, msg)
	}
	return msg
}

// crlf joins lines with CRLF, each ending in CRLF.
func crlf(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}
