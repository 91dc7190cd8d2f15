package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// txFunc is one unit of work run inside a shared transaction. It must only
// use tx, and must not keep it.
type txFunc func(tx *sql.Tx) error

type writeOp struct {
	fn   txFunc
	done chan error
}

// committer serialises writes through one goroutine and commits every
// operation that is waiting in one transaction (group commit): many clients
// waiting for durability share one fsync. Each operation runs inside its
// own savepoint, so a failing operation is rolled back alone.
type committer struct {
	db       *sql.DB
	ops      chan writeOp
	maxBatch int
	delay    time.Duration
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once

	commits    atomic.Int64
	operations atomic.Int64
}

func newCommitter(db *sql.DB, maxBatch int, delay time.Duration) *committer {
	if maxBatch < 1 {
		maxBatch = 256
	}
	c := &committer{
		db:       db,
		ops:      make(chan writeOp, maxBatch*4),
		maxBatch: maxBatch,
		delay:    delay,
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	go c.loop()
	return c
}

var errClosed = errors.New("store: closed")

// write runs fn in the next group commit and returns once it is durable (or
// failed). A cancelled ctx abandons the wait, not the operation.
func (c *committer) write(ctx context.Context, fn txFunc) error {
	op := writeOp{fn: fn, done: make(chan error, 1)}
	select {
	case c.ops <- op:
	case <-c.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-c.stopped:
		// The writer is gone; an op it did not take will never be answered.
		select {
		case err := <-op.done:
			return err
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	batch := make([]writeOp, 0, c.maxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-c.ops:
			batch = append(batch, op)
		case <-c.stop:
			c.drainClosed()
			return
		}
		if c.delay > 0 {
			timer := time.NewTimer(c.delay)
		collect:
			for len(batch) < c.maxBatch {
				select {
				case op := <-c.ops:
					batch = append(batch, op)
				case <-timer.C:
					break collect
				}
			}
			timer.Stop()
		}
	fill:
		for len(batch) < c.maxBatch {
			select {
			case op := <-c.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		c.run(batch)
	}
}

func (c *committer) drainClosed() {
	for {
		select {
		case op := <-c.ops:
			op.done <- errClosed
		default:
			return
		}
	}
}

func (c *committer) run(batch []writeOp) {
	results := make([]error, len(batch))
	err := c.runTx(batch, results)
	for i, op := range batch {
		if err != nil {
			op.done <- err
		} else {
			op.done <- results[i]
		}
	}
}

func (c *committer) runTx(batch []writeOp, results []error) (err error) {
	tx, err := c.db.Begin()
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for i, op := range batch {
		if _, err = tx.Exec("SAVEPOINT op"); err != nil {
			return fmt.Errorf("store: savepoint: %w", err)
		}
		results[i] = safeRun(op.fn, tx)
		if results[i] != nil {
			if _, err = tx.Exec("ROLLBACK TO op"); err != nil {
				return fmt.Errorf("store: rollback to savepoint: %w", err)
			}
		}
		if _, err = tx.Exec("RELEASE op"); err != nil {
			return fmt.Errorf("store: release savepoint: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	c.commits.Add(1)
	c.operations.Add(int64(len(batch)))
	return nil
}

// safeRun turns a panic in fn into an error so one bad operation cannot
// take down the writer and every client waiting on it.
func safeRun(fn txFunc, tx *sql.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: panic in write: %v", r)
		}
	}()
	return fn(tx)
}
