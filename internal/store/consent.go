package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// customerSet holds the customers that have a consent row. Most customers
// never send STOP or START, and every send and every mail recipient checks
// consent: for them the answer comes from memory instead of a read
// transaction on the database. The set is loaded when the store opens (one
// process owns the file) and a customer is added before their consent
// write is queued, so a read after the commit always finds them; one whose
// write failed stays listed and only costs a lookup.
type customerSet struct {
	mu sync.RWMutex
	m  map[string]struct{}
}

func (cs *customerSet) load(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT customer FROM consent`)
	if err != nil {
		return fmt.Errorf("store: read consent: %w", err)
	}
	defer rows.Close()
	m := map[string]struct{}{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return fmt.Errorf("store: read consent: %w", err)
		}
		m[c] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read consent: %w", err)
	}
	cs.mu.Lock()
	cs.m = m
	cs.mu.Unlock()
	return nil
}

func (cs *customerSet) has(customer string) bool {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	_, ok := cs.m[customer]
	return ok
}

func (cs *customerSet) add(customer string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = map[string]struct{}{}
	}
	cs.m[customer] = struct{}{}
}
