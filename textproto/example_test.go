package textproto_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpkit/smtp/textproto"
)

// A server reads command lines, splits and checks them, and keeps going
// after an over-long line.
func ExampleReader_ReadLine() {
	in := "EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n" +
		strings.Repeat("X", 600) + "\r\nQUIT\r\n"
	r := textproto.NewReader(strings.NewReader(in))
	for {
		line, err := r.ReadLine(textproto.MaxCommandLine, textproto.DefaultIntakePolicy())
		var tooLong *textproto.LineTooLongError
		switch {
		case errors.As(err, &tooLong):
			fmt.Println("500 line too long, limit", tooLong.Limit)
			continue
		case err != nil:
			fmt.Println("end:", err)
			return
		}
		if err := textproto.ValidateCommandLine(line, false); err != nil {
			fmt.Println("500", err)
			continue
		}
		verb, arg := textproto.SplitCommand(line)
		fmt.Printf("verb=%s arg=%q\n", verb, arg)
	}
	// Output:
	// verb=EHLO arg="client.example"
	// verb=MAIL arg="FROM:<a@example.com>"
	// 500 line too long, limit 512
	// verb=QUIT arg=""
	// end: EOF
}

// A server reads the message after DATA; a smuggled second message behind
// "\n.\n" is not taken as the end, and the message is refused once the
// real end has been read, so the next command is still in sync.
func ExampleReader_DotReader() {
	in := "Subject: hi\r\n\r\n..dot-stuffed\r\n.\r\nDATA\r\n" +
		"Subject: smuggling\r\n\n.\nMAIL FROM:<evil@example.com>\r\n.\r\nQUIT\r\n"
	r := textproto.NewReader(strings.NewReader(in))

	body, err := io.ReadAll(r.DotReader(textproto.DataLimits{MaxSize: 10 << 20}))
	fmt.Printf("%q %v\n", body, err)

	line, _ := r.ReadLine(0, textproto.Policy{})
	fmt.Printf("%s\n", line)

	_, err = io.ReadAll(r.DotReader(textproto.DataLimits{MaxSize: 10 << 20}))
	var v *textproto.ViolationError
	if errors.As(err, &v) {
		fmt.Println("550 refused:", v.Kind)
	}
	line, _ = r.ReadLine(0, textproto.Policy{})
	fmt.Printf("%s\n", line)
	// Output:
	// "Subject: hi\r\n\r\n.dot-stuffed\r\n" <nil>
	// DATA
	// 550 refused: fake end-of-data sequence
	// QUIT
}

// A client sends a message: dots are stuffed, LF line ends become CRLF,
// and Close writes the terminator and flushes.
func ExampleWriter_DotWriter() {
	var wire strings.Builder
	w := textproto.NewWriter(&wire)
	d := w.DotWriter(textproto.OutputPolicy())
	io.WriteString(d, "Subject: test\n\n.a line starting with a dot\nlast line")
	if err := d.Close(); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%q\n", wire.String())
	// Output:
	// "Subject: test\r\n\r\n..a line starting with a dot\r\nlast line\r\n.\r\n"
}

// A pipelining client queues its commands and flushes once (RFC 2920).
func ExampleWriter_WriteLine() {
	var wire strings.Builder
	w := textproto.NewWriter(&wire)
	w.WriteLine("MAIL FROM:<a@example.com>")
	w.WriteLine("RCPT TO:<b@example.com>")
	if err := w.WriteLine("RCPT TO:<c@example.com>\r\nDATA"); err != nil {
		fmt.Println("refused:", err)
	}
	fmt.Println("buffered:", w.Buffered())
	w.Flush()
	fmt.Printf("%q\n", wire.String())
	// Output:
	// refused: textproto: bare CR at offset 23
	// buffered: 52
	// "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
}

// A server reads BDAT chunks (RFC 3030), applying the line-end policy
// across chunk boundaries.
func ExampleBDATFilter() {
	in := "Subject: x\r" + "\n\nbody\n" + "QUIT\r\n"
	r := textproto.NewReader(strings.NewReader(in))
	var f textproto.BDATFilter
	f.Reset(textproto.DefaultIntakePolicy())

	var msg strings.Builder
	io.Copy(&msg, f.Chunk(r.ChunkReader(11), false)) // BDAT 11
	io.Copy(&msg, f.Chunk(r.ChunkReader(7), true))   // BDAT 7 LAST
	fmt.Printf("%q, bare LFs normalised: %d\n", msg.String(), f.Violations()[textproto.BareLF])

	line, _ := r.ReadLine(0, textproto.Policy{})
	fmt.Printf("%s\n", line)
	// Output:
	// "Subject: x\r\n\r\nbody\r\n", bare LFs normalised: 2
	// QUIT
}
