#!/usr/bin/env bash
# Idle SMPP binds: CONNS (10000) transceiver binds held open against the
# wabridge binary (answering enquire_link), and its resident memory per bind.
#   CONNS=10000 HOLD=10s bench/smpp/idle.sh
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CONNS=${CONNS:-10000}
HOLD=${HOLD:-10s}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-smpp-idle.XXXXXX")
DAEMON=""
cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
[ -n "${WABRIDGE_BIN:-}" ] || { WABRIDGE_BIN=$WORK/wabridge; (cd "$ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || exit 1; }
[ -n "${WABLOAD_BIN:-}" ] || { WABLOAD_BIN=$WORK/wabload; (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
HTTP_PORT=$(free_port)
SMPP_PORT=$(free_port)
SANDBOX_PORT=$(free_port)
cat >"$WORK/wabridge.toml" <<TOML
[log]
level = "warn"
[store]
path = "$WORK/wabridge.db"
[http]
listen = "127.0.0.1:$HTTP_PORT"
[api]
tokens = ["bench-token"]
[smpp]
listen = "127.0.0.1:$SMPP_PORT"
[[smpp.accounts]]
system_id = "idle"
password = "idlepw"
numbers = ["+15550100001"]
max_binds = 20000
[sandbox]
listen = "127.0.0.1:$SANDBOX_PORT"
TOML
"$WABRIDGE_BIN" serve -config "$WORK/wabridge.toml" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
"$WABLOAD_BIN" smpp-idle -addr "127.0.0.1:$SMPP_PORT" -system-id idle -password idlepw -conns "$CONNS" -hold "$HOLD" -pid "$DAEMON"
