#!/usr/bin/env python3
"""Per-round view of a bench/run.sh result directory: each ratio target
computed round by round (wabridge and its peer ran in the same round, so a
round's ratio is less exposed to the machine's drift than a ratio of the
five-run medians), and the figures BENCHMARKS.md quotes beside them.

    python3 bench/rounds.py bench/results/2026-11-23q

Reads results.jsonl (one RESULT per run, tagged by bench/run.sh) and, for
the submit_sm_resp target, the server's own share from smpp_half.N.log
(the run's logs stay on the machine that ran it: .gitignore keeps them out
of the repository, so a committed set shows "—" there).
"""
import json
import os
import re
import statistics
import sys


def load(d):
    rows = [json.loads(l) for l in open(os.path.join(d, "results.jsonl")) if l.strip()]
    by = {}
    for r in rows:
        peer = r.get("settings", {}).get("peer") or r.get("settings", {}).get("server", "")
        by.setdefault((r["tag"], r["scenario"], peer), []).append(r)
    return by


def pick(by, tag, scenario=None, peer=None):
    """The runs of one scenario by round (a scenario run more than once in
    a round, as restart is, keeps its last run)."""
    for (t, s, p), runs in by.items():
        if t == tag and (scenario is None or s == scenario) and (peer is None or p == peer):
            return {r["run"]: r for r in runs}
    return {}


def tput(r):
    return r.get("throughput_per_s", 0.0)


def p99ms(r, name):
    return r.get("latency", {}).get(name, {}).get("p99_ns", 0) / 1e6


def mmm(xs, fmt="{:,.0f}"):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return "—"
    return " / ".join(fmt.format(x) for x in (xs[0], statistics.median(xs), xs[-1]))


def client_us(runs):
    """The load client's own µs per operation (results since the
    twenty-second round), or nothing for older results."""
    xs = [r["client_cpu_per_op_ns"] / 1e3 for r in runs.values() if r.get("client_cpu_per_op_ns")]
    return "; the client's µs per request " + mmm(xs, "{:.1f}") if xs else ""


def ratio_line(name, ours, peer):
    rounds = sorted(set(ours) & set(peer))
    per = [tput(ours[i]) / tput(peer[i]) for i in rounds if tput(peer[i])]
    if not per:
        return
    med_o = statistics.median(tput(ours[i]) for i in rounds)
    med_p = statistics.median(tput(peer[i]) for i in rounds)
    print(f"{name}: per round " + ", ".join(f"{x:.3f}" for x in per) +
          f"; median {statistics.median(per):.3f}; by the medians {med_o:,.0f} / {med_p:,.0f} = {med_o / med_p:.3f}")


