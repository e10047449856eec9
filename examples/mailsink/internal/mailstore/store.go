package mailstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/smtpkit/smtp/examples/internal/maildir"
	"github.com/smtpkit/smtp/examples/internal/mimeparse"
)

// Defaults of Options.
const (
	// DefaultIndexBytes is how much of each file is read and parsed for
	// the index: larger messages are listed from their first 4 MiB (their
	// header, the text before the big attachment) and marked Partial; the
	// message view reads the whole file.
	DefaultIndexBytes = 4 << 20
	// DefaultSearchBytes bounds the body text kept in memory for search,
	// per message.
	DefaultSearchBytes = 64 << 10
	// DefaultSyncInterval is how often, at most, a listing looks at the
	// Maildir's directories for changes made by other programs.
	DefaultSyncInterval = time.Second
	// snippetRunes is the length of a summary's snippet.
	snippetRunes = 140
)

// Options configures a Store; the zero value uses the defaults.
type Options struct {
	// MaxMessages keeps at most this many messages: past it the oldest
	// files are deleted. 0 means no limit.
	MaxMessages int
	// IndexBytes is DefaultIndexBytes when 0.
	IndexBytes int64
	// SearchBytes is DefaultSearchBytes when 0.
	SearchBytes int
	// SyncInterval is DefaultSyncInterval when 0; negative means every
	// listing syncs.
	SyncInterval time.Duration
	// Logger receives the files that could not be read; nil means
	// slog.Default().
	Logger *slog.Logger
}

// ErrNotFound is returned for an id that names no message.
var ErrNotFound = errors.New("mailstore: no such message")

// Summary is a message as the list shows it.
type Summary struct {
	ID          string              `json:"id"`
	From        mimeparse.Address   `json:"from"`
	To          []mimeparse.Address `json:"to"`
	Cc          []mimeparse.Address `json:"cc,omitempty"`
	Subject     string              `json:"subject"`
	Size        int64               `json:"size"` // the message as received, in bytes
	Received    time.Time           `json:"received"`
	Attachments int                 `json:"attachment_count"`
	MessageID   string              `json:"message_id"`
	Snippet     string              `json:"snippet"`
	MailFrom    string              `json:"mail_from"`
	RcptTo      []string            `json:"rcpt_to"`
	// Partial is set when the message is larger than Options.IndexBytes:
	// its attachments and text are counted and searched in that prefix
	// only.
	Partial bool `json:"partial,omitempty"`
}

// entry is a message of the index.
type entry struct {
	Summary
	path string // the file now: new/ID or cur/ID:2,flags
	seq  uint64 // order of insertion into the index
	// Lower-cased text that search matches.
	from, to, subject, body string
}

// Store is the index of a Maildir. It is safe for concurrent use.
type Store struct {
	root string
	opts Options
	log  *slog.Logger

	syncMu sync.Mutex // one Sync at a time
	mu     sync.Mutex
	byID   map[string]*entry
	sorted []*entry // oldest first: by Received, then ID
	seq    uint64   // the last entry's seq
	// removed counts the messages dropped from the index (deleted,
	// pruned, gone from the Maildir).
	removed uint64
	// changed is closed and replaced at every change, waking the waiters.
	changed  chan struct{}
	lastSync time.Time
	// scanned, if set, runs in Sync after the directories are read, and
	// in DeleteAll after it read them: a test seam.
	scanned func()
}

// Open indexes the Maildir at root (its new/ and cur/ directories).
func Open(root string, opts Options) (*Store, error) {
	if opts.IndexBytes <= 0 {
		opts.IndexBytes = DefaultIndexBytes
	}
	if opts.SearchBytes <= 0 {
		opts.SearchBytes = DefaultSearchBytes
	}
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	s := &Store{root: root, opts: opts, log: opts.Logger, byID: map[string]*entry{}, changed: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.Sync(); err != nil {
		return nil, err
	}
	return s, nil
}

// idOf returns the message id of a Maildir file name: the unique name,
// without the ":2,flags" a reader adds in cur/.
func idOf(name string) string {
	id, _, _ := strings.Cut(name, ":")
	return id
}

// validID reports whether id can name a file of the Maildir: ids come from
// URLs, and are only ever looked up in the index, but are checked anyway.
func validID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.ContainsAny(id, "/\\:\x00")
}

