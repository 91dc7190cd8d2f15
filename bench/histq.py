#!/usr/bin/env python3
"""Quantiles of wabridge's latency histograms, from its /metrics on stdin.

Prints, for the histograms present and not empty:
  server: the SMPP submit_sm read -> submit_sm_resp queued (p50, p99, share within 5 ms);
  store:  the group commits, BEGIN -> durable and the COMMIT alone (p50, p99).
Quantiles are interpolated within the buckets; they cover the daemon's
whole run so far.

  curl -fsS http://127.0.0.1:PORT/metrics | python3 bench/histq.py
"""
import collections
import sys

h = collections.defaultdict(list)
for line in sys.stdin:
    if "_bucket{" not in line:
        continue
    name = line.split("_bucket{")[0]
    if name.startswith(("wabridge_smpp_submit_duration_seconds", "wabridge_store_")):
        le = line.split('le="')[1].split('"')[0]
        h[name].append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))


def q(b, p):
    n, lo, prev = b[-1][1], 0.0, 0.0
    for le, c in b:
        if c >= p * n:
            return lo if le == float("inf") else lo + (le - lo) * (p * n - prev) / max(c - prev, 1)
        lo, prev = le, c


b = h.get("wabridge_smpp_submit_duration_seconds")
if b and b[-1][1] > 0:
    within = dict(b).get(0.005, 0) / b[-1][1]
    print(f"server: submit_sm read -> submit_sm_resp queued: p50 {q(b, .5)*1e3:.2f} ms, "
          f"p99 {q(b, .99)*1e3:.2f} ms (from buckets), {within*100:.2f} % within 5 ms")
t, c = h.get("wabridge_store_transaction_duration_seconds"), h.get("wabridge_store_commit_duration_seconds")
if t and c and t[-1][1] > 0:
    print(f"store: group commits BEGIN -> durable p50 {q(t, .5)*1e3:.2f} ms, p99 {q(t, .99)*1e3:.2f} ms; "
          f"their COMMIT (log writes, fsync) p50 {q(c, .5)*1e3:.2f} ms, p99 {q(c, .99)*1e3:.2f} ms (over the whole run)")
