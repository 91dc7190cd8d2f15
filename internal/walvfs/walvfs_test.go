package walvfs

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// open opens path through the VFS (or the default one) with the store's
// journal settings; extra pragmas follow.
func open(t testing.TB, path string, viaWALVFS bool, pragmas ...string) *sql.DB {
	t.Helper()
	if _, err := Register(); err != nil {
		t.Fatal(err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	for _, p := range pragmas {
		dsn += "&_pragma=" + p
	}
	if viaWALVFS {
		dsn += "&vfs=" + Name
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func integrityOK(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

// A commit of many pages reaches the file in one write, where SQLite asks
// for two per page.
func TestCommitIsOneWrite(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "one.db"), true, "wal_autocheckpoint(0)")
	db.SetMaxOpenConns(1)
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)`)
	mustExec(t, db, `INSERT INTO t (v) VALUES (zeroblob(10))`) // the log's header is written by now
	asked0, written0 := Counts()
	const commits = 10
	for c := range commits {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			mustExec(t, tx, `INSERT INTO t (v) VALUES (randomblob(1000))`)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("commit %d: %v", c, err)
		}
	}
	asked1, written1 := Counts()
	asked, written := asked1-asked0, written1-written0
	if written != commits {
		t.Errorf("%d commits made %d writes to the log, want one each (SQLite asked for %d)", commits, written, asked)
	}
	if asked < 2*5*commits { // 20 KB of rows is at least five 4 KiB pages, two writes each
		t.Errorf("SQLite asked for only %d writes in %d commits", asked, commits)
	}
	integrityOK(t, db)
}

// A transaction larger than the page cache spills pages into the log before
// it commits and reads them back from there; it reads what it wrote, also
// while those frames are still held.
func TestTransactionReadsItsSpilledPages(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "spill.db"), true, "cache_size(10)")
	db.SetMaxOpenConns(1)
	mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for id := 1; id <= 400; id++ {
		mustExec(t, tx, `INSERT INTO t (id, v) VALUES (?, printf('%03000d', ?))`, id, id)
		if id%25 != 0 {
			continue
		}
		var rows, wrong int
		if err := tx.QueryRow(`SELECT count(*), count(*) FILTER (WHERE v != printf('%03000d', id)) FROM t`).Scan(&rows, &wrong); err != nil {
			t.Fatalf("after %d rows: %v", id, err)
		}
		if rows != id || wrong != 0 {
			t.Fatalf("after %d rows the transaction reads %d, %d of them wrong", id, rows, wrong)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	integrityOK(t, db)
}

// Readers on other connections, through the VFS and around it, see every
// commit whole while the writer's transactions spill its cache into the log
// before they commit, rewrite frames, pass MaxBuffer and are checkpointed.
func TestReadersSeeEveryCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.db")
	w := open(t, path, true, "cache_size(8)", "wal_autocheckpoint(50)")
	w.SetMaxOpenConns(1)
	mustExec(t, w, `CREATE TABLE t (id INTEGER PRIMARY KEY, txn INTEGER NOT NULL, v BLOB NOT NULL)`)
	mustExec(t, w, `CREATE INDEX t_txn ON t (txn)`)
	mustExec(t, w, `CREATE TABLE sums (txn INTEGER PRIMARY KEY, rows INTEGER NOT NULL, bytes INTEGER NOT NULL)`)

	const txns = 60
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var pause sync.RWMutex // held by the writer's truncating checkpoints, which wait for readers
	errs := make(chan error, 8)
	for r, via := range []bool{true, false, true} {
		rd := open(t, path, via, "query_only(1)")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				pause.RLock()
				err := checkSums(rd)
				pause.RUnlock()
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
			}
		}()
	}
	for txn := 1; txn <= txns; txn++ {
		tx, err := w.Begin()
		if err != nil {
			t.Fatal(err)
		}
		rows, size := 1+txn%7, 200+(txn*977)%3000
		if txn%20 == 0 {
			rows, size = 400, 4000 // ~1.6 MB: many times MaxBuffer in one transaction
		}
		for range rows {
			mustExec(t, tx, `INSERT INTO t (txn, v) VALUES (?, randomblob(?))`, txn, size)
		}
		if txn%5 == 0 { // rewrite pages this transaction has already spilled
			mustExec(t, tx, `UPDATE t SET v = randomblob(length(v)) WHERE txn = ?`, txn)
		}
		if txn%9 == 0 { // and shrink the table, freeing pages
			mustExec(t, tx, `DELETE FROM t WHERE txn = ?`, txn-1)
			mustExec(t, tx, `DELETE FROM sums WHERE txn = ?`, txn-1)
		}
		mustExec(t, tx, `INSERT INTO sums (txn, rows, bytes) VALUES (?, ?, ?)`, txn, rows, rows*size)
		if err := tx.Commit(); err != nil {
			t.Fatalf("commit %d: %v", txn, err)
		}
		if txn%25 == 0 {
			pause.Lock()
			var busy, frames, done int
			if err := w.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil || busy != 0 {
				t.Fatalf("checkpoint: busy %d, %v", busy, err)
			}
			pause.Unlock() // the log restarts from its header
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := checkSums(w); err != nil {
		t.Fatal(err)
	}
	integrityOK(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, path, false)
	if err := checkSums(again); err != nil {
		t.Fatalf("reopened: %v", err)
	}
	integrityOK(t, again)
	var n int
	if err := again.QueryRow(`SELECT count(*) FROM sums`).Scan(&n); err != nil || n != txns-txns/9 {
		t.Fatalf("reopened: %d transactions, %v; want %d", n, err, txns-txns/9)
	}
}

// checkSums reads, in one snapshot, that each transaction's rows are all
// there with the size its sums row says.
func checkSums(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.Query(`SELECT s.txn, s.rows, s.bytes, count(t.id), coalesce(sum(length(t.v)), 0)
		FROM sums s LEFT JOIN t ON t.txn = s.txn GROUP BY s.txn`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var txn, want, wantBytes, got, gotBytes int
		if err := rows.Scan(&txn, &want, &wantBytes, &got, &gotBytes); err != nil {
			return err
		}
		if got != want || gotBytes != wantBytes {
			return fmt.Errorf("transaction %d: %d rows of %d bytes, want %d of %d", txn, got, gotBytes, want, wantBytes)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var orphans int
	if err := tx.QueryRow(`SELECT count(*) FROM t WHERE txn NOT IN (SELECT txn FROM sums)`).Scan(&orphans); err != nil {
		return err
	}
	if orphans != 0 {
		return fmt.Errorf("%d rows of transactions without their sums row", orphans)
	}
	return nil
}

// crashChild is the process TestKilledWriterLosesNoCommit kills: it commits
// transactions through the VFS and prints each one's number once Commit has
// returned.
const crashChild = "WALVFS_CRASH_CHILD"

// children are the processes tests start from this binary, by the
// environment variable that names their database.
var children = map[string]func(path string) int{crashChild: runCrashChild}

func TestMain(m *testing.M) {
	for env, run := range children {
		if path := os.Getenv(env); path != "" {
			os.Exit(run(path))
		}
	}
	os.Exit(m.Run())
}

func runCrashChild(path string) int {
	db := open(failer{}, path, true, "wal_autocheckpoint(100)")
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS c (n INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var start int // after an earlier child's kill, go on from its last transaction
	if err := db.QueryRow(`SELECT coalesce(max(n), 0) / 10 FROM c`).Scan(&start); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	for n := start + 1; ; n++ {
		tx, err := db.Begin()
		if err == nil {
			for i := range 1 + n%5 {
				if _, err = tx.Exec(`INSERT INTO c (n, v) VALUES (?, randomblob(1500))`, n*10+i); err != nil {
					break
				}
			}
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(out, n)
		out.Flush()
	}
}

// failer is the testing.TB of the child, which has no test to fail.
type failer struct{ testing.TB }

func (failer) Helper()                   {}
func (failer) Cleanup(func())            {}
func (failer) Fatal(args ...any)         { fmt.Fprintln(os.Stderr, args...); os.Exit(1) }
func (failer) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...); os.Exit(1) }

// A writer killed (SIGKILL) at an arbitrary moment loses no transaction
// whose Commit returned, and leaves a database that is whole.
func TestKilledWriterLosesNoCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChild+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := make(chan int, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					acked <- n
				}
			}
			close(acked)
		}()
		time.Sleep(time.Duration(200+150*round) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		last := 0
		for n := range acked {
			last = n
		}
		_ = cmd.Wait()
		if last == 0 {
			t.Fatalf("round %d: the child committed nothing before the kill: %s", round, stderr.String())
		}
		db := open(t, path, false)
		integrityOK(t, db)
		var missing int
		// Every acknowledged transaction n, 1..last, left 1+n%5 rows.
		if err := db.QueryRow(`WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM k WHERE n < ?)
			SELECT count(*) FROM k WHERE (SELECT count(*) FROM c WHERE c.n BETWEEN k.n*10 AND k.n*10+9) != 1 + k.n%5`, last).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		if missing != 0 {
			t.Fatalf("round %d: %d of %d acknowledged transactions are not whole after the kill", round, missing, last)
		}
		db.Close()
		t.Logf("round %d: %d transactions acknowledged before the kill, all there", round, last)
	}
}