// receivedAt returns the delivery time a Maildir name starts with
// ("seconds.Mmicroseconds..."), or false.
func receivedAt(name string) (time.Time, bool) {
	secs, rest, ok := strings.Cut(name, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil {
		return time.Time{}, false
	}
	var usec int64
	if m, ok := strings.CutPrefix(rest, "M"); ok {
		end := strings.IndexFunc(m, func(r rune) bool { return r < '0' || r > '9' })
		if end > 0 {
			usec, _ = strconv.ParseInt(m[:end], 10, 64)
		}
	}
	return time.Unix(sec, usec*1000), true
}

// Sync brings the index in line with the Maildir's directories: files
// added by other programs are indexed, removed ones dropped, moved ones
// (new/ to cur/) followed.
func (s *Store) Sync() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// What Add indexes from here on may be missing from the directories
	// read below: only the entries indexed before are dropped when their
	// file is not found.
	s.mu.Lock()
	before := s.seq
	s.mu.Unlock()
	found := map[string]string{}
	for _, sub := range []string{maildir.NewDir, maildir.CurDir} {
		ents, err := os.ReadDir(filepath.Join(s.root, sub))
		if err != nil {
			return fmt.Errorf("mailstore: %w", err)
		}
		for _, e := range ents {
			if !isMessageFile(e) {
				continue
			}
			found[idOf(e.Name())] = filepath.Join(s.root, sub, e.Name())
		}
	}
	if s.scanned != nil {
		s.scanned()
	}
	s.mu.Lock()
	changed := false
	for id, e := range s.byID {
		path, ok := found[id]
		switch {
		case !ok && e.seq <= before:
			s.removeLocked(e)
			changed = true
		case ok && path != e.path:
			e.path = path
		}
		delete(found, id)
	}
	s.lastSync = time.Now()
	if changed {
		s.notifyLocked()
	}
	s.mu.Unlock()

	added := s.indexAll(found)
	s.mu.Lock()
	for _, e := range added {
		if _, dup := s.byID[e.ID]; dup {
			continue // delivered and added meanwhile
		}
		s.seq++
		e.seq = s.seq
		s.byID[e.ID] = e
		s.sorted = append(s.sorted, e)
	}
	if len(added) > 0 {
		slices.SortFunc(s.sorted, compareEntries)
		s.notifyLocked()
	}
	s.mu.Unlock()
	s.prune()
	return nil
}

// isMessageFile reports whether a directory entry of new/ or cur/ can be
// a message: a regular file (or a link, which readEntry checks) whose name
// does not start with a dot. A named pipe or device would block or never
// end the read.
func isMessageFile(e fs.DirEntry) bool {
	t := e.Type()
	return (t.IsRegular() || t&fs.ModeSymlink != 0) && !strings.HasPrefix(e.Name(), ".")
}

func compareEntries(a, b *entry) int {
	if c := a.Received.Compare(b.Received); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// indexAll reads and parses the files (id to path), on every CPU.
func (s *Store) indexAll(files map[string]string) []*entry {
	type job struct{ id, path string }
	jobs := make(chan job)
	var mu sync.Mutex
	var out []*entry
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(files), 1)) {
		wg.Go(func() {
			for j := range jobs {
				e, err := s.readEntry(j.id, j.path)
				if err != nil {
					if !errors.Is(err, os.ErrNotExist) {
						s.log.Warn("message not indexed", "file", j.path, "err", err)
					}
					continue
				}
				mu.Lock()
				out = append(out, e)
				mu.Unlock()
			}
		})
	}
	for id, path := range files {
		jobs <- job{id, path}
	}
	close(jobs)
	wg.Wait()
	return out
}

// indexParser parses for the index, which only counts attachments.
var indexParser = &mimeparse.Parser{SkipAttachmentData: true}

