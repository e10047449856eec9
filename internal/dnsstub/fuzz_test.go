package dnsstub

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzMatch: any bytes from the network, as an answer to a TLSA query,
// are parsed or refused without a panic, and Records never loops.
func FuzzMatch(f *testing.F) {
	q := dnsmessage.Question{Name: dnsmessage.MustNewName("_25._tcp.mx.example."), Type: TypeTLSA, Class: dnsmessage.ClassINET}
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 7, Response: true, AuthenticData: true},
		Questions: []dnsmessage.Question{q},
		Answers: []dnsmessage.Resource{
			{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeCNAME, Class: dnsmessage.ClassINET},
				Body: &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("_25._tcp.mx.example.")}},
			{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: TypeTLSA, Class: dnsmessage.ClassINET},
				Body: &dnsmessage.UnknownResource{Type: TypeTLSA, Data: []byte{3, 1, 1, 0xaa}}},
		},
	}
	b, _ := resp.Pack()
	f.Add(b)
	c := &Client{}
	query, _ := c.query(7, q)
	f.Add(query)
	f.Fuzz(func(t *testing.T, buf []byte) {
		msg, err := match(buf, 7, q)
		if err != nil {
			return
		}
		r := Response{RCode: msg.Header.RCode, Secure: msg.Header.AuthenticData, Answers: msg.Answers}
		r.Records("_25._tcp.mx.example", TypeTLSA)
	})
}
