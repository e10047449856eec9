package durable_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/smtpkit/smtp/examples/internal/durable"
)

func Example() {
	root, _ := os.MkdirTemp("", "durable")
	defer os.RemoveAll(root)
	os.Mkdir(filepath.Join(root, "tmp"), 0o700)
	os.Mkdir(filepath.Join(root, "new"), 0o700)

	var disk durable.Disk // the real file system
	w, err := disk.Create(filepath.Join(root, "tmp", "msg1"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := w.ReadFrom(strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		w.Abort()
		fmt.Println(err)
		return
	}
	if err := w.Commit(filepath.Join(root, "new", "msg1")); err != nil {
		// durable.IsNoSpace(err): answer 452 4.3.1, the message is not stored.
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(root, "new", "msg1"))
	fmt.Println(len(b), "bytes stored")
	// Output: 22 bytes stored
}
