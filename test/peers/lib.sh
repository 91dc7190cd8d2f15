# Shared helpers for peer tests: third-party clients (curl, wrk, …) against
# the real wabridge binary on loopback. Source it; it defines:
#   start_daemon [extra TOML]   build (once), write a config, start, wait for /readyz
#   check NAME CMD...           run one check; print PEER PASS/FAIL NAME
#   finish                      exit 1 if any check failed
# Every script prints one "PEER PASS|FAIL <name>" line per check; .ci/run counts them.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-peer.XXXXXX")
FAILED=0
PIDS=()

cleanup() {
	# Processes started inside a check (a subshell) are listed in
	# $WORK/pids by track_pid: PIDS+=() there is lost with the subshell.
	[ -f "$WORK/pids" ] && mapfile -t -O "${#PIDS[@]}" PIDS <"$WORK/pids"
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for p in "${PIDS[@]:-}"; do
		for _ in $(seq 1 100); do [ -n "$p" ] && kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$WORK"
}

# track_pid PID — have cleanup stop PID, also when it was started inside a
# check (whose subshell's PIDS are lost).
track_pid() {
	PIDS+=("$1")
	echo "$1" >>"$WORK/pids"
}
trap cleanup EXIT

free_port() { python3 "$ROOT/test/free_port.py" "$$"; } # never the same port twice

build() {
	if [ -n "${WABRIDGE_BIN:-}" ] && [ -x "$WABRIDGE_BIN" ]; then
		BIN=$WABRIDGE_BIN
	else
		BIN=$WORK/wabridge
		(cd "$ROOT" && go build -o "$BIN" ./cmd/wabridge) || { echo "build failed"; exit 1; }
	fi
}

# start_daemon writes a config on loopback ports with the embedded sandbox
# (plus any TOML given as $1) and starts `wabridge serve`.
start_daemon() {
	build
	HTTP_PORT=$(free_port)
	SANDBOX_PORT=$(free_port)
	BASE=http://127.0.0.1:$HTTP_PORT
	SANDBOX=http://127.0.0.1:$SANDBOX_PORT
	TOKEN=peer-test-token
	APP_SECRET=sandbox-app-secret
	cat >"$WORK/wabridge.toml" <<TOML
[store]
path = "$WORK/wabridge.db"
[http]
listen = "127.0.0.1:$HTTP_PORT"
[api]
tokens = ["$TOKEN"]
[outbox]
pair_interval = "0s" # the peers send bursts to one customer; pacing is tested in bridge/
[sandbox]
listen = "127.0.0.1:$SANDBOX_PORT"
status_delay = "20ms"
${1:-}
TOML
	"$BIN" serve -config "$WORK/wabridge.toml" >"$WORK/daemon.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 1 200); do
		curl -fsS "$BASE/readyz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "daemon did not start:"; tail -20 "$WORK/daemon.log"
	exit 1
}

check() {
	local name=$1; shift
	local out
	if out=$("$@" 2>&1); then
		echo "PEER PASS $name"
	else
		echo "PEER FAIL $name"
		echo "$out" | tail -20 | sed 's/^/    /'
		FAILED=1
	fi
}

finish() {
	if [ "$FAILED" != 0 ]; then
		echo "--- daemon log (tail) ---"; tail -30 "$WORK/daemon.log" 2>/dev/null
		exit 1
	fi
	exit 0
}

# api METHOD PATH [JSON] — curl with the bearer token; prints the body.
api() {
	if [ $# -ge 3 ]; then
		curl -sS -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "$3" "$BASE$2"
	else
		curl -sS -X "$1" -H "Authorization: Bearer $TOKEN" "$BASE$2"
	fi
}

# wait_status ID STATUS — poll the REST API until the message has STATUS.
wait_status() {
	local s=""
	for _ in $(seq 1 200); do
		s=$(api GET "/api/v1/messages/$1" | jq -r .status)
		[ "$s" = "$2" ] && return 0
		sleep 0.05
	done
	echo "message $1: status $s, want $2"; return 1
}
