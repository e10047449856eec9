package maildir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/smtpkit/smtp/examples/internal/maildir"
)

func Example() {
	root, _ := os.MkdirTemp("", "maildir")
	defer os.RemoveAll(root)
	d, err := maildir.Open(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	path, n, err := d.Deliver(strings.NewReader("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		// maildir.IsNoSpace(err): answer 452 4.3.1, the message is not stored.
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(filepath.Dir(path)), n)
	// Output: new 22
}
