package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/walvfs"
)

// txFunc is one unit of work run inside a shared transaction. It must only
// use tx, and must not keep it. It may run more than once: when an operation
// of its batch fails, the batch is rolled back and run again with each
// operation in a savepoint. So it sets (never accumulates into) what it
// hands back, and changes nothing outside tx.
type txFunc func(tx *wtx) error

type writeOp struct {
	fn    txFunc
	done  chan error
	count *opCount // its method's count of committed operations
}

// committer serialises writes through one goroutine and commits every
// operation that is waiting in one transaction (group commit): many clients
// waiting for durability share one fsync. A failing operation is rolled back
// alone: a batch first runs without savepoints (a savepoint copies every page
// an operation touches into SQLite's sub-journal); if one of its operations
// fails, the transaction is rolled back and the batch runs again with each
// operation in its own savepoint.
type committer struct {
	path     string    // the database file
	conn     *liteConn // the writer's connection (opened at the first batch)
	stmts    stmtSet   // conn and the statements prepared on it
	tx       wtx
	ops      chan writeOp
	maxBatch int
	delay    time.Duration
	stop     chan struct{}
	stopped  chan struct{}
	once     sync.Once

	commits    atomic.Int64
	synced     atomic.Int64 // commits that changed rows: each wrote the log and fsynced it
	changes    int64        // the connection's total_changes() at the last commit
	operations atomic.Int64
	reruns     atomic.Int64 // batches run again with savepoints
	byOp       opCounts
	// txTime is each committed transaction that changed rows, from BEGIN
	// to durable; commitTime its COMMIT alone (WAL writes, fsync, and the
	// automatic checkpoint when one runs).
	txTime, commitTime durations

	// plan names the reporters' jobs for a status change (reportChange).
	plan atomic.Pointer[func(m *bridge.Message) ([]bridge.JobRef, bool)]

	// priority is what became of the writer thread's priority (newCommitter).
	priority WriterPriority
}

// WriterPriority is the writer's thread priority as set at start.
type WriterPriority struct {
	Raised bool  // the thread runs at Nice, above the rest of the process
	Nice   int   // the thread's nice value
	Err    error // why it was not raised (nil: not asked to be)
}

