#!/usr/bin/env bash
# Webhook ingestion, durable before 200, next to its ceiling:
#   1. "wabload noop": a fasthttp server that does nothing — the most any
#      HTTP front door can do on this machine with this client;
#   2. wabridge (the binary, shipped durability: SQLite WAL, synchronous=FULL,
#      group commit) with distinct signed Meta status webhooks — every event
#      is new and committed before its 200.
# Both with the same client, connections and duration; the fsyncs per event
# are read from /metrics (wabridge_store_fsyncs_total).
#
#   bench/webhook/run.sh                 256 connections, 10 s each
#   CONNS=64 DURATION=5s KIND=meta-message bench/webhook/run.sh
# Environment: CONNS (256) DURATION (10s) KIND (meta-status|meta-message|twilio-status|twilio-message)
#   EVENTS (events per webhook, 1) RATE (0 = flat out) WABRIDGE_BIN WABLOAD_BIN KEEP=1
#   NOOP=0: skip the ceiling (the no-op server's run)
#   STORE_TOML: added to the daemon's [store] table (experiments, e.g. 'writer_priority = 0')
#   EXTRA_TOML: appended to the daemon's config (other tables; [sandbox] is the script's)
#   PPROF=SECONDS / TRACE=SECONDS: a CPU profile / an execution trace of the daemon (bench/lib.sh)
#   KPERF=SECONDS: a perf record of the daemon, system calls included (bench/lib.sh, perfsplit.py)
# Prints both reports (each ends with a RESULT {json} line).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
CONNS=${CONNS:-256}
DURATION=${DURATION:-10s}
KIND=${KIND:-meta-status}
EVENTS=${EVENTS:-1}
RATE=${RATE:-0}
bench_init webhook

path=/webhooks/whatsapp
case $KIND in twilio-*) path=/webhooks/twilio ;; esac
# 1. The ceiling (NOOP=0 skips it: bench/ab.sh compares daemons only).
if [ "${NOOP:-1}" != 0 ]; then
	NOOP_PORT=$(free_port)
	"$WABLOAD_BIN" noop -listen "127.0.0.1:$NOOP_PORT" >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.3
	# -pid: the ceiling's own CPU per request, beside the daemon's per event
	# (and the client's in both runs: how the two cores were shared).
	"$WABLOAD_BIN" webhook -url "http://127.0.0.1:$NOOP_PORT$path" -kind "$KIND" -events "$EVENTS" -connections "$CONNS" \
		-rate "$RATE" -duration "$DURATION" -pid "${PIDS[0]}" -settings server=noop | sed 's/"scenario":"webhook /"scenario":"noop webhook /'
	kill "${PIDS[0]}" 2>/dev/null
fi

# 2. wabridge.
extra=""
case $KIND in twilio-*) extra="[whatsapp]
provider = \"twilio\"" ;; esac
start_wabridge "[sandbox]
listen = \"127.0.0.1:$(free_port)\"
twilio_listen = \"127.0.0.1:$(free_port)\"
$extra
${EXTRA_TOML:-}"
fsyncs() { curl -fsS "$BASE/metrics" | awk '/^wabridge_store_fsyncs_total/ {print $2}'; }
f0=$(fsyncs)
out=$("$WABLOAD_BIN" webhook -url "$BASE$path" -kind "$KIND" -events "$EVENTS" -connections "$CONNS" \
	-rate "$RATE" -duration "$DURATION" -pid "$DAEMON" \
	-settings server=wabridge -settings durability="sqlite wal, synchronous=FULL, group commit (commit_batch 256)")
code=$?
f1=$(fsyncs)
ops=$(echo "$out" | sed -n 's/^RESULT //p' | jq -r .ops)
per=$(python3 -c "print(round(($ops * $EVENTS) / max(1, $f1 - $f0), 1))")
echo "$out" | sed "s/^RESULT {/RESULT {\"events_per_fsync\":$per,/"
echo "   events per fsync: $per ($((f1 - f0)) fsyncs)"
# The store's group commits over the run: BEGIN -> durable, the COMMIT alone.
curl -fsS "$BASE/metrics" | python3 "$BENCH_ROOT/bench/histq.py" | sed 's/^/   /'
# A profile, trace or perf record asked for and not taken fails the run.
pprof_report || code=1
trace_report || code=1
perf_report || code=1
exit $code
