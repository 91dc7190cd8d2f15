#!/usr/bin/env bash
# SMPP end to end through wabridge: submit_sm → SQLite commit → submit_sm_resp
# → outbox → the embedded WhatsApp sandbox (Cloud API simulator) → status
# webhooks → final receipt as deliver_sm. Starts the daemon on loopback with
# its default durability (SQLite WAL, synchronous=FULL, group commit), runs
# "wabload smpp" against it with -pid (daemon CPU and RSS), stops the daemon.
#
#   bench/smpp/wabridge.sh                   COUNT=20000 messages flat out
#   RATE=1000 COUNT=30000 bench/smpp/wabridge.sh
#
# Environment:
#   COUNT (20000)  BINDS (4)  WINDOW (10)  RATE (0 = flat out, else msgs/s)
#   WORKERS (outbox senders, 64: the default)  NUMBER_RATE (100000)  STATUS_DELAY ("10ms")
#   WEBHOOK_WORKERS (the sandbox's status webhooks in flight, 64; its default 16 was the limit)
#   RECEIPT_TIMEOUT (120s)  WABRIDGE_BIN, WABLOAD_BIN (built from this tree if unset)
#   KPERF=SECONDS: `perf record -g` of the daemon for SECONDS from 2 s into the run, then where
#           its CPU went (bench/lib.sh's perf_report, as bench/webhook/run.sh does)
#   PERF=1: record the daemon with `perf record -g` during the whole run and print where its CPU went
#           (bench/perfsplit.py: system calls by name, kernel, user) and the top of `perf report`
#   PPROF=SECONDS: take a Go CPU profile of the daemon for SECONDS from 2 s into the run
#                  (written to bench/results/smpp-cpu.pprof with the binary beside it)
#   TRACE=SECONDS: take a Go execution trace of the daemon for SECONDS from 2 s into the run
#                  (bench/results/smpp.trace) and print where its goroutines spent their time
#                  (bench/gstates.py: running, runnable, in which system call, waiting)
#   PAGES=SECONDS: copy the database and its write-ahead log SECONDS into the run and print
#                  which tables and indexes the commits wrote, in pages per commit (bench/walpages.py)
#   KEEP=1: keep the work directory (config, database, daemon log)
#   STORE_TOML: added to the [store] table (experiments: e.g. 'commit_delay = "500us"')
#   EXTRA_TOML: appended to the daemon's config (experiments: other tables, e.g. "[daemon]
#               pprof_listen = ..."; the [store], [outbox], [sandbox] and [smpp] tables are the script's)
# Prints wabload's report, ending with one `RESULT {json}` line, then the
# store's write operations per message (wabridge_store_write_operations_total
# by operation); exit 1 if the run failed (a bind failed, receipts missing).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$ROOT/bench/lib.sh" # start_pprof, start_trace, start_perf, their reports, perf_split
COUNT=${COUNT:-20000}
BINDS=${BINDS:-4}
WINDOW=${WINDOW:-10}
RATE=${RATE:-0}
WORKERS=${WORKERS:-64}
NUMBER_RATE=${NUMBER_RATE:-100000}
STATUS_DELAY=${STATUS_DELAY:-10ms}
WEBHOOK_WORKERS=${WEBHOOK_WORKERS:-64}
RECEIPT_TIMEOUT=${RECEIPT_TIMEOUT:-120s}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-smpp.XXXXXX")
DAEMON_PID=""
PERF_PID=""
cleanup() {
	if [ -n "$PERF_PID" ] && kill -0 "$PERF_PID" 2>/dev/null; then
		kill -INT "$PERF_PID" 2>/dev/null
		wait "$PERF_PID" 2>/dev/null
	fi
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait "$DAEMON_PID" 2>/dev/null
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT


if [ -z "${WABRIDGE_BIN:-}" ]; then
	WABRIDGE_BIN=$WORK/wabridge
	(cd "$ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || { echo "build wabridge failed"; exit 1; }
fi
if [ -z "${WABLOAD_BIN:-}" ]; then
	WABLOAD_BIN=$WORK/wabload
	(cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || { echo "build wabload failed"; exit 1; }
fi

HTTP_PORT=$(free_port)
SANDBOX_PORT=$(free_port)
SMPP_PORT=$(free_port)
MAX_BINDS=$((BINDS > 4 ? BINDS : 4))
PPROF_TOML=""
if [ -n "${PPROF:-}${TRACE:-}" ]; then
	PPROF_PORT=$(free_port)
	PPROF_TOML="[daemon]
pprof_listen = \"127.0.0.1:$PPROF_PORT\""
fi
cat >"$WORK/wabridge.toml" <<EOF
[log]
level = "warn"
$PPROF_TOML

[store]
path = "$WORK/wabridge.db"
${STORE_TOML:-}

[http]
listen = "127.0.0.1:$HTTP_PORT"

[outbox]
workers = $WORKERS
number_rate = $NUMBER_RATE
pair_interval = "0s"

[sandbox]
listen = "127.0.0.1:$SANDBOX_PORT"
status_delay = "$STATUS_DELAY"
auto_read = false
webhook_workers = $WEBHOOK_WORKERS

[smpp]
listen = "127.0.0.1:$SMPP_PORT"
bind_fail_delay = "0s"
max_queue = 1000000

[[smpp.accounts]]
system_id = "bench"
password = "bench1"
numbers = ["+15550100001"]
max_binds = $MAX_BINDS
${EXTRA_TOML:-}
EOF

(cd "$WORK" && exec "$WABRIDGE_BIN" serve -config "$WORK/wabridge.toml") >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
ready=0
for _ in $(seq 1 100); do
	if curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null; then ready=1; break; fi
	kill -0 "$DAEMON_PID" 2>/dev/null || break
	sleep 0.1
done
if [ "$ready" != 1 ]; then
	echo "wabridge did not become ready:"; tail -30 "$WORK/daemon.log"; exit 1
fi

PERF_MISSING=0
if [ "${PERF:-0}" = 1 ]; then
	if command -v perf >/dev/null; then
		perf record -F 499 -g -p "$DAEMON_PID" -o "$WORK/perf.data" >"$WORK/perf.log" 2>&1 &
		PERF_PID=$!
		sleep 0.5
	else
		echo "PERF=1: perf is not installed (Debian: linux-perf)" >&2
		PERF_MISSING=1
	fi
fi
[ -z "${KPERF:-}" ] || start_perf "$DAEMON_PID" # bench/lib.sh: a window of KPERF s, 2 s in

ARGS=(-addr "127.0.0.1:$SMPP_PORT" -system-id bench -password bench1
	-binds "$BINDS" -window "$WINDOW" -count "$COUNT" -receipt-timeout "$RECEIPT_TIMEOUT"
	-pid "$DAEMON_PID"
	-settings "daemon=wabridge $("$WABRIDGE_BIN" version 2>/dev/null | head -1)"
	-settings "durability=sqlite WAL synchronous=FULL, group commit (defaults)"
	-settings "outbox=workers $WORKERS, number_rate $NUMBER_RATE, pair_interval 0s"
	-settings "whatsapp=embedded sandbox, status_delay $STATUS_DELAY, auto_read false, webhook_workers $WEBHOOK_WORKERS")
[ "$RATE" != 0 ] && ARGS+=(-rate "$RATE")
[ -z "${PPROF:-}" ] || start_pprof smpp "$PPROF_PORT" "$WABRIDGE_BIN"
[ -z "${TRACE:-}" ] || start_trace smpp "$PPROF_PORT"
if [ -n "${PAGES:-}" ]; then
	# The database and its log copied together (the log first: pages it
	# names may be checkpointed meanwhile; walpages.py names them by the DB).
	# Taken once the log holds 2 MiB since its last reset (~500 pages), so the
	# sample is not a checkpoint's first few commits.
	(sleep "$PAGES"
	 for _ in $(seq 1 300); do
		[ "$(stat -c %s "$WORK/wabridge.db-wal" 2>/dev/null || echo 0)" -ge 2097152 ] && break
		sleep 0.01
	 done
	 mkdir -p "$WORK/pages" && cp "$WORK/wabridge.db-wal" "$WORK/pages/wal" && cp "$WORK/wabridge.db" "$WORK/pages/db") &
	PAGES_PID=$!
fi
store_counter() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
store_ops() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | sed -n 's/^wabridge_store_write_operations_total{operation="\([a-z_]*\)"} \(.*\)/\1 \2/p'; }
c0=$(store_counter wabridge_store_commits_total) o0=$(store_counter wabridge_store_operations_total)
store_ops >"$WORK/ops.before"
"$WABLOAD_BIN" smpp "${ARGS[@]}"
rc=$?
c1=$(store_counter wabridge_store_commits_total) o1=$(store_counter wabridge_store_operations_total)
# Store work per message over the run (the receipts of the last messages
# are in: wabload waits for them).
python3 -c "c=$c1-$c0; o=$o1-$o0; n=$COUNT; print(f'store: {o/n:.2f} write operations and {c/n:.2f} commits per message ({o/max(c,1):.1f} operations per commit)')"
store_ops >"$WORK/ops.after"
python3 - "$WORK/ops.before" "$WORK/ops.after" "$COUNT" <<'PY'
import sys
def read(p):
    return {k: float(v) for k, v in (line.split() for line in open(p) if line.strip())}
before, after, n = read(sys.argv[1]), read(sys.argv[2]), int(sys.argv[3])
per = sorted(((after[k] - before.get(k, 0)) / n, k) for k in after)
print('store: per message ' + ', '.join(f'{k} {v:.2f}' for v, k in reversed(per) if v >= 0.005))
PY
# The server's share of submit_sm_resp latency: its histogram
# (wabridge_smpp_submit_duration_seconds, read → answer queued), and the
# store's group commits (BEGIN → durable, and the COMMIT alone: the log's
# writes and fsync), with quantiles interpolated within the buckets (bench/histq.py).
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | python3 "$ROOT/bench/histq.py"
if [ -n "${PAGES:-}" ]; then
	wait "$PAGES_PID"
	echo "--- pages written per commit, $PAGES s into the run (bench/walpages.py) ---"
	python3 "$ROOT/bench/walpages.py" "$WORK/pages/db" "$WORK/pages/wal"
fi

pprof_report || rc=1
trace_report || rc=1
perf_report || rc=1
[ "$PERF_MISSING" = 0 ] || rc=1

if [ -n "$PERF_PID" ]; then
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	PERF_PID=""
	echo "--- where the daemon's CPU went, system calls included (bench/perfsplit.py) ---"
	perf_split "$WORK/perf.data"
	echo "--- perf report (daemon, top symbols by self time) ---"
	perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -40
	echo "--- perf report (children: inclusive time) ---"
	perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -40
fi
if grep -qiE 'level=error|panic' "$WORK/daemon.log"; then
	echo "--- daemon log errors ---"
	grep -iE 'level=error|panic' "$WORK/daemon.log" | head -10
fi
exit $rc
