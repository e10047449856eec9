package envelope

import "testing"

func BenchmarkParseMailCommand(b *testing.B) {
	opts := ParseOptions{Allowed: AllParams}
	arg := "FROM:<john.doe@example.com> SIZE=123456 BODY=8BITMIME"
	b.ReportAllocs()
	b.SetBytes(int64(len(arg)))
	for b.Loop() {
		if _, _, err := ParseMailCommand(arg, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRcptCommand(b *testing.B) {
	opts := ParseOptions{Allowed: AllParams}
	arg := "TO:<jane.roe@example.org> NOTIFY=FAILURE,DELAY"
	b.ReportAllocs()
	b.SetBytes(int64(len(arg)))
	for b.Loop() {
		if _, _, err := ParseRcptCommand(arg, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMailCommand(b *testing.B) {
	from := Path{Address: Address{Local: "john.doe", Domain: "example.com"}}
	params := MailParams{Size: 123456, Body: Body8BitMIME}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMailCommand(buf[:0], from, params); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRcptCommand(b *testing.B) {
	to := Path{Address: Address{Local: "jane.roe", Domain: "example.org"}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendRcptCommand(buf[:0], to, RcptParams{}, false); err != nil {
			b.Fatal(err)
		}
	}
}
