// Package e2e helps the end-to-end tests of the example programs: it
// builds a program, runs it as a process on free loopback ports, waits for
// it to listen, and stops it by its process ID. On Linux every program it
// starts dies with the test binary.
package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/mimeparse"
	"github.com/smtpkit/smtp/internal/smtptest"
)

// Module is the import path prefix of the examples.
const Module = "github.com/smtpkit/smtp/examples/"

// Build compiles the example program name ("mailsink", "sendmail",
// "relay") into a temporary directory and returns the binary's path.
func Build(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, Module+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// ServeTCP accepts connections on a loopback port until the test ends and
// hands each to handle in its own goroutine (a hand-made peer: a hostile
// server, a watch on connections); it returns the address.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go handle(c)
		}
	}()
	return l.Addr().String()
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Proc is a running program.
type Proc struct {
	t      testing.TB
	Name   string
	Cmd    *exec.Cmd
	Stdout Buffer
	Stderr Buffer
	done   chan struct{}
	err    error
}

// Start runs bin with args in dir ("" = the test's directory). The process
// is killed when the test ends, if it still runs; on Linux it is also
// killed when the test binary dies (Pdeathsig), so that a test that panics
// or times out leaves no server running.
func Start(t testing.TB, dir, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, Name: filepath.Base(bin), done: make(chan struct{})}
	p.Cmd = exec.Command(bin, args...)
	p.Cmd.Dir = dir
	p.Cmd.Stdout = &p.Stdout
	p.Cmd.Stderr = &p.Stderr
	p.Cmd.SysProcAttr = sysProcAttr()
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", p.Name, p.Stdout.String(), p.Name, p.Stderr.String())
		}
	})
	return p
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits (up to 10 s, then SIGKILL) for the end; it
// returns the exit error (nil for status 0).
func (p *Proc) Stop() error {
	if !p.Exited() {
		p.Cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s did not stop on SIGTERM", p.Name)
		p.Kill()
	}
	return p.err
}

// Kill sends SIGKILL and waits for the end.
func (p *Proc) Kill() {
	if !p.Exited() {
		p.Cmd.Process.Kill()
	}
	<-p.done
}

// WaitListen waits until addr accepts connections, failing the test after
// timeout or if the process exits first.
func (p *Proc) WaitListen(addr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			p.t.Fatalf("%s exited (%v) before listening on %s:\n%s", p.Name, p.err, addr, p.Stderr.String())
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not listening on %s after %v", p.Name, addr, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs bin with args and stdin to its end (at most timeout) and returns
// its exit status, stdout and stderr. Like Start's, the process dies with
// the test binary on Linux.
func Run(t testing.TB, timeout time.Duration, stdin []byte, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.SysProcAttr = sysProcAttr()
	var out, errb Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), out.String(), errb.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, out.String(), errb.String()
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish in %v; stderr:\n%s", filepath.Base(bin), args, timeout, errb.String())
		return -1, "", ""
	}
}

// WriteCert writes a fresh self-signed certificate for localhost and
// 127.0.0.1 and its key as PEM files into dir.
func WriteCert(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCertPair(t, certFile, keyFile, smtptest.MustCertificate(t))
	return certFile, keyFile
}

