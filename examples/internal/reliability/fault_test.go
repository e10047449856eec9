package reliability

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpkit/smtp/examples/internal/e2e"
)

// TestDiskFull stores into a 1 MiB file system from several sessions at
// once until it is full: a message that does not fit gets 452 4.3.1 and
// is not stored, the session stays usable, every message that got 250 is
// there byte-exact, nothing is left in tmp/, and once space is freed
// messages are accepted again.
func TestDiskFull(t *testing.T) {
	fs := mountSmall(t, 1<<20)
	md := filepath.Join(fs, "md")
	s := startSink(t, "-quiet", "-maildir", md)

	const sessions = 4
	acked := map[string][]byte{}
	var mu sync.Mutex
	full := make([]int, sessions) // 452s per session
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			c, err := dial(s.Addr, "")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.ehlo("fill.test"); err != nil {
				errs <- err
				return
			}
			from, to := "fill"+itoa(i)+"@rel.test", []string{"x@rel.test"}
			// Send until the disk has refused three messages.
			for j := 0; full[i] < 3 && j < 100; j++ {
				id := "full." + itoa(i) + "." + itoa(j) + "@rel.test"
				body := message(id, uint64(i*1000+j), 20<<10+j*3000, false)
				code, text, err := func() (int, string, error) {
					if err := c.expect("MAIL FROM:<"+from+">", 250); err != nil {
						return 0, "", err
					}
					if err := c.expect("RCPT TO:<"+to[0]+">", 250); err != nil {
						return 0, "", err
					}
					if err := c.expect("DATA", 354); err != nil {
						return 0, "", err
					}
					c.w.Write(dotStuff(nil, body))
					if err := c.w.Flush(); err != nil {
						return 0, "", err
					}
					return c.readReply()
				}()
				switch {
				case err != nil:
					errs <- err
					return
				case code == 250:
					mu.Lock()
					acked[id] = stored(from, to, body)
					mu.Unlock()
				case code == 452 && strings.HasPrefix(text, "4.3.1"):
					full[i]++
					// The session is in sync after the refusal.
					if err := c.expect("RSET", 250); err != nil {
						errs <- err
						return
					}
				default:
					errs <- &replyError{"end of data", code, text}
					return
				}
			}
			if full[i] == 0 {
				errs <- errors.New("the disk never filled")
			}
			errs <- c.expect("QUIT", 221)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s.alive(t)
	// A message refused with 452 must not be there: unacked is empty.
	lost, dup, wrong := checkStored(t, md, acked, nil)
	t.Logf("disk full: %d messages stored before it filled, %d refused with 452 4.3.1 (per session %v); lost %d, stored twice %d, corrupted %d",
		len(acked), full[0]+full[1]+full[2]+full[3], full, lost, dup, wrong)

	// Free space: the next messages are accepted.
	files, _ := os.ReadDir(filepath.Join(md, "new"))
	for _, f := range files {
		os.Remove(filepath.Join(md, "new", f.Name()))
	}
	for i := range 3 {
		transaction(t, s.Addr, 5*time.Second, message("freed"+itoa(i)+"@rel.test", 9, 100<<10, false))
	}
	if n := countFiles(t, md, "new"); n != 3 {
		t.Errorf("%d files in new/ after freeing space, want 3", n)
	}
}

// cutStep is a point of a transaction where the client's connection ends.
type cutStep struct {
	name string
	// stored says what may be in the Maildir afterwards: "no" (the
	// message was not complete), "maybe" (complete, reply not read: at
	// most once), "yes" (got 250: exactly once).
	stored string
}

// The steps, in the order a transaction passes them.
var cutSteps = []cutStep{
	{"after greeting", "no"},
	{"mid EHLO", "no"},
	{"after EHLO", "no"},
	{"mid MAIL", "no"},
	{"after MAIL", "no"},
	{"after RCPT", "no"},
	{"after DATA", "no"},
	{"mid data", "no"},
	{"mid dot-stuffed line", "no"},
	{"before final dot", "no"},
	{"mid final dot", "no"},
	{"after final dot, before reply", "maybe"},
	{"after reply", "yes"},
	{"pipelined, before replies", "no"},
	{"pipelined with data, before replies", "maybe"},
	{"mid BDAT chunk", "no"},
	{"after BDAT chunk, before LAST", "no"},
	{"after BDAT LAST, before reply", "maybe"},
}

