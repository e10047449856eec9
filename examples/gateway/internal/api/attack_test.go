package api

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestAttackAPIRequestAmplification: a caller with a token sends small
// JSON bodies that cost the gateway many times their size: 200,000 empty
// custom header fields (queued: a message of as many fields), 200,000
// empty attachments (built into an 28 MB message before the size check
// refused it) and 200,000 recipients (all parsed before the limit of
// 1000 refused them). Four such requests at once took gigabytes. The
// counts must be refused before the work: at most MaxHeaderFields
// fields, MaxAttachments attachments and MaxRecipients recipients, the
// request failing at the first one too many (400, naming the field), and
// the bytes allocated for a refused request must stay within a few times
// its body (encoding/json's own decoding: 12 to 28 bytes a byte here;
// 58, 124 and 65 before).
func TestAttackAPIRequestAmplification(t *testing.T) {
	f := newFixture(t, nil)
	const n = 200000
	list := func(item func(i int) string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(item(i))
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, body, field string
		maxAlloc          int // bytes allocated per byte of body
	}{
		{"headers", `{"from":"a@shop.test","to":"b@example.net","text":"x","headers":{` +
			list(func(i int) string { return fmt.Sprintf(`"X-%d":""`, i) }) + `}}`, "headers", 30},
		{"attachments", `{"from":"a@shop.test","to":"b@example.net","text":"x","attachments":[` +
			list(func(int) string { return `{"content":""}` }) + `]}`, "attachments", 45},
		{"recipients", `{"from":"a@shop.test","text":"x","to":[` +
			list(func(i int) string { return fmt.Sprintf(`"a%d@x.test"`, i) }) + `]}`, "to", 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := f.post(tc.body, nil)
			runtime.ReadMemStats(&after)
			var e errorBody
			r.decode(t, &e)
			if r.status != 400 || !strings.HasPrefix(e.Field, tc.field) {
				t.Errorf("%d %+v, want 400 naming %s", r.status, e, tc.field)
			}
			per := (after.TotalAlloc - before.TotalAlloc) / uint64(len(tc.body))
			t.Logf("%d bytes allocated per byte of body", per)
			if per > uint64(tc.maxAlloc) {
				t.Errorf("%d bytes allocated per byte of a %d-byte body, want at most %d",
					per, len(tc.body), tc.maxAlloc)
			}
		})
	}
	if msgs, _ := f.queued(); len(msgs) != 0 {
		t.Errorf("%d messages queued", len(msgs))
	}
}
