package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a prepared-statement cache; statements beyond it
// (none today: every query uses a fixed text) run unprepared.
const maxCachedStmts = 512

// stmtCache holds prepared statements by query text, the store's own
// constant texts: SQLite then parses no query again, and parsing is most
// of the cost of a point lookup. The reader pool has one (the writer keeps
// its driver statements itself: see wtx).
type stmtCache struct {
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// get returns q prepared with prepare, from the cache when it is there.
// It returns nil when q cannot be cached: the caller then runs q
// unprepared, and a bad query reports its error there.
func (c *stmtCache) get(ctx context.Context, q string, prepare func(context.Context, string) (*sql.Stmt, error)) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[q]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m) >= maxCachedStmts {
		return nil
	}
	st, err := prepare(ctx, q)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[q] = st
	return st
}

// close closes every statement and empties the cache.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}
