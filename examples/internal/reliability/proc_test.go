package reliability

import (
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// proc is a running program: e2e.Proc's twin, with the child tied to the
// test binary's life (sysProcAttr), so that a panicking or timed-out test
// leaves no server running.
type proc struct {
	t      testing.TB
	name   string
	Cmd    *exec.Cmd
	Stdout e2e.Buffer
	Stderr e2e.Buffer
	done   chan struct{}
	err    error
}

// startProc runs bin with args in dir; the process is killed when the
// test ends, if it still runs.
func startProc(t testing.TB, dir, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: filepath.Base(bin), done: make(chan struct{})}
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
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", p.name, p.Stdout.String(), p.name, p.Stderr.String())
		}
	})
	return p
}

// Exited reports whether the process has ended.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits (up to 10 s, then SIGKILL) for the end; it
// returns the exit error (nil for status 0).
func (p *proc) Stop() error {
	if !p.Exited() {
		p.Cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s did not stop on SIGTERM", p.name)
		p.Kill()
	}
	return p.err
}

// Kill sends SIGKILL and waits for the end.
func (p *proc) Kill() {
	if !p.Exited() {
		p.Cmd.Process.Kill()
	}
	<-p.done
}

// WaitListen waits until addr accepts connections, failing the test after
// timeout or if the process exits first.
func (p *proc) WaitListen(addr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			p.t.Fatalf("%s exited (%v) before listening on %s:\n%s", p.name, p.err, addr, p.Stderr.String())
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not listening on %s after %v", p.name, addr, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
