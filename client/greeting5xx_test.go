package client

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
)

// TestDeliverGreeting5xxDefers: an exchanger that greets with 5xx refuses
// the session, not the message (RFC 5321 3.1: it offers no SMTP service
// now). The recipients wait for a later attempt instead of being bounced,
// as Postfix does with smtp_skip_5xx_greeting: a misconfigured or
// overloaded receiver is fixed more often than a greeting means "never".
func TestDeliverGreeting5xxDefers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("554 5.3.2 mx1 not accepting mail\r\n"))
				line, _ := bufio.NewReader(c).ReadString('\n')
				if strings.HasPrefix(strings.ToUpper(line), "QUIT") {
					c.Write([]byte("221 2.0.0 bye\r\n"))
				}
			}()
		}
	}()
	res := &fakeResolver{
		mx:  map[string][]*net.MX{"dom.example": {{Host: "mx1.dom.example.", Pref: 10}}},
		ips: map[string][]string{"mx1.dom.example": {"10.0.0.1"}},
	}
	dialer := &mapDialer{routes: map[string]string{"10.0.0.1:25": ln.Addr().String()}}
	d := &Deliverer{Resolver: res, Options: &Options{Dialer: dialer}}
	msg := strings.NewReader("hi\r\n")
	out := d.Deliver(testCtx(t), env("s@src.example", "a@dom.example"), msg, msg.Size())
	if out[0].Delivered() || out[0].Permanent() || !out[0].Temporary() {
		t.Fatalf("outcome %+v: want deferred", out[0])
	}
	var e *Error
	if !errors.As(out[0].Err, &e) || e.Code/100 != 4 || !strings.Contains(e.Error(), "554") {
		t.Errorf("error %v: want a 4xx naming the server's 554", out[0].Err)
	}
}
