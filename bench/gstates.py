#!/usr/bin/env python3
"""Where the daemon's goroutines spend their time, from a Go execution trace.

    go tool trace -d=parsed TRACE | python3 bench/gstates.py

Reads the parsed event dump of a trace taken from /debug/pprof/trace (the
bench scripts' TRACE=SECONDS) and prints:
  - each scheduler processor's share of time running a goroutine;
  - goroutines grouped by the function they started in, with the share of
    their time running, runnable (ready, waiting for a processor), in a
    system call and waiting (blocked on a channel, lock, network or timer);
  - for the groups that spend time in system calls, which calls (the
    first frame outside the syscall plumbing: libc's pwrite or fsync for
    SQLite, the poller's Read or Write for sockets).
A CPU profile says what the cores did; this says what the writer and the
request goroutines waited for while they did it.
"""
import collections
import re
import sys

TRANSITION = re.compile(
    r"^M=\S+ P=\S+ G=(-?\d+) StateTransition Time=(\d+) (GoID|ProcID)=(\d+) (\S+)->(\S+)")
FRAME = re.compile(r"^\t(\S.*) @ 0x[0-9a-f]+$")
PLUMBING = re.compile(
    r"^(modernc\.org/libc\.___syscall_cp|modernc\.org/libc\.X(syscall|__syscall\d?)|syscall\.(Raw)?Syscall\d*|"
    r"syscall\.(read|write|pread|pwrite)|internal/runtime/syscall/.*|runtime\..*|"
    r"internal/poll\.ignoringEINTRIO.*|syscall\.(Read|Write|Pread|Pwrite))$")


def main():
    gstate = {}  # goid -> (state, since)
    gtime = collections.defaultdict(collections.Counter)  # goid -> state -> ns
    gentry = {}  # goid -> function it started in
    gsys = collections.defaultdict(collections.Counter)  # goid -> syscall site -> ns
    gsite = {}  # goid -> current syscall site
    pstate, ptime = {}, collections.defaultdict(collections.Counter)

    pending = None  # (goid, entering syscall?) whose stack follows
    frames = []

    def flush():
        nonlocal pending, frames
        if pending is not None and frames:
            goid, syscall = pending
            if goid not in gentry:
                gentry[goid] = frames[-1]
            if syscall:
                gsite[goid] = next((f for f in frames if not PLUMBING.match(f)), frames[0])
        pending, frames = None, []

    for line in sys.stdin:
        m = FRAME.match(line)
        if m:
            if pending is not None:
                frames.append(m.group(1))
            continue
        if not line.startswith("M="):
            continue
        flush()
        m = TRANSITION.match(line)
        if not m:
            continue
        emitter, t, kind, ident, _, to = m.groups()
        t, ident = int(t), int(ident)
        if kind == "ProcID":
            if ident in pstate:
                st, since = pstate[ident]
                ptime[ident][st] += t - since
            pstate[ident] = (to, t)
            continue
        if ident in gstate:
            st, since = gstate[ident]
            gtime[ident][st] += t - since
            if st == "Syscall":
                gsys[ident][gsite.get(ident, "?")] += t - since
        gstate[ident] = (to, t)
        # A goroutine's own transitions carry its stack; one goroutine
        # readying another carries the readier's.
        if int(emitter) == ident:
            pending = (ident, to == "Syscall")
    flush()
    # Each goroutine and processor is in its last state until the trace ends.
    end = max([since for _, since in gstate.values()] + [since for _, since in pstate.values()] + [0])
    for goid, (st, since) in gstate.items():
        gtime[goid][st] += end - since
        if st == "Syscall":
            gsys[goid][gsite.get(goid, "?")] += end - since
    for p, (st, since) in pstate.items():
        ptime[p][st] += end - since

    for p in sorted(ptime):
        total = sum(ptime[p].values()) or 1
        print(f"processor {p}: running {100 * ptime[p]['Running'] / total:.1f} %")

    groups = collections.defaultdict(list)
    for goid, times in gtime.items():
        groups[gentry.get(goid, "(no stack in the trace)")].append(goid)
    rows = []
    for entry, goids in groups.items():
        acc = collections.Counter()
        sys_acc = collections.Counter()
        for g in goids:
            acc.update(gtime[g])
            sys_acc.update(gsys[g])
        total = sum(acc.values()) or 1
        rows.append((acc["Running"] + acc["Syscall"], entry, len(goids), acc, total, sys_acc))
    rows.sort(reverse=True)
    print()
    print(f"{'goroutines':>10} {'running':>8} {'runnable':>9} {'syscall':>8} {'waiting':>8}  started in")
    for busy, entry, n, acc, total, sys_acc in rows[:12]:
        pct = {s: 100 * acc[s] / total for s in ("Running", "Runnable", "Syscall", "Waiting")}
        if pct["Running"] + pct["Runnable"] + pct["Syscall"] < 1:
            continue
        print(f"{n:>10} {pct['Running']:>7.1f}% {pct['Runnable']:>8.1f}% {pct['Syscall']:>7.1f}% "
              f"{pct['Waiting']:>7.1f}%  {entry}")
        if pct["Syscall"] >= 1:
            for site, ns in sys_acc.most_common(4):
                print(f"{'':>47}in {site}: {100 * ns / total:.1f}%")


if __name__ == "__main__":
    main()