// cutSession runs one session that first sends a whole message (which
// must be stored once) and then a second one that stops at step; reset
// makes the end an RST instead of a FIN. It returns the two messages.
func cutSession(addr string, step string, reset bool, n int) (first, second []byte, err error) {
	c, err := dial(addr, "")
	if err != nil {
		return nil, nil, err
	}
	c.timeout = 10 * time.Second
	cut := func() error {
		if reset {
			c.nc.(*net.TCPConn).SetLinger(0)
		}
		return c.nc.Close()
	}
	defer cut()
	from, to := "cut"+itoa(n)+"@rel.test", []string{"rcpt" + itoa(n) + "@rel.test"}
	// The second message has a dot-stuffed line in its middle.
	// The ids name the step, so that a failure says where it was.
	slug := strings.NewReplacer(" ", "-", ",", "").Replace(step)
	if reset {
		slug += ".rst"
	} else {
		slug += ".fin"
	}
	id1, id2 := "cut."+itoa(n)+"."+slug+".1@rel.test", "cut."+itoa(n)+"."+slug+".2@rel.test"
	body1 := message(id1, uint64(n), 3000, false)
	body2 := message(id2, uint64(n)+1<<32, 3000, false)
	mid := len(body2) / 2
	for body2[mid] != '\n' {
		mid++
	}
	body2 = append(append(append([]byte(nil), body2[:mid+1]...), "..stuffed\r\n"...), body2[mid+1:]...)
	wire := dotStuff(nil, body2)
	stuffed := bytes.Index(wire, []byte("\r\n...stuffed")) + 2
	first, second = stored(from, to, body1), stored(from, to, body2)

	if step == "after greeting" {
		return nil, second, cut()
	}
	if step == "mid EHLO" {
		return nil, second, errors.Join(c.write("EHLO cu"), cut())
	}
	if err := c.ehlo("cut.test"); err != nil {
		return nil, nil, err
	}
	if step == "after EHLO" {
		return nil, second, cut()
	}
	if code, err := c.send("<"+from+">", to, body1); err != nil || code != 250 {
		return nil, nil, errors.Join(err, &replyError{"first message", code, ""})
	}
	mail, rcpt := "MAIL FROM:<"+from+">\r\n", "RCPT TO:<"+to[0]+">\r\n"
	steps := []struct {
		name  string
		write string
		reply int // the reply to read after write; 0: none
	}{
		{"mid MAIL", mail[:10], 0},
		{"after MAIL", mail[10:], 250},
		{"after RCPT", rcpt, 250},
		{"after DATA", "DATA\r\n", 354},
		{"mid data", string(wire[:len(wire)/3]), 0},
		{"mid dot-stuffed line", string(wire[len(wire)/3 : stuffed+2]), 0},
		{"before final dot", string(wire[stuffed+2 : len(wire)-3]), 0},
		{"mid final dot", ".\r", 0},
		{"after final dot, before reply", "\n", 0},
		{"after reply", "", 250},
	}
	switch {
	case strings.HasPrefix(step, "pipelined"):
		batch := mail + rcpt + "DATA\r\n"
		if step == "pipelined with data, before replies" {
			batch += string(wire)
		}
		return first, second, errors.Join(c.write(batch), cut())
	case strings.Contains(step, "BDAT"):
		half := len(body2) / 2
		if step == "mid BDAT chunk" {
			return first, second, errors.Join(c.write(mail+rcpt+"BDAT "+itoa(half)+"\r\n"+string(body2[:half/2])), cut())
		}
		if err := c.expect("MAIL FROM:<"+from+">", 250); err != nil {
			return nil, nil, err
		}
		if err := c.expect("RCPT TO:<"+to[0]+">", 250); err != nil {
			return nil, nil, err
		}
		if err := c.write("BDAT " + itoa(half) + "\r\n" + string(body2[:half])); err != nil {
			return nil, nil, err
		}
		if code, text, err := c.readReply(); err != nil || code != 250 {
			return nil, nil, errors.Join(err, &replyError{"BDAT", code, text})
		}
		if step == "after BDAT chunk, before LAST" {
			return first, second, cut()
		}
		return first, second, errors.Join(c.write("BDAT "+itoa(len(body2)-half)+" LAST\r\n"+string(body2[half:])), cut())
	}
	for _, s := range steps {
		if s.write != "" {
			if err := c.write(s.write); err != nil {
				return nil, nil, err
			}
		}
		if s.reply != 0 {
			code, text, err := c.readReply()
			if err != nil || code != s.reply {
				return nil, nil, errors.Join(err, &replyError{s.name, code, text})
			}
		}
		if s.name == step {
			return first, second, cut()
		}
	}
	return nil, nil, errors.New("no step " + step)
}

