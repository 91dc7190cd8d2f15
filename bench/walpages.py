#!/usr/bin/env python3
"""Which B-trees the commits in a SQLite write-ahead log wrote.

    bench/walpages.py DB WAL

DB and WAL are copies of wabridge.db and wabridge.db-wal taken together
while the daemon ran (PAGES=SECONDS on bench/smpp/wabridge.sh takes them).
Every WAL frame is one page a commit wrote (SQLite writes the frame's
header and the page with two pwrite calls, and syncs once per commit). The
frames since the last checkpoint are counted per page and each page is
named by the B-tree (table or index) that owns it in DB as of that
checkpoint (the dbstat virtual table); pages allocated since are "new".
Prints the frames, the commits and, per B-tree, its frames per commit.
"""
import collections
import sqlite3
import struct
import sys


def main(db, wal_path):
    wal = open(wal_path, 'rb').read()
    if len(wal) < 32:
        sys.exit('walpages: %s holds no WAL header' % wal_path)
    _, _, page_size, _, salt1, salt2, _, _ = struct.unpack('>8I', wal[:32])
    frames, off = [], 32
    while off + 24 + page_size <= len(wal):
        page, commit, s1, s2 = struct.unpack('>4I', wal[off:off + 16])
        if (s1, s2) != (salt1, salt2):
            break  # frames of an earlier generation of the log
        frames.append((page, commit))
        off += 24 + page_size
    commits = sum(1 for _, c in frames if c)
    if not commits:
        sys.exit('walpages: no commit in the log since its last checkpoint')
    con = sqlite3.connect('file:%s?mode=ro&immutable=1' % db, uri=True)
    owner = dict((pageno, name) for name, pageno in con.execute('SELECT name, pageno FROM dbstat'))
    per = collections.Counter(owner.get(page, 'new pages (allocated since the checkpoint)') for page, _ in frames)
    print('page size %d: %d frames in %d commits, %.1f frames per commit' %
          (page_size, len(frames), commits, len(frames) / commits))
    for name, n in per.most_common():
        print('  %5.2f per commit  %4.1f %%  %s' % (n / commits, 100 * n / len(frames), name))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