// writeCertPair writes c's chain (leaf first) and its PKCS#8 key as PEM
// files, mode 600.
func writeCertPair(t testing.TB, certFile, keyFile string, c *smtptest.Certificate) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(c.TLS.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, der := range c.TLS.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(certFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Maildir returns the files in dir/new, waiting up to timeout for at least
// n of them.
func Maildir(t testing.TB, dir string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ents, _ := os.ReadDir(filepath.Join(dir, "new"))
		if len(ents) >= n || time.Now().After(deadline) {
			var files []string
			for _, e := range ents {
				files = append(files, filepath.Join(dir, "new", e.Name()))
			}
			return files
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stored is a message as mailsink stores it.
type Stored struct {
	From string   // Return-Path without brackets
	To   []string // X-Envelope-To
	// Received is mailsink's own Received field (RFC 5321 4.4), which the
	// contract allows after the envelope lines, unfolded; "" if none.
	Received string
	Body     []byte // the message as received: after the envelope lines and Received
}

// ReadStored reads and splits a file stored by mailsink.
func ReadStored(t testing.TB, path string) Stored {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s Stored
	line1, rest, ok1 := bytes.Cut(b, []byte("\r\n"))
	line2, rest, ok2 := bytes.Cut(rest, []byte("\r\n"))
	from, okF := strings.CutPrefix(string(line1), "Return-Path: <")
	to, okT := strings.CutPrefix(string(line2), "X-Envelope-To: ")
	if !ok1 || !ok2 || !okF || !okT || !strings.HasSuffix(from, ">") {
		t.Fatalf("%s does not start with the envelope lines: %q", path, b[:min(len(b), 120)])
	}
	s.From = strings.TrimSuffix(from, ">")
	for a := range strings.SplitSeq(to, ", ") {
		s.To = append(s.To, a)
	}
	s.Body = rest
	if rec, body, ok := cutReceived(rest); ok {
		s.Received, s.Body = rec, body
	}
	return s
}

// cutReceived splits mailsink's own Received field (it names itself
// "(mailsink)") off the start of b: its value unfolded, and what follows.
func cutReceived(b []byte) (received string, rest []byte, ok bool) {
	v, rest, ok := mimeparse.CutField(b, "Received")
	if !ok || !strings.Contains(v, " (mailsink) ") {
		return "", b, false
	}
	return v, rest, true
}

// WithoutReceived returns a file stored by mailsink without its Received
// field, which the contract allows after the two envelope lines: the
// envelope lines and the message as received.
func WithoutReceived(file []byte) []byte {
	i := bytes.Index(file, []byte("\r\n"))
	if i < 0 {
		return file
	}
	j := bytes.Index(file[i+2:], []byte("\r\n"))
	if j < 0 {
		return file
	}
	head := i + 2 + j + 2
	if _, rest, ok := cutReceived(file[head:]); ok {
		return append(file[:head:head], rest...)
	}
	return file
}

// RunWithPrograms is a TestMain's body for tests that run example
// programs: it builds them (names are the keys of bins) into a temporary
// directory, sets each *bins[name] to its binary, runs the tests and
// removes the binaries. It returns the exit code for os.Exit.
func RunWithPrograms(m *testing.M, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", "e2e-programs")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	var names []string
	for name := range bins {
		names = append(names, name)
	}
	built, err := BuildIn(dir, names...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for name, p := range bins {
		*p = built[name]
	}
	return m.Run()
}

// BuildIn compiles the example programs names into dir with one go build
// (the builds share its parallelism), for a TestMain that builds once for
// all the tests of a package. It returns the binaries' paths by name.
func BuildIn(dir string, names ...string) (map[string]string, error) {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	bins := map[string]string{}
	for _, n := range names {
		args = append(args, Module+n)
		bins[n] = filepath.Join(dir, n)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return nil, errors.New("go build: " + err.Error() + "\n" + string(out))
	}
	return bins, nil
}

// WriteFile writes data into dir/name with exactly the permissions mode
// (whatever the umask) and returns the path.
func WriteFile(t testing.TB, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// CheckPrivate fails the test for every file or directory under root
// (root included) that group or others may access, and returns how many
// regular files it checked. A program still running moves its queue files
// between directories (active to deferred, then removed); when one vanishes
// between the directory read and its stat, the walk starts over, up to
// checkPrivateWalks times, so the answer is one consistent view.
func CheckPrivate(t testing.TB, root string) (files int) {
	t.Helper()
	for walk := 1; ; walk++ {
		var bad []string
		files = 0
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			if fi.Mode().Perm()&0o077 != 0 {
				bad = append(bad, fmt.Sprintf("%s: mode %04o lets group or others in", p, fi.Mode().Perm()))
			}
			if fi.Mode().IsRegular() {
				files++
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) && walk < checkPrivateWalks {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Error(b)
		}
		return files
	}
}

// checkPrivateWalks bounds CheckPrivate's fresh starts.
const checkPrivateWalks = 20

// NoWebUI returns mailsink's args with its web UI turned off (-http ""),
// unless args set -http themselves: the default, 127.0.0.1:8025, is one
// port for every test running at once and for a developer's own mailsink.
func NoWebUI(args []string) []string {
	for _, a := range args {
		if a == "-http" || a == "--http" || strings.HasPrefix(a, "-http=") || strings.HasPrefix(a, "--http=") {
			return args
		}
	}
	return append([]string{"-http", ""}, args...)
}
