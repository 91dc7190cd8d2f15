// Package walvfs registers an SQLite VFS, on the SQLite the store is built
// from (modernc.org/sqlite), that writes a transaction's write-ahead log in
// one system call instead of two per page.
//
// SQLite appends each WAL frame as two writes, its 24-byte header and then
// the page, so a commit that touches n pages costs 2n pwrite calls before
// its fsync (33 per commit in the webhook benchmark). The VFS registered
// under [Name] is the platform's default VFS with one change: the appends
// to a WAL file are gathered in memory and written with one pwrite when
// SQLite next syncs, reads, truncates, sizes, controls or closes that file,
// or when a write is not the next one in the file, or when [MaxBuffer]
// bytes are gathered. Every other file, and every other call, is the
// default VFS's own.
//
// Contract: use it only on connections with synchronous=FULL. At FULL,
// SQLite syncs the log at every commit before it publishes the commit's
// frames in the shared-memory index other connections read, so the frames
// are in the file by then. At NORMAL or OFF it publishes frames it has not
// synced, and a reader on another connection would read a frame still held
// here.
package walvfs

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Name is the name the VFS is registered under (the zVfs argument of
// sqlite3_open_v2, or vfs= in a modernc.org/sqlite DSN).
const Name = "wabridge-walbuf"

// MaxBuffer is the most a WAL file holds before it writes: a larger
// transaction (a spill of the page cache, a bulk load) is written in
// pieces of about this size. It is the most the unix VFS writes in one
// call: its seekAndWriteFd masks the count with 0x1ffff, so a longer write
// would be cut short and reported as SQLITE_FULL.
const MaxBuffer = 0x1ffff

var (
	registerOnce sync.Once
	registerErr  error

	// baseVFS is the default VFS that Name wraps; stateOff is where a file's
	// walFile lies behind the default VFS's own file structure.
	baseVFS  uintptr
	stateOff uintptr

	methodsMu sync.Mutex
	// wrapped maps each io-methods table the default VFS gave a WAL file to
	// the copy that routes writes through the buffer (in C memory, as
	// SQLite keeps a pointer to it).
	wrapped = map[uintptr]uintptr{}
)

// Register registers the VFS (once per process; later calls return the
// first call's result) and returns its name.
func Register() (string, error) {
	registerOnce.Do(func() { registerErr = register() })
	return Name, registerErr
}

func register() error {
	tls := libc.NewTLS()
	defer tls.Close()
	base := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if base == 0 {
		return errors.New("walvfs: SQLite has no default VFS")
	}
	b := (*sqlite3.Tsqlite3_vfs)(cmem(base))
	if b.FiVersion < 1 || b.FxOpen == 0 {
		return fmt.Errorf("walvfs: the default VFS (version %d) has no xOpen", b.FiVersion)
	}
	p := libc.Xcalloc(tls, 1, sqlite3.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	name, err := libc.CString(Name)
	if p == 0 || err != nil {
		return errors.New("walvfs: out of memory")
	}
	v := (*sqlite3.Tsqlite3_vfs)(cmem(p))
	*v = *b
	v.FpNext = 0
	v.FzName = name
	stateOff = (uintptr(b.FszOsFile) + 7) &^ 7
	v.FszOsFile = int32(stateOff + unsafe.Sizeof(walFile{}))
	*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&v.FxOpen)) = xOpen
	baseVFS = base
	if rc := sqlite3.Xsqlite3_vfs_register(tls, p, 0); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("walvfs: sqlite3_vfs_register: %d", rc)
	}
	return nil
}

// walFile is a WAL file's buffer. It lies in the memory SQLite allocated
// for the file, behind the default VFS's structure; a file is used by one
// connection, and a connection by one thread, at a time.
type walFile struct {
	orig uintptr // the default VFS's io methods for the file
	buf  uintptr // MaxBuffer bytes of C memory, allocated at the first write
	off  int64   // the file offset of buf[0]
	n    int64   // bytes held
}

func state(pFile uintptr) *walFile { return (*walFile)(cmem(pFile + stateOff)) }

func (w *walFile) methods() *sqlite3.Tsqlite3_io_methods {
	return (*sqlite3.Tsqlite3_io_methods)(cmem(w.orig))
}

// askedWrites and baseWrites count, over every WAL file since the process
// started, the writes SQLite asked for and those the default VFS made.
var askedWrites, baseWrites atomic.Int64

// Counts returns the WAL writes SQLite has asked for and the writes the
// default VFS has made for them, since the process started.
func Counts() (asked, written int64) { return askedWrites.Load(), baseWrites.Load() }

func xOpen(tls *libc.TLS, _ uintptr, zName uintptr, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	base := (*sqlite3.Tsqlite3_vfs)(cmem(baseVFS))
	rc := callOpen(base.FxOpen, tls, baseVFS, zName, pFile, flags, pOutFlags)
	f := (*sqlite3.Tsqlite3_file)(cmem(pFile))
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_WAL == 0 || f.FpMethods == 0 {
		return rc
	}
	*state(pFile) = walFile{orig: f.FpMethods}
	f.FpMethods = methodsFor(tls, f.FpMethods)
	return rc
}

