package mailbox

import (
	"bytes"
	"container/list"
	"context"
	"sync"
)

// headerEntryOverhead is what an entry costs beside its bytes (the list
// element, the map slot, the key), counted against the cache's budget.
const headerEntryOverhead = 128

// headerCache keeps the header blocks of recently read messages, least
// recently used first out, within a budget of bytes. A message's bytes
// never change under its UID, and a UID is never reused in a mailbox, so
// an entry never goes stale (an expunged message's ages out). Entries are
// keyed by the *Mailbox: a mailbox deleted and another created with the
// same store ID never share one, and a deleted mailbox's are dropped
// (Service.Delete). Safe for concurrent use.
type headerCache struct {
	mu     sync.Mutex
	budget int64
	used   int64
	order  *list.List // of *headerEntry, most recently used first
	byKey  map[headerKey]*list.Element
	hits   int64
	misses int64
}

// HeaderCacheStats describes the header cache (Service.HeaderCacheStats).
type HeaderCacheStats struct {
	Hits, Misses int64 // Mailbox.Header calls served from it, and not
	Bytes        int64 // held now, entry overhead included
	Entries      int
}

type headerKey struct {
	mb  *Mailbox
	uid uint32
}

type headerEntry struct {
	key    headerKey
	header []byte
}

// newHeaderCache returns a cache of budget bytes; budget <= 0: a cache
// that keeps nothing.
func newHeaderCache(budget int64) *headerCache {
	return &headerCache{budget: budget, order: list.New(), byKey: map[headerKey]*list.Element{}}
}

func (c *headerCache) get(k headerKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(e)
	return e.Value.(*headerEntry).header, true
}

// put keeps header (not copied: the caller no longer changes it) unless
// it alone exceeds the budget.
func (c *headerCache) put(k headerKey, header []byte) {
	size := int64(len(header) + headerEntryOverhead)
	if size > c.budget {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; ok {
		return
	}
	c.byKey[k] = c.order.PushFront(&headerEntry{key: k, header: header})
	c.used += size
	for c.used > c.budget {
		last := c.order.Back()
		ent := last.Value.(*headerEntry)
		c.order.Remove(last)
		delete(c.byKey, ent.key)
		c.used -= int64(len(ent.header) + headerEntryOverhead)
	}
}

// forget drops every entry of mb (a deleted mailbox: its entries would
// keep its index in memory until they aged out).
func (c *headerCache) forget(mb *Mailbox) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil; {
		next := e.Next()
		if ent := e.Value.(*headerEntry); ent.key.mb == mb {
			c.order.Remove(e)
			delete(c.byKey, ent.key)
			c.used -= int64(len(ent.header) + headerEntryOverhead)
		}
		e = next
	}
}

func (c *headerCache) stats() HeaderCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return HeaderCacheStats{Hits: c.hits, Misses: c.misses, Bytes: c.used, Entries: c.order.Len()}
}

// HeaderCacheStats returns the header cache's counts (for metrics).
func (s *Service) HeaderCacheStats() HeaderCacheStats { return s.headers.stats() }

// Header returns a message's header block: its bytes up to and including
// the empty line that ends the header (all of them when there is none).
// It is what FETCH BODY[HEADER], BODY[HEADER.FIELDS …], ENVELOPE and the
// header search keys need, served from the service's header cache when
// the message was read recently. The result must not be modified.
func (mb *Mailbox) Header(ctx context.Context, uid uint32) ([]byte, error) {
	k := headerKey{mb, uid}
	if h, ok := mb.svc.headers.get(k); ok {
		return h, nil
	}
	body, err := mb.Body(ctx, uid)
	if err != nil {
		return nil, err
	}
	h := bytes.Clone(headerBlock(body))
	mb.svc.headers.put(k, h)
	return h, nil
}

// headerBlock returns the prefix of a message that is its header: up to
// and including the first empty line (CRLF CRLF, or LF LF in a message
// stored with bare line feeds), or all of msg when it has no body.
func headerBlock(msg []byte) []byte {
	if len(msg) >= 2 && msg[0] == '\r' && msg[1] == '\n' {
		return msg[:2] // no header fields at all
	}
	if len(msg) >= 1 && msg[0] == '\n' {
		return msg[:1]
	}
	for i := 0; i < len(msg); i++ {
		if msg[i] != '\n' {
			continue
		}
		// msg[i] ends a line; an empty line follows when the next
		// bytes are CRLF or LF.
		rest := msg[i+1:]
		if len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n' {
			return msg[:i+3]
		}
		if len(rest) >= 1 && rest[0] == '\n' {
			return msg[:i+2]
		}
	}
	return msg
}
