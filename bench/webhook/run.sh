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
# Prints both reports (each ends with a RESULT {json} line).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONNS=${CONNS:-256}
DURATION=${DURATION:-10s}
KIND=${KIND:-meta-status}
EVENTS=${EVENTS:-1}
RATE=${RATE:-0}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-webhook.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
[ -n "${WABRIDGE_BIN:-}" ] || { WABRIDGE_BIN=$WORK/wabridge; (cd "$ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || exit 1; }
[ -n "${WABLOAD_BIN:-}" ] || { WABLOAD_BIN=$WORK/wabload; (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1; }

# 1. The ceiling.
NOOP_PORT=$(free_port)
"$WABLOAD_BIN" noop -listen "127.0.0.1:$NOOP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.3
path=/webhooks/whatsapp
case $KIND in twilio-*) path=/webhooks/twilio ;; esac
"$WABLOAD_BIN" webhook -url "http://127.0.0.1:$NOOP_PORT$path" -kind "$KIND" -events "$EVENTS" -connections "$CONNS" \
	-rate "$RATE" -duration "$DURATION" -settings server=noop | sed 's/"scenario":"webhook /"scenario":"noop webhook /'
kill "${PIDS[0]}" 2>/dev/null

# 2. wabridge.
HTTP_PORT=$(free_port)
SANDBOX_PORT=$(free_port)
TWILIO_PORT=$(free_port)
extra=""
case $KIND in twilio-*) extra="[whatsapp]
provider = \"twilio\"" ;; esac
cat >"$WORK/wabridge.toml" <<TOML
[log]
level = "warn"
[store]
path = "$WORK/wabridge.db"
[http]
listen = "127.0.0.1:$HTTP_PORT"
max_body_bytes = "4MiB"
[api]
tokens = ["bench-token"]
[sandbox]
listen = "127.0.0.1:$SANDBOX_PORT"
twilio_listen = "127.0.0.1:$TWILIO_PORT"
$extra
TOML
"$WABRIDGE_BIN" serve -config "$WORK/wabridge.toml" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
PIDS+=($DAEMON)
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
fsyncs() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^wabridge_store_fsyncs_total/ {print $2}'; }
f0=$(fsyncs)
out=$("$WABLOAD_BIN" webhook -url "http://127.0.0.1:$HTTP_PORT$path" -kind "$KIND" -events "$EVENTS" -connections "$CONNS" \
	-rate "$RATE" -duration "$DURATION" -pid "$DAEMON" \
	-settings server=wabridge -settings durability="sqlite wal, synchronous=FULL, group commit (commit_batch 256)")
code=$?
f1=$(fsyncs)
ops=$(echo "$out" | sed -n 's/^RESULT //p' | jq -r .ops)
per=$(python3 -c "print(round(($ops * $EVENTS) / max(1, $f1 - $f0), 1))")
echo "$out" | sed "s/^RESULT {/RESULT {\"events_per_fsync\":$per,/"
echo "   events per fsync: $per ($((f1 - f0)) fsyncs)"
exit $code
