package textproto

import "sync"

const (
	// smallBufSize is the inline buffer of a Reader or Writer: it holds any
	// command line (RFC 5321 4.5.3.1.4: 512 octets) with room for a few
	// pipelined ones (RFC 2920).
	smallBufSize = 1024
	// bigBufSize is the size of the pooled buffer used while DATA or BDAT
	// is in progress, or for lines longer than smallBufSize.
	bigBufSize = 32 << 10
	// maxEmptyReads is how many consecutive (0, nil) reads from the
	// underlying reader are tolerated before io.ErrNoProgress, as bufio
	// does; it keeps a broken io.Reader from spinning a Reader forever.
	maxEmptyReads = 100
	// scratchSize is the stack or inline buffer used to drain and filter
	// message data (DotReader.Discard, the BDAT filter): large enough to
	// amortise calls, small enough to stay out of the heap.
	scratchSize = 512
)

// bigPool holds spare bigBufSize buffers. It is not observable state: a
// buffer taken from it is always fully overwritten before use.
var bigPool = sync.Pool{New: func() any {
	b := make([]byte, bigBufSize)
	return &b
}}

// getBig returns a buffer of at least size bytes and, when it came from the
// pool, the pointer to give back with putBig.
func getBig(size int) ([]byte, *[]byte) {
	if size <= bigBufSize {
		p := bigPool.Get().(*[]byte)
		return *p, p
	}
	return make([]byte, size), nil
}

func putBig(p *[]byte) {
	if p != nil {
		bigPool.Put(p)
	}
}
