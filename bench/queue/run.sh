#!/usr/bin/env bash
# Queue scenarios against the wabridge binary with its embedded sandbox:
#   restart  N (1,000,000) template messages queued straight into a stopped
#            daemon's database ("wabload seed"), then "wabload restart" starts
#            it and measures the time until /readyz answers, until a REST
#            submit is accepted and until the first queued message reaches
#            the sandbox; then the send rate for a few seconds.
#   pacing   REST submissions above [outbox] number_rate for one business
#            number; the sandbox's arrival times give the achieved rate.
#
#   bench/queue/run.sh restart            N=1000000 RUNS=1
#   LIMIT=1000 bench/queue/run.sh pacing  LIMIT (80) DURATION (10s)
# Environment: WORKERS (outbox senders, 64) WABRIDGE_BIN WABLOAD_BIN KEEP=1
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WHAT=${1:-restart}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-queue.XXXXXX")
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

HTTP_PORT=$(free_port)
SANDBOX_PORT=$(free_port)
config() { # $1: number_rate
	cat >"$WORK/wabridge.toml" <<TOML
[log]
level = "warn"
[store]
path = "$WORK/wabridge.db"
[http]
listen = "127.0.0.1:$HTTP_PORT"
[api]
tokens = ["bench-token"]
[outbox]
workers = ${WORKERS:-64}
number_rate = $1
pair_interval = "0s"
poll_interval = "${POLL:-1s}"
[sandbox]
listen = "127.0.0.1:$SANDBOX_PORT"
auto_read = false
statuses = "none"
TOML
}

case $WHAT in
restart)
	N=${N:-1000000}
	config 0
	t0=$(date +%s.%N)
	"$WABLOAD_BIN" seed -db "$WORK/wabridge.db" -n "$N" || exit 1
	echo "   seeding took $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
	cp "$WORK/wabridge.db" "$WORK/seeded.db"
	for run in $(seq 1 "${RUNS:-1}"); do
		cp "$WORK/seeded.db" "$WORK/wabridge.db"
		rm -f "$WORK/wabridge.db-wal" "$WORK/wabridge.db-shm"
		"$WABLOAD_BIN" restart -bin "$WABRIDGE_BIN" -config "$WORK/wabridge.toml" -api "http://127.0.0.1:$HTTP_PORT" \
			-token bench-token -sandbox "http://127.0.0.1:$SANDBOX_PORT" -hold "${HOLD:-5s}" || exit 1
	done
	;;
pacing)
	LIMIT=${LIMIT:-80}
	config "$LIMIT"
	"$WABRIDGE_BIN" serve -config "$WORK/wabridge.toml" >"$WORK/daemon.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
	"$WABLOAD_BIN" pacing -api "http://127.0.0.1:$HTTP_PORT" -token bench-token -sandbox "http://127.0.0.1:$SANDBOX_PORT" \
		-limit "$LIMIT" -duration "${DURATION:-10s}"
	;;
*)
	echo "usage: $0 restart|pacing" >&2
	exit 2
	;;
esac