def main(d):
    by = load(d)
    noop = pick(by, "webhook", "noop webhook meta-status")
    hook = pick(by, "webhook", "webhook meta-status")
    if hook:
        print("webhooks flat out: rate " + mmm([tput(r) for r in hook.values()]) +
              " /s; p99 " + mmm([p99ms(r, "webhook") for r in hook.values()], "{:.1f}") +
              " ms; events per fsync " + mmm([r.get("events_per_fsync") for r in hook.values()], "{:.1f}") +
              "; µs per event " + mmm([r.get("cpu_per_op_ns", 0) / 1e3 for r in hook.values()], "{:.1f}") +
              client_us(hook))
        print("no-op: rate " + mmm([tput(r) for r in noop.values()]) + " /s; p99 " +
              mmm([p99ms(r, "webhook") for r in noop.values()], "{:.1f}") + " ms" +
              ("; µs per request " + mmm([r["cpu_per_op_ns"] / 1e3 for r in noop.values() if r.get("cpu_per_op_ns")], "{:.1f}")
               if any(r.get("cpu_per_op_ns") for r in noop.values()) else "") + client_us(noop))
        ratio_line("webhook ratio", hook, noop)
    h30 = pick(by, "webhook_30k", "webhook meta-status")
    n30 = pick(by, "webhook_30k", "noop webhook meta-status")
    if h30:
        print("webhooks at 30,000/s: served " + ", ".join(f"{tput(h30[i]):,.0f}" for i in sorted(h30)) +
              " /s; p99 " + mmm([p99ms(r, "webhook") for r in h30.values()], "{:.1f}") + " ms; no-op p99 " +
              mmm([p99ms(r, "webhook") for r in n30.values()], "{:.1f}") + " ms")
    smpp, kannel = pick(by, "smpp", "smpp"), pick(by, "kannel")
    if smpp:
        lost = [re.search(r"missing (\d+), duplicates (\d+)", " ".join(r.get("notes", []))) for r in smpp.values()]
        print("SMPP flat out: rate " + mmm([tput(r) for r in smpp.values()]) + " msg/s; µs per message " +
              mmm([r.get("cpu_per_op_ns", 0) / 1e3 for r in smpp.values()], "{:.1f}") + "; missing/duplicates " +
              ", ".join(f"{m.group(1)}/{m.group(2)}" if m else "?" for m in lost))
        ratio_line("SMPP against Kannel", smpp, kannel)
    half = pick(by, "smpp_half", "smpp")
    if half:
        share, within, commits = [], [], []
        for i in sorted(half):
            try:
                log = open(os.path.join(d, f"smpp_half.{i}.log")).read()
            except OSError:
                continue
            m = re.search(r"submit_sm_resp queued: p50 [\d.]+ ms, p99 ([\d.]+) ms .*?, ([\d.]+) % within 5 ms", log)
            if m:
                share.append(float(m.group(1)))
                within.append(float(m.group(2)))
            m = re.search(r"BEGIN -> durable p50 [\d.]+ ms, p99 ([\d.]+) ms", log)
            if m:
                commits.append(float(m.group(1)))
        print("submit_sm_resp at 2,500/s: wabload p99 " + mmm([p99ms(r, "submit_sm_resp") for r in half.values()], "{:.2f}") +
              " ms (its lateness p99 " + mmm([p99ms(r, "client_lateness") for r in half.values()], "{:.2f}") +
              "); the server's share p99 " + mmm(share, "{:.2f}") + " ms, within 5 ms " + mmm(within, "{:.1f}") +
              " %; commits BEGIN → durable p99 " + mmm(commits, "{:.2f}") + " ms")
    smtp = pick(by, "smtp", "smtp")
    smtpd = pick(by, "postfix", "smtp", "postfix-smtpd")
    source = pick(by, "postfix", "smtp", "smtp-source→postfix-smtpd(queue, fsync)")
    if smtp:
        print("SMTP: rate " + mmm([tput(r) for r in smtp.values()]) + " mails/s; µs per mail " +
              mmm([r.get("cpu_per_op_ns", 0) / 1e3 for r in smtp.values()], "{:.0f}"))
        print("Postfix smtpd fed by wabload " + mmm([tput(r) for r in smtpd.values()]) +
              " /s, by smtp-source " + mmm([tput(r) for r in source.values()]) + " /s")
        ratio_line("SMTP against Postfix (wabload)", smtp, smtpd)
        ratio_line("SMTP against Postfix (smtp-source)", smtp, source)
    imap, dovecot = pick(by, "imap", "imap"), pick(by, "dovecot", "imap")
    if imap:
        print("IMAP: " + mmm([tput(r) for r in imap.values()]) + " commands/s, peak RSS " +
              mmm([r.get("peak_rss_bytes", 0) / 2**20 for r in imap.values()], "{:.0f}") + " MiB, push p99 " +
              mmm([p99ms(r, "idle_push") for r in imap.values()], "{:.1f}") + " ms")
        print("Dovecot: " + mmm([tput(r) for r in dovecot.values()]) + " commands/s, peak RSS " +
              mmm([r.get("peak_rss_bytes", 0) / 2**20 for r in dovecot.values()], "{:.0f}") + " MiB")
        ratio_line("IMAP against Dovecot", imap, dovecot)
    # The other targets' own figures, as each run noted them.
    wanted = re.compile(r"over the middle|first send|per connection|per idle bind")
    for tag in ("pacing80", "pacing1000", "restart", "idle", "smpp_idle"):
        for (t, _, _), runs in sorted(by.items()):
            if t != tag:
                continue
            for r in runs:
                for note in r.get("notes", []):
                    if wanted.search(note):
                        print(f"{tag} run {r['run']}: {note}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/rounds.py RESULT_DIR")
    main(sys.argv[1])