// readEntry reads the first IndexBytes of a file and makes its entry.
func (s *Store) readEntry(id, path string) (*entry, error) {
	// Checked before the open, which blocks on a named pipe.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("mailstore: %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(st.Size(), s.opts.IndexBytes))
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, err
	}
	env, _, msg, _ := split(buf)
	e := s.makeEntry(id, env, indexParser.Parse(msg))
	e.path = path
	e.Size = st.Size() - int64(len(buf)-len(msg))
	e.Partial = st.Size() > s.opts.IndexBytes
	if t, ok := receivedAt(id); ok {
		e.Received = t
	} else {
		e.Received = st.ModTime()
	}
	return e, nil
}

// Bounds of what the index keeps of a message's header fields, so that an
// entry, held in memory for as long as the message is in the Maildir and
// sent in every list and event, does not grow with the message. The
// message view (Get) reads them whole from the file.
const (
	// MaxSummaryAddresses bounds the To and Cc addresses of a summary.
	MaxSummaryAddresses = 100
	// MaxSummaryText bounds, in bytes, the subject, each name and address,
	// and the Message-ID of a summary: RFC 5322 2.1.1's line length.
	MaxSummaryText = 998
)

// makeEntry fills in what the list shows and search matches. Every text it
// keeps is a copy of at most its bound: a substring would keep the whole
// of the text it was cut from.
func (s *Store) makeEntry(id string, env Envelope, m *mimeparse.Message) *entry {
	e := &entry{Summary: Summary{
		ID:          id,
		Attachments: len(m.Attachments),
		MailFrom:    env.MailFrom,
		RcptTo:      env.RcptTo,
	}}
	e.setHeaderFields(m, MaxSummaryAddresses, MaxSummaryText)
	if e.RcptTo == nil {
		e.RcptTo = []string{}
	}
	text := m.Text
	if strings.TrimSpace(text) == "" && m.HTML != "" {
		text = htmlText(m.HTML)
	}
	e.Snippet = strings.Clone(snippet(text))
	var b strings.Builder
	for _, a := range m.From {
		b.WriteString(a.String() + " ")
	}
	e.from = strings.ToLower(clip(b.String(), s.opts.SearchBytes) + env.MailFrom)
	b.Reset()
	for _, as := range [][]mimeparse.Address{m.To, m.Cc} {
		for _, a := range as {
			b.WriteString(a.String() + " ")
		}
	}
	e.to = strings.ToLower(clip(b.String(), s.opts.SearchBytes) + strings.Join(env.RcptTo, " "))
	e.subject = strings.ToLower(clip(m.Subject, s.opts.SearchBytes))
	e.body = strings.ToLower(clip(text, s.opts.SearchBytes))
	return e
}

// setHeaderFields sets the summary's fields that come from the message's
// header: at most maxAddrs addresses a field, each text at most maxText
// bytes (negative: no limit).
func (sum *Summary) setHeaderFields(m *mimeparse.Message, maxAddrs, maxText int) {
	addrs := func(as []mimeparse.Address) []mimeparse.Address {
		if maxAddrs >= 0 && len(as) > maxAddrs {
			as = as[:maxAddrs]
		}
		out := make([]mimeparse.Address, len(as))
		for i, a := range as {
			out[i] = mimeparse.Address{Name: clip(a.Name, maxText), Address: clip(a.Address, maxText)}
		}
		return out
	}
	sum.Subject = clip(m.Subject, maxText)
	sum.MessageID = clip(m.MessageID, maxText)
	sum.From = mimeparse.Address{}
	if len(m.From) > 0 {
		sum.From = addrs(m.From[:1])[0]
	}
	sum.To = addrs(m.To)
	sum.Cc = nil
	if len(m.Cc) > 0 {
		sum.Cc = addrs(m.Cc)
	}
}