// methodsFor returns the copy of orig whose writes go through the buffer.
func methodsFor(tls *libc.TLS, orig uintptr) uintptr {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if m, ok := wrapped[orig]; ok {
		return m
	}
	p := libc.Xcalloc(tls, 1, sqlite3.Tsize_t(unsafe.Sizeof(sqlite3.Tsqlite3_io_methods{})))
	if p == 0 {
		return orig // out of memory: the file goes unbuffered
	}
	m := (*sqlite3.Tsqlite3_io_methods)(cmem(p))
	*m = *(*sqlite3.Tsqlite3_io_methods)(cmem(orig))
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxClose)) = xClose
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxRead)) = xRead
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxWrite)) = xWrite
	*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&m.FxTruncate)) = xTruncate
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxSync)) = xSync
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&m.FxFileSize)) = xFileSize
	*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&m.FxFileControl)) = xFileControl
	if m.FiVersion >= 3 && m.FxFetch != 0 {
		*(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&m.FxFetch)) = xFetch
	}
	wrapped[orig] = p
	return p
}

// xWrite gathers a write that continues the held ones; any other write
// first writes what is held.
func xWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	askedWrites.Add(1)
	w := state(pFile)
	n := int64(iAmt)
	if w.n > 0 && iOfst == w.off+w.n && w.n+n <= MaxBuffer {
		copy(cbytes(w.buf+uintptr(w.n), n), cbytes(zBuf, n))
		w.n += n
		return sqlite3.SQLITE_OK
	}
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	if n > MaxBuffer/2 || !w.alloc(tls) { // a 64 KiB page is written as it comes
		baseWrites.Add(1)
		return callRW(w.methods().FxWrite, tls, pFile, zBuf, iAmt, iOfst)
	}
	copy(cbytes(w.buf, n), cbytes(zBuf, n))
	w.off, w.n = iOfst, n
	return sqlite3.SQLITE_OK
}

func (w *walFile) alloc(tls *libc.TLS) bool {
	if w.buf == 0 {
		w.buf = libc.Xmalloc(tls, MaxBuffer)
	}
	return w.buf != 0
}

// flush writes what is held. What a failed write held is dropped: SQLite
// fails the transaction, and frames past the last commit are never read.
func (w *walFile) flush(tls *libc.TLS, pFile uintptr) int32 {
	if w.n == 0 {
		return sqlite3.SQLITE_OK
	}
	baseWrites.Add(1)
	rc := callRW(w.methods().FxWrite, tls, pFile, w.buf, int32(w.n), w.off)
	w.n = 0
	return rc
}

// flushed writes what pFile holds and returns the default VFS's methods
// for it, to be called next; on a failed write, that write's error code.
// Every call that reads, syncs, sizes or changes the file goes through it.
func flushed(tls *libc.TLS, pFile uintptr) (*sqlite3.Tsqlite3_io_methods, int32) {
	w := state(pFile)
	return w.methods(), w.flush(tls, pFile)
}

func xRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return callRW(m.FxRead, tls, pFile, zBuf, iAmt, iOfst)
}

func xSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxSync)))(tls, pFile, flags)
}

func xTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&m.FxTruncate)))(tls, pFile, size)
}

func xFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&m.FxFileSize)))(tls, pFile, pSize)
}

func xFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&m.FxFileControl)))(tls, pFile, op, pArg)
}

func xFetch(tls *libc.TLS, pFile uintptr, iOfst int64, iAmt int32, pp uintptr) int32 {
	m, rc := flushed(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&m.FxFetch)))(tls, pFile, iOfst, iAmt, pp)
}

// xClose writes what is held (an unsynced, so uncommitted, tail), frees
// the buffer and closes the file the default VFS's way.
func xClose(tls *libc.TLS, pFile uintptr) int32 {
	w := state(pFile)
	rc := w.flush(tls, pFile)
	if w.buf != 0 {
		libc.Xfree(tls, w.buf)
		w.buf = 0
	}
	fp := w.methods().FxClose
	if crc := (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&fp)))(tls, pFile); crc != sqlite3.SQLITE_OK {
		return crc
	}
	return rc
}

func callOpen(fp uintptr, tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&fp)))(tls, pVfs, zName, pFile, flags, pOutFlags)
}

func callRW(fp uintptr, tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&fp)))(tls, pFile, zBuf, iAmt, iOfst)
}

// cmem turns an address in C memory into a pointer (SQLite's memory is
// not Go's: the collector neither moves nor frees it).
func cmem(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cbytes is the n bytes of C memory at p.
func cbytes(p uintptr, n int64) []byte { return unsafe.Slice((*byte)(cmem(p)), n) }
