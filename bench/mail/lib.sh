# shellcheck shell=bash
# Helpers for the mail benchmarks (sourced by bench/mail/*.sh).
#   wabload ARGS...        $WABLOAD_BIN, else a build of ./cmd/wabload (once)
#   start_wabridge [TOML]  wabridge on loopback with the embedded sandbox, a mail
#                          user owning +15550100001, SMTP and IMAP listening with
#                          allow_insecure_auth; waits for /readyz; sets PID, BASE,
#                          SMTP_ADDR, IMAP_ADDR, WEBHOOK_URL, SANDBOX_URL
#                          PPROF=SECONDS: also take a Go CPU profile of the daemon for
#                          SECONDS from 2 s after the start (bench/results/mail-cpu.pprof,
#                          the binary beside it as mail-cpu.wabridge)
#   pprof_report           (bench/lib.sh) wait for that profile; fails when it was not taken
#   free_port, wait_port PORT
# Everything lives in $WORK (removed at exit; KEEP=1 keeps it); every process
# started here is stopped by its pid at exit.
set -euo pipefail

# start_pprof, pprof_report (the rest of bench/lib.sh is redefined below).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-mail.XXXXXX")
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do
		if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
	done
	wait 2>/dev/null || true
	if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 "$ROOT/test/free_port.py" "$$"; } # never the same port twice

wait_port() {
	local _
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

wabload() {
	if [ -z "${WABLOAD_BIN:-}" ]; then
		WABLOAD_BIN=$WORK/wabload
		(cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload)
	fi
	"$WABLOAD_BIN" "$@"
}

MAIL_DOMAIN=wa.localhost
MAIL_USER=agent
MAIL_PASS=bench-pass
BIZ=+15550100001

start_wabridge() {
	local bin=${WABRIDGE_BIN:-}
	if [ -z "$bin" ]; then
		bin=$WORK/wabridge
		(cd "$ROOT" && go build -o "$bin" ./cmd/wabridge)
	fi
	local http sandbox smtp imap
	http=$(free_port) sandbox=$(free_port) smtp=$(free_port) imap=$(free_port)
	BASE=http://127.0.0.1:$http
	SMTP_ADDR=127.0.0.1:$smtp
	SANDBOX_URL=http://127.0.0.1:$sandbox
	IMAP_ADDR=127.0.0.1:$imap
	# shellcheck disable=SC2034 # used by the scripts sourcing this file
	WEBHOOK_URL=$BASE/webhooks/whatsapp
	local pprof_toml="" pprof_port=""
	if [ -n "${PPROF:-}" ]; then
		pprof_port=$(free_port)
		pprof_toml="[daemon]
pprof_listen = \"127.0.0.1:$pprof_port\""
	fi
	cat >"$WORK/wabridge.toml" <<TOML
$pprof_toml
[log]
level = "warn"
[store]
path = "$WORK/wabridge.db"
${STORE_TOML:-}
[http]
listen = "127.0.0.1:$http"
[api]
tokens = ["bench-token"]
[outbox]
number_rate = 100000
pair_interval = "0s"
[sandbox]
listen = "127.0.0.1:$sandbox"
auto_read = false
status_delay = "20ms"
[mail]
domain = "$MAIL_DOMAIN"
[[mail.users]]
username = "$MAIL_USER"
password = "$MAIL_PASS"
numbers = ["$BIZ"]
[smtp]
listen = "$SMTP_ADDR"
allow_insecure_auth = true
[imap]
listen = "$IMAP_ADDR"
allow_insecure_auth = true
${1:-}
TOML
	"$bin" serve -config "$WORK/wabridge.toml" >"$WORK/wabridge.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	local _
	for _ in $(seq 1 400); do
		if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then
			wait_port "$smtp" && wait_port "$imap" || break
			[ -z "$pprof_port" ] || start_pprof mail "$pprof_port" "$bin"
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "wabridge did not start:" >&2
	tail -20 "$WORK/wabridge.log" >&2
	exit 1
}

# stop_pid PID: stop one process started here and wait for it.
stop_pid() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
