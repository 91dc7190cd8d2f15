package walvfs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fullChild is the process TestFailedLogWriteFailsTheCommit starts: its
// files may not grow past fullLimit bytes (RLIMIT_FSIZE), so a commit's
// write of the log fails once the log reaches it.
const (
	fullChild = "WALVFS_FULL_CHILD"
	fullLimit = 512 << 10
)

func init() { children[fullChild] = runFullChild }

// runFullChild commits transactions until one fails, printing each one's
// number once Commit has returned, then "failed <error>", and exits 0.
func runFullChild(path string) int {
	signal.Ignore(syscall.SIGXFSZ) // the write fails with EFBIG instead
	db := open(failer{}, path, true, "wal_autocheckpoint(0)")
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE c (n INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: fullLimit, Max: fullLimit}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for n := 1; n < 10000; n++ {
		tx, err := db.Begin()
		if err == nil {
			_, err = tx.Exec(`INSERT INTO c (n, v) VALUES (?, randomblob(3000))`, n)
			if err == nil {
				err = tx.Commit()
			} else {
				tx.Rollback()
			}
		}
		if err != nil {
			fmt.Fprintf(out, "failed %v\n", err)
			return 0
		}
		fmt.Fprintln(out, n)
	}
	fmt.Fprintln(out, "never failed")
	return 0
}

// A write of the log that fails (here the file size limit, as a full disk
// would) fails the commit it belongs to with SQLite's I/O error, and
// every commit acknowledged before it is in the database afterwards.
func TestFailedLogWriteFailsTheCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fullChild+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "failed ") || !strings.Contains(last, "I/O error") {
		t.Fatalf("the child's last line is %q, want a commit failing with an I/O error", last)
	}
	acked, err := strconv.Atoi(lines[len(lines)-2])
	if err != nil || acked < 10 {
		t.Fatalf("acknowledged before the failure: %q", lines[len(lines)-2])
	}
	db := open(t, path, false)
	integrityOK(t, db)
	var n, highest int
	if err := db.QueryRow(`SELECT count(*), coalesce(max(n), 0) FROM c`).Scan(&n, &highest); err != nil {
		t.Fatal(err)
	}
	if n != acked || highest != acked {
		t.Fatalf("%d rows (the last %d) after %d acknowledged commits; the failed one must not be there", n, highest, acked)
	}
	t.Logf("%d commits acknowledged, then: %s", acked, strings.TrimPrefix(last, "failed "))
}