// newCommitter starts the writer. With priority > 0 the writer keeps an OS
// thread of its own, priority nice levels above the process: it is the one
// stage every acknowledged write waits for, and on a busy machine it should
// not wait for a core behind the work it will answer.
func newCommitter(path string, maxBatch int, delay time.Duration, priority int) *committer {
	if maxBatch < 1 {
		maxBatch = 256
	}
	c := &committer{
		path:     path,
		ops:      make(chan writeOp, maxBatch*4),
		maxBatch: maxBatch,
		delay:    delay,
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	c.tx.c = c
	started := make(chan struct{})
	go c.loop(priority, started)
	<-started
	return c
}

var errClosed = errors.New("store: closed")

// doneChans recycles the channels the writer answers operations on. The
// writer sends exactly once per operation it took, so a channel is back in
// the pool only when it was never handed over or its answer was received;
// a waiter that gives up (ctx, close) leaves its channel to the collector.
var doneChans = sync.Pool{New: func() any { return make(chan error, 1) }}

// write runs fn in the next group commit and returns once it is durable (or
// failed). A cancelled ctx abandons the wait, not the operation.
func (c *committer) write(ctx context.Context, fn txFunc) error {
	op := writeOp{fn: fn, done: doneChans.Get().(chan error), count: c.byOp.of(fn)}
	if err := c.enqueue(ctx, op); err != nil {
		doneChans.Put(op.done) // never handed to the writer
		return err
	}
	select {
	case err := <-op.done:
		doneChans.Put(op.done) // the writer answers once: empty for good
		return err
	case <-c.stopped:
		return c.abandoned(op)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// queue hands fn to the writer and returns at once with a function that
// waits until it is durable (or failed). Operations run and commit in the
// order they were queued, so a caller that queues under its own lock knows
// the order its writes commit in without holding the lock across a commit.
// ctx bounds only the queueing; the wait is bounded by the commit. wait
// may be called again (from the same goroutine) and gives the same answer.
func (c *committer) queue(ctx context.Context, fn txFunc) (wait func() error) {
	op := writeOp{fn: fn, done: doneChans.Get().(chan error), count: c.byOp.of(fn)}
	if err := c.enqueue(ctx, op); err != nil {
		doneChans.Put(op.done)
		return func() error { return err }
	}
	var (
		answered bool
		answer   error
	)
	return func() error {
		if answered { // op.done may be someone else's by now
			return answer
		}
		select {
		case err := <-op.done:
			doneChans.Put(op.done)
			answered, answer = true, err
			return err
		case <-c.stopped:
			return c.abandoned(op)
		}
	}
}

func (c *committer) enqueue(ctx context.Context, op writeOp) error {
	select {
	case c.ops <- op:
		return nil
	case <-c.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandoned is op's outcome once the writer has stopped: an op it did not
// take will never be answered.
func (c *committer) abandoned(op writeOp) error {
	select {
	case err := <-op.done:
		return err
	default:
		return errClosed
	}
}

func (c *committer) close() {
	c.once.Do(func() { close(c.stop) })
	<-c.stopped
}

func (c *committer) loop(priority int, started chan<- struct{}) {
	defer close(c.stopped)
	defer c.release()
	if priority > 0 {
		// Held to the end: the thread exits with the goroutine, so its
		// priority never passes to other goroutines.
		runtime.LockOSThread()
		nice, err := raiseThreadPriority(priority)
		c.priority = WriterPriority{Raised: err == nil, Nice: nice, Err: err}
	}
	close(started)
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

// release closes the prepared statements and the connection.
func (c *committer) release() {
	c.stmts.close()
	c.conn = nil
}

// open opens the writer's connection with the store's pragmas (journal
// mode, synchronous, busy timeout and foreign keys), through the VFS that
// writes a commit's log in one system call (walvfs; its contract,
// synchronous=FULL, is sqlitePragmas').
func (c *committer) open() error {
	vfs, err := walvfs.Register()
	if err != nil {
		return err
	}
	conn, err := openLiteConn(c.path, vfs, sqlitePragmas)
	if err != nil {
		return err
	}
	c.conn = conn
	c.stmts = stmtSet{conn: conn}
	c.changes = 0 // total_changes() counts from the connection's opening
	return nil
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

// run runs batch, and the operations that join it while it runs, in one
// transaction and answers each of them.
func (c *committer) run(batch []writeOp) {
	results := make([]error, len(batch), max(len(batch), c.maxBatch))
	// One operation alone needs no savepoint: rolling back the transaction
	// rolls back just it.
	err := c.runTx(&batch, &results, false)
	if errors.Is(err, errOpFailed) {
		if len(batch) == 1 {
			err = nil
		} else {
			c.reruns.Add(1)
			clear(results)
			err = c.runTx(&batch, &results, true)
		}
	}
	for i, op := range batch {
		if err != nil {
			op.done <- err
		} else {
			op.done <- results[i]
		}
	}
}

// errOpFailed is runTx's answer when an operation failed in a batch run
// without savepoints: the transaction was rolled back, results holds the
// failure.
var errOpFailed = errors.New("store: an operation failed")

// runTx runs *batch in one transaction and commits it. With savepoints each
// operation runs in its own and a failing one is rolled back alone; without,
// the first failure rolls back the transaction and runTx returns errOpFailed.
// Without savepoints, operations that arrive while the batch runs join it
// (up to maxBatch) before the commit: a write that comes while the writer
// is executing statements waits for this commit rather than the next one.
// They are appended to *batch and *results, so a rerun with savepoints
// runs them too.
func (c *committer) runTx(batchp *[]writeOp, resultsp *[]error, savepoints bool) (err error) {
	batch, results := *batchp, *resultsp
	if c.conn == nil {
		if err = c.open(); err != nil {
			return fmt.Errorf("store: writer connection: %w", err)
		}
	}
	tx := &c.tx
	began := time.Now()
	if _, err = tx.Exec("BEGIN"); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = tx.Exec("ROLLBACK")
			// total_changes() keeps the rolled-back rows: the next commit
			// compares against the count from here.
			c.changes = c.conn.totalChanges()
		}
	}()
	for i := 0; i < len(batch); i++ {
		op := batch[i]
		if !savepoints {
			if results[i] = safeRun(op.fn, tx); results[i] != nil {
				return errOpFailed
			}
			if i == len(batch)-1 && len(batch) < c.maxBatch {
				select {
				case next := <-c.ops:
					batch, results = append(batch, next), append(results, nil)
					*batchp, *resultsp = batch, results
				default:
				}
			}
			continue
		}
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
	// A transaction that changed no row (a claim that found nothing) commits
	// without writing or syncing the log: it is counted, not timed. (Rows
	// an operation changed before its savepoint was rolled back still
	// count: such a rare batch is taken as synced.)
	changes := c.conn.totalChanges()
	committing := time.Now()
	if _, err = tx.Exec("COMMIT"); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if changes != c.changes {
		c.changes = changes
		done := time.Now()
		c.commitTime.observe(done.Sub(committing))
		c.txTime.observe(done.Sub(began))
		c.synced.Add(1)
	}
	c.commits.Add(1)
	c.operations.Add(int64(len(batch)))
	for _, op := range batch {
		op.count.n.Add(1)
	}
	return nil
}

// safeRun turns a panic in fn into an error so one bad operation cannot
// take down the writer and every client waiting on it.
func safeRun(fn txFunc, tx *wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: panic in write: %v", r)
		}
	}()
	return fn(tx)
}