// clip returns a copy of s cut to at most n bytes at a character boundary
// (n negative: no limit).
func clip(s string, n int) string {
	if n < 0 || len(s) <= n {
		return strings.Clone(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

var spaceRE = regexp.MustCompile(`\s+`)

// snippet is the start of the text with its white space collapsed.
func snippet(text string) string {
	if max := 8 * snippetRunes; len(text) > max {
		// Enough for the snippet even if most of it is white space.
		text = text[:max]
	}
	s := strings.ToValidUTF8(strings.TrimSpace(spaceRE.ReplaceAllString(text, " ")), "")
	if r := []rune(s); len(r) > snippetRunes {
		s = string(r[:snippetRunes]) + "…"
	}
	return s
}

// Add indexes a file mailsink has just delivered (its path in new/), prunes
// the oldest messages past MaxMessages and wakes the waiters. It returns
// the message's summary.
func (s *Store) Add(path string) (Summary, error) {
	id := idOf(filepath.Base(path))
	e, err := s.readEntry(id, path)
	if err != nil {
		return Summary{}, err
	}
	s.mu.Lock()
	if old, dup := s.byID[id]; dup {
		s.mu.Unlock()
		return old.Summary, nil
	}
	s.seq++
	e.seq = s.seq
	s.byID[id] = e
	i, _ := slices.BinarySearchFunc(s.sorted, e, compareEntries)
	s.sorted = slices.Insert(s.sorted, i, e)
	s.notifyLocked()
	s.mu.Unlock()
	s.prune()
	return e.Summary, nil
}

// prune deletes the oldest messages past MaxMessages.
func (s *Store) prune() {
	if s.opts.MaxMessages <= 0 {
		return
	}
	s.mu.Lock()
	var old []*entry
	if n := len(s.sorted) - s.opts.MaxMessages; n > 0 {
		old = slices.Clone(s.sorted[:n])
		for _, e := range old {
			s.removeLocked(e)
		}
		s.notifyLocked()
	}
	s.mu.Unlock()
	for _, e := range old {
		if err := os.Remove(e.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("old message not deleted", "file", e.path, "err", err)
		}
	}
}

// removeLocked drops e from the index.
func (s *Store) removeLocked(e *entry) {
	s.removed++
	delete(s.byID, e.ID)
	if i, ok := slices.BinarySearchFunc(s.sorted, e, compareEntries); ok {
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
}

// notifyLocked wakes everyone waiting for a change.
func (s *Store) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// maybeSync syncs when the last sync is older than SyncInterval.
func (s *Store) maybeSync() {
	s.mu.Lock()
	due := s.opts.SyncInterval < 0 || time.Since(s.lastSync) >= s.opts.SyncInterval
	s.mu.Unlock()
	if due {
		if err := s.Sync(); err != nil {
			s.log.Warn("maildir not synced", "err", err)
		}
	}
}

// List returns the number of messages that match q and the page of them
// that starts at start (newest first), at most limit long.
func (s *Store) List(q Query, start, limit int) (total int, page []Summary) {
	s.maybeSync()
	s.mu.Lock()
	defer s.mu.Unlock()
	page = []Summary{}
	for i := len(s.sorted) - 1; i >= 0; i-- {
		e := s.sorted[i]
		if !q.match(e) {
			continue
		}
		if total >= start && len(page) < limit {
			page = append(page, e.Summary)
		}
		total++
	}
	return total, page
}

// Len returns the number of messages.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sorted)
}

// lookup returns the entry of id.
func (s *Store) lookup(id string) (*entry, bool) {
	if !validID(id) {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	return e, ok
}

// Get reads and parses the message id.
func (s *Store) Get(id string) (*Message, error) {
	for try := 0; ; try++ {
		e, ok := s.lookup(id)
		if !ok {
			return nil, ErrNotFound
		}
		b, err := os.ReadFile(e.path)
		if errors.Is(err, os.ErrNotExist) && try == 0 {
			// Moved by a reader, or deleted by another program.
			if err := s.Sync(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		env, trace, forward, raw, _ := splitFile(b)
		m := &Message{Summary: e.Summary, Envelope: env, Trace: trace, File: b, Raw: raw, Forward: forward, Parsed: mimeparse.Parse(raw)}
		// The index has the header fields cut to its bounds, and a large
		// message's attachments counted in its first IndexBytes: the
		// view has them all.
		m.setHeaderFields(m.Parsed, -1, -1)
		m.Attachments = len(m.Parsed.Attachments)
		if m.Envelope.RcptTo == nil {
			m.Envelope.RcptTo = []string{}
		}
		return m, nil
	}
}

// Delete deletes the message id.
func (s *Store) Delete(id string) error {
	e, ok := s.lookup(id)
	if !ok {
		return ErrNotFound
	}
	s.mu.Lock()
	if s.byID[id] != e {
		s.mu.Unlock()
		return ErrNotFound
	}
	s.removeLocked(e)
	s.notifyLocked()
	s.mu.Unlock()
	err := os.Remove(e.path)
	if errors.Is(err, os.ErrNotExist) {
		// Moved to cur/ by a reader meanwhile, under the same id; found
		// by name, not as a glob pattern: an id from another program may
		// hold "*" or "[".
		err = nil
		cur := filepath.Join(s.root, maildir.CurDir)
		ents, rerr := os.ReadDir(cur)
		if rerr != nil {
			return rerr
		}
		for _, de := range ents {
			if !de.IsDir() && idOf(de.Name()) == id {
				if rerr := os.Remove(filepath.Join(cur, de.Name())); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					err = rerr
				}
			}
		}
	}
	return err
}

// DeleteAll deletes every message and returns how many there were.
func (s *Store) DeleteAll() (int, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	before := s.seq // as in Sync: what Add indexes from here on stays
	s.mu.Unlock()
	n := 0
	var firstErr error
	gone := map[string]bool{} // the ids whose file was deleted
	for _, sub := range []string{maildir.NewDir, maildir.CurDir} {
		ents, err := os.ReadDir(filepath.Join(s.root, sub))
		if err != nil {
			return n, err
		}
		if sub == maildir.CurDir && s.scanned != nil {
			s.scanned()
		}
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if err := os.Remove(filepath.Join(s.root, sub, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			gone[idOf(e.Name())] = true
			n++
		}
	}
	s.mu.Lock()
	kept := s.sorted[:0]
	for _, e := range s.sorted {
		if e.seq > before && !gone[e.ID] {
			kept = append(kept, e)
			continue
		}
		delete(s.byID, e.ID)
		s.removed++
	}
	clear(s.sorted[len(kept):])
	s.sorted = kept
	s.notifyLocked()
	s.mu.Unlock()
	return n, firstErr
}

// Wait returns the newest message that matches q, received after the
// message since, waiting for one to arrive until ctx ends. A since no
// longer in the index (deleted meanwhile) is placed by the delivery time
// its Maildir name starts with; since "", or an id without that time,
// takes any message.
func (s *Store) Wait(ctx context.Context, q Query, since string) (Summary, error) {
	s.maybeSync()
	var after *entry // the entries up to it are too old
	if t, ok := receivedAt(since); ok {
		after = &entry{Summary: Summary{ID: since, Received: t}}
	}
	for {
		s.mu.Lock()
		if e, ok := s.byID[since]; ok {
			after = e // its own time, which may be the file's
		}
		for i := len(s.sorted) - 1; i >= 0; i-- {
			e := s.sorted[i]
			if after != nil && compareEntries(e, after) <= 0 {
				break
			}
			if q.match(e) {
				s.mu.Unlock()
				return e.Summary, nil
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Summary{}, ctx.Err()
		case <-ch:
		}
	}
}

// Changes returns a channel closed at the next change of the index and
// the number of messages dropped from it so far: a reader that compares
// it with the number it had learns of deletions even when they come with
// new messages (Add pruning the oldest past MaxMessages).
func (s *Store) Changes() (<-chan struct{}, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed, s.removed
}

// Since returns, oldest first, the messages indexed after the one with
// sequence number seq (0: none yet), and the sequence number of the last
// one indexed, to pass next time.
func (s *Store) Since(seq uint64) ([]Summary, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Summary
	for _, e := range s.sorted {
		if e.seq > seq {
			out = append(out, e.Summary)
		}
	}
	return out, s.seq
}
