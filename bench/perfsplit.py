#!/usr/bin/env python3
"""Where a process's CPU went, from `perf script -F ip,sym,dso` on stdin
(a `perf record -g` of the process): the share of samples in each system
call (by the kernel's entry function: write, read, fsync, ...), in the
kernel outside system calls (interrupts, page faults), in the Go runtime's
sysmon thread, and in user code, split by what user code was doing
(Go scheduler, garbage collector, SQLite, the rest).

Unlike a Go CPU profile, this sees what the kernel does inside a system
call: on loopback a socket write runs the receiver's TCP input too.

    perf script -i perf.data -F ip,sym,dso | python3 bench/perfsplit.py
"""
import collections
import re
import sys

SYSCALL = re.compile(r"^(?:__x64_sys_|__se_sys_|__do_sys_|ksys_)(\w+)$")


def frames(sample):
    """(symbol, dso) of each frame, leaf first."""
    out = []
    for line in sample.splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^[0-9a-f]+ (.*) \((.*)\)$", line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def category(fr):
    syms = [s for s, _ in fr]
    if any(s.startswith("runtime.sysmon") for s in syms):
        return "Go runtime: sysmon thread"
    kernel_leaf = fr[0][1].startswith("[kernel")
    if kernel_leaf:
        for s in syms:
            m = SYSCALL.match(s)
            if m:
                name = m.group(1)
                if name in ("pwrite64", "pread64"):
                    name = name[:-2]
                return "syscall " + name
        return "kernel, outside system calls"
    joined = " ".join(syms)
    if "modernc.org/sqlite" in joined:
        return "user: SQLite"
    if "runtime.gcBgMarkWorker" in joined or "runtime.gcDrain" in joined:
        return "user: garbage collector"
    if any(s in joined for s in ("runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.mcall")):
        return "user: Go scheduler"
    return "user: the rest"


def main():
    counts = collections.Counter()
    softirq = collections.Counter()  # samples of a category inside softirq processing
    total = 0
    for sample in sys.stdin.read().split("\n\n"):
        fr = frames(sample)
        if not fr:
            continue
        total += 1
        c = category(fr)
        counts[c] += 1
        if c.startswith("syscall") and any(s == "handle_softirqs" for s, _ in fr):
            softirq[c] += 1
    if total == 0:
        print("perfsplit: no samples")
        return 1
    kernel = sum(v for k, v in counts.items() if not k.startswith("user"))
    print(f"{total} samples; kernel (system calls, interrupts, sysmon) {100 * kernel / total:.1f} %")
    for k, v in counts.most_common():
        if 100 * v / total >= 0.3:
            extra = ""
            if 100 * softirq[k] / total >= 0.3:
                extra = f" (of which {100 * softirq[k] / total:.1f} % in softirq: on loopback, the receiving socket's input)"
            print(f"  {100 * v / total:5.1f} %  {k}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
