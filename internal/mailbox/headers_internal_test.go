package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

func TestHeaderBlock(t *testing.T) {
	for _, c := range []struct{ msg, want string }{
		{"Subject: a\r\nFrom: b\r\n\r\nbody\r\n\r\nmore", "Subject: a\r\nFrom: b\r\n\r\n"},
		{"Subject: a\nX: b\n\tc\n\nbody\n", "Subject: a\nX: b\n\tc\n\n"},
		{"Subject: a\r\n\r\n", "Subject: a\r\n\r\n"},
		{"Subject: a\r\n", "Subject: a\r\n"}, // no end: all of it
		{"Subject: a", "Subject: a"},
		{"\r\nbody", "\r\n"},
		{"\nbody", "\n"},
		{"", ""},
	} {
		if got := string(headerBlock([]byte(c.msg))); got != c.want {
			t.Errorf("headerBlock(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}

// The cache keeps the most recently used entries within its budget and
// never one larger than the budget.
func TestHeaderCacheEvictsLeastRecentlyUsed(t *testing.T) {
	mb := &Mailbox{}
	entry := int64(100 + headerEntryOverhead)
	c := newHeaderCache(3 * entry)
	h := func(i int) []byte { return []byte(fmt.Sprintf("%099d\n", i)) }
	for i := 1; i <= 3; i++ {
		c.put(headerKey{mb, uint32(i)}, h(i))
	}
	c.get(headerKey{mb, 1}) // 1 is now the most recent: 2 goes first
	c.put(headerKey{mb, 4}, h(4))
	for i, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
		if _, ok := c.get(headerKey{mb, uint32(i)}); ok != want {
			t.Errorf("entry %d kept: %v, want %v", i, ok, want)
		}
	}
	if c.used != 3*entry || c.order.Len() != 3 || len(c.byKey) != 3 {
		t.Errorf("used %d in %d/%d entries", c.used, c.order.Len(), len(c.byKey))
	}
	c.put(headerKey{mb, 5}, make([]byte, 3*entry)) // larger than the budget
	if _, ok := c.get(headerKey{mb, 5}); ok || c.order.Len() != 3 {
		t.Error("an entry larger than the budget was kept")
	}
	other := &Mailbox{} // another mailbox, same UID: another entry
	if _, ok := c.get(headerKey{other, 1}); ok {
		t.Error("a UID of another mailbox hit")
	}
	c.put(headerKey{other, 1}, h(1))
	c.forget(mb) // mb deleted: only other's entry stays
	if c.order.Len() != 1 || len(c.byKey) != 1 || c.used != entry {
		t.Errorf("after forget: used %d in %d/%d entries", c.used, c.order.Len(), len(c.byKey))
	}
	if _, ok := c.get(headerKey{other, 1}); !ok {
		t.Error("forget dropped another mailbox's entry")
	}
	none := newHeaderCache(0)
	none.put(headerKey{mb, 1}, h(1))
	if _, ok := none.get(headerKey{mb, 1}); ok {
		t.Error("a cache of 0 bytes kept an entry")
	}
}

// bodyStore serves MailBody and counts the reads; the rest of Store is
// not used by Mailbox.Header.
type bodyStore struct {
	Store
	bodies map[uint32]string
	reads  int
}

func (s *bodyStore) MailBody(_ context.Context, _ int64, uid uint32) ([]byte, error) {
	s.reads++
	b, ok := s.bodies[uid]
	if !ok {
		return nil, ErrNoMailbox
	}
	return []byte(b), nil
}

// Header reads a message once while it stays in the cache, and returns
// its header block.
func TestMailboxHeaderReadsOnce(t *testing.T) {
	st := &bodyStore{bodies: map[uint32]string{7: "Subject: s\r\n\r\nbody\r\n"}}
	mb := &Mailbox{svc: &Service{store: st, headers: newHeaderCache(1 << 20)}}
	for range 3 {
		h, err := mb.Header(context.Background(), 7)
		if err != nil || string(h) != "Subject: s\r\n\r\n" {
			t.Fatalf("Header: %q, %v", h, err)
		}
	}
	if st.reads != 1 {
		t.Errorf("%d store reads, want 1", st.reads)
	}
	if got := mb.svc.HeaderCacheStats(); got.Hits != 2 || got.Misses != 1 || got.Entries != 1 ||
		got.Bytes != int64(len("Subject: s\r\n\r\n")+headerEntryOverhead) {
		t.Errorf("stats %+v", got)
	}
	if _, err := mb.Header(context.Background(), 8); err == nil {
		t.Error("Header of a missing message succeeded")
	}
}

// The header block serves every header item as the whole message does:
// whatever the bytes, ExtractBodySection gives the same header sections
// and ExtractEnvelope the same envelope from the block as from the
// message (Mailbox.Header's contract; the IMAP FETCH relies on it).
func FuzzHeaderBlock(f *testing.F) {
	for _, seed := range []string{
		"Subject: a\r\nFrom: b@example.com\r\n\r\nbody\r\n\r\nmore",
		"Subject: a\nX: b\n\tc\n\nbody\n",
		"Subject: a\r\n",
		"\r\nbody",
		"From: x\r\n\r\n",
		"Subject: =?utf-8?q?caf=C3=A9?=\r\nTo: a@b, c@d\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\n",
		"bad header line\r\n\r\nbody",
		"",
	} {
		f.Add([]byte(seed))
	}
	sections := []*imap.FetchItemBodySection{
		{Specifier: imap.PartSpecifierHeader},
		{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "From"}},
		{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"Subject"}},
		{Specifier: imap.PartSpecifierHeader, Partial: &imap.SectionPartial{Offset: 2, Size: 9}},
	}
	envelope := func(b []byte) string {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return "error"
		}
		return fmt.Sprintf("%+v", imapserver.ExtractEnvelope(h))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		block := headerBlock(msg)
		if !bytes.HasPrefix(msg, block) {
			t.Fatalf("block %q is not a prefix of %q", block, msg)
		}
		for _, bs := range sections {
			whole := imapserver.ExtractBodySection(bytes.NewReader(msg), bs)
			part := imapserver.ExtractBodySection(bytes.NewReader(block), bs)
			if !bytes.Equal(whole, part) {
				t.Fatalf("section %+v of %q: %q from the block, %q from the message", bs, msg, part, whole)
			}
		}
		if a, b := envelope(msg), envelope(block); a != b {
			t.Fatalf("envelope of %q: %s from the block, %s from the message", msg, b, a)
		}
	})
}
