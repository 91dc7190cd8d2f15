#!/usr/bin/env bash
# Idle SMPP binds: CONNS (10000) transceiver binds held open against the
# wabridge binary (answering enquire_link), and its resident memory per bind.
#   CONNS=10000 HOLD=10s bench/smpp/idle.sh
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
CONNS=${CONNS:-10000}
HOLD=${HOLD:-10s}
bench_init smpp-idle
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
SMPP_PORT=$(free_port)
start_wabridge "[smpp]
listen = \"127.0.0.1:$SMPP_PORT\"
[[smpp.accounts]]
system_id = \"idle\"
password = \"idlepw\"
numbers = [\"+15550100001\"]
max_binds = 20000
[sandbox]
listen = \"127.0.0.1:$(free_port)\""
"$WABLOAD_BIN" smpp-idle -addr "127.0.0.1:$SMPP_PORT" -system-id idle -password idlepw -conns "$CONNS" -hold "$HOLD" -pid "$DAEMON"