// TestConnectionCut cuts the client's connection (with a FIN, and with an
// RST) at every step of a transaction, after a first message that got
// 250, and checks afterwards that no message is stored twice, every
// acknowledged one is there, and none cut before its final dot is.
//
//	short: each step once per kind of cut; long: 20 times, at once
func TestConnectionCut(t *testing.T) {
	s := startSink(t, "-quiet")
	acked, maybe := map[string][]byte{}, map[string][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	copies := pick(1, 20)
	for i := range len(cutSteps) * copies {
		step := cutSteps[i%len(cutSteps)]
		for _, reset := range []bool{false, true} {
			n++
			k := n
			wg.Go(func() {
				first, second, err := cutSession(s.Addr, step.name, reset, k)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("%s (reset %v): %v", step.name, reset, err)
					return
				}
				if first != nil {
					acked[idOf(first)] = first
				}
				switch step.stored {
				case "yes":
					acked[idOf(second)] = second
				case "maybe":
					maybe[idOf(second)] = second
				}
			})
		}
	}
	wg.Wait()
	s.alive(t)
	transaction(t, s.Addr, 3*time.Second, message("after-cuts@rel.test", 5, 1000, false))
	// A graceful stop lets the server finish what it received: afterwards
	// the Maildir is final.
	if err := s.Stop(); err != nil {
		t.Errorf("mailsink exit after SIGTERM: %v", err)
	}
	acked["after-cuts@rel.test"] = stored("probe@rel.test", []string{"probe@rel.test"}, message("after-cuts@rel.test", 5, 1000, false))
	lost, dup, wrong := checkStored(t, s.Maildir, acked, maybe)
	files := scanMaildir(t, s.Maildir)
	var landed int
	for id := range maybe {
		landed += len(files[id])
	}
	t.Logf("connection cuts: %d sessions cut at %d steps (FIN and RST); %d acknowledged messages: lost %d, stored twice %d, corrupted %d; %d of %d cut after their final dot were stored",
		n, len(cutSteps), len(acked), lost, dup, wrong, landed, len(maybe))
}

// clientHello returns the first flight of a TLS client: its ClientHello.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		tc := tls.Client(b, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
		tc.Handshake()
		b.Close()
	}()
	buf := make([]byte, 64<<10)
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := a.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// TestTLSHandshakeFailures sends mailsink broken TLS after STARTTLS:
// garbage, plain text, half a ClientHello and then nothing, half a
// ClientHello and a close, a close after the ServerHello. Each is closed
// by the server (the silent one by the timeout), and other clients
// complete STARTTLS and a transaction meanwhile.
func TestTLSHandshakeFailures(t *testing.T) {
	dir := t.TempDir()
	cert, key := e2e.WriteCert(t, dir)
	timeout := 3 * time.Second
	s := startSink(t, "-quiet", "-tls-cert", cert, "-tls-key", key, "-command-timeout", timeout.String())
	hello := clientHello(t)
	rng := rand.New(rand.NewPCG(8, 8))
	garbage := make([]byte, 2000)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	bad := []struct {
		name  string
		send  []byte
		close bool // close right after send; else wait for the server to close
	}{
		{"garbage", garbage, false},
		{"garbage looking like a record", append([]byte{22, 3, 1, 0xff, 0xff}, garbage...), false},
		{"plain text", []byte("EHLO x\r\nMAIL FROM:<a@b>\r\n"), false},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false},
		{"half a ClientHello, then silence", hello[:len(hello)/2], false},
		{"half a ClientHello, then close", hello[:len(hello)/2], true},
		{"ClientHello, then close", hello, true},
		{"nothing", nil, false},
		{"close at once", nil, true},
	}
	copies := pick(5, 50)
	var wg sync.WaitGroup
	for _, b := range bad {
		for range copies {
			wg.Go(func() {
				c, err := dial(s.Addr, "")
				if err == nil {
					err = c.ehlo("bad-tls.test")
				}
				if err == nil {
					err = c.expect("STARTTLS", 220)
				}
				if err != nil {
					t.Errorf("%s: %v", b.name, err)
					return
				}
				defer c.Close()
				start := time.Now()
				c.nc.SetDeadline(start.Add(timeout + 5*time.Second))
				if len(b.send) > 0 {
					c.nc.Write(b.send)
				}
				if b.close {
					return
				}
				// The server answers with an alert at most, then closes.
				n, err := io.Copy(io.Discard, c.nc)
				if errors.Is(err, os.ErrDeadlineExceeded) || err != nil && !isReset(err) {
					t.Errorf("%s: not closed by the server after %v (%d bytes read): %v", b.name, time.Since(start).Round(time.Millisecond), n, err)
				}
			})
		}
	}
	// Meanwhile, good clients get through.
	var ok sync.WaitGroup
	for i := range 3 {
		ok.Go(func() {
			c, err := dial(s.Addr, "")
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.timeout = 3 * time.Second
			body := message("tls"+itoa(i)+"@rel.test", uint64(i), 2000, false)
			if err := c.ehlo("good.test"); err != nil {
				t.Error(err)
				return
			}
			if err := c.startTLS(); err != nil {
				t.Errorf("STARTTLS of a good client: %v", err)
				return
			}
			if err := c.ehlo("good.test"); err != nil {
				t.Error(err)
				return
			}
			code, err := c.send("<good@rel.test>", []string{"good@rel.test"}, body)
			if err != nil || code != 250 {
				t.Errorf("a good client over TLS: %d %v", code, err)
				return
			}
		})
	}
	ok.Wait()
	wg.Wait()
	s.alive(t)
	if n := countFiles(t, s.Maildir, "new"); n != 3 {
		t.Errorf("%d messages stored, want the 3 of the good clients", n)
	}
	t.Logf("TLS: %d broken handshakes of %d kinds; 3 good clients served meanwhile", len(bad)*copies, len(bad))
}
