#!/usr/bin/env bash
# A short run of every benchmark scenario and peer (bench/run.sh runs them
# in full): each must finish and print its RESULT line. Part of .ci/run;
# figures from it mean nothing (CI machines vary) and nothing is asserted
# about speed. Prints "BENCH SMOKE PASS|FAIL <name>" per scenario.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export WABRIDGE_BIN=${WABRIDGE_BIN:-$WORK/wabridge}
export WABLOAD_BIN=${WABLOAD_BIN:-$WORK/wabload}
[ -x "$WABRIDGE_BIN" ] || (cd "$ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || exit 1
[ -x "$WABLOAD_BIN" ] || (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1
failed=0
smoke() {
	local name=$1
	shift
	if timeout 300 "$@" >"$WORK/$name.log" 2>&1 && grep -q '^RESULT ' "$WORK/$name.log"; then
		echo "BENCH SMOKE PASS $name"
		grep -E '^   (ops|note)' "$WORK/$name.log" | head -3 | sed 's/^/    /'
	else
		echo "BENCH SMOKE FAIL $name"
		tail -20 "$WORK/$name.log" | sed 's/^/    /'
		failed=1
	fi
}
smoke webhook_meta env CONNS=16 DURATION=2s bash "$ROOT/bench/webhook/run.sh"
smoke webhook_rate env CONNS=16 DURATION=2s RATE=2000 bash "$ROOT/bench/webhook/run.sh"
smoke webhook_twilio env CONNS=16 DURATION=2s KIND=twilio-status bash "$ROOT/bench/webhook/run.sh"
# TRACE= takes an execution trace of the daemon and summarises it
# (bench/gstates.py): the summary must name the store's writer goroutine.
smoke webhook_trace bash -c "out=\$(CONNS=16 DURATION=3s TRACE=1 bash '$ROOT/bench/webhook/run.sh' 2>&1); echo \"\$out\"; grep -q 'store.(\*committer).loop' <<<\"\$out\""
# KPERF= records the daemon with perf (system calls included) and splits
# its CPU (bench/perfsplit.py): the split must name the socket writes.
smoke webhook_kperf bash -c "out=\$(CONNS=16 DURATION=4s KPERF=1 bash '$ROOT/bench/webhook/run.sh' 2>&1); echo \"\$out\"; grep -q 'syscall write' <<<\"\$out\""
# bench/ab.sh alternates two binaries (here the same one twice) and compares them.
smoke ab bash -c "out=\$(A='$WABRIDGE_BIN' B='$WABRIDGE_BIN' PAIRS=1 CONNS=16 DURATION=2s RATE=500 bash '$ROOT/bench/ab.sh' webhook 2>&1); echo \"\$out\"; grep -q 'sign test' <<<\"\$out\" && echo 'RESULT {}'"
# The disk alone (bench/run.sh records it in machine.txt).
smoke fsync "$WABLOAD_BIN" fsync -dir "$WORK" -count 50 -busy 1
smoke smpp env COUNT=300 BINDS=2 WINDOW=10 bash "$ROOT/bench/smpp/wabridge.sh"
smoke smpp_rate env COUNT=300 RATE=150 BINDS=2 WINDOW=10 bash "$ROOT/bench/smpp/wabridge.sh"
# KPERF= on the SMPP script too (bench/lib.sh's start_perf / perf_report).
smoke smpp_kperf bash -c "out=\$(COUNT=2000 RATE=500 BINDS=2 WINDOW=10 KPERF=1 bash '$ROOT/bench/smpp/wabridge.sh' 2>&1); echo \"\$out\"; grep -q 'syscall write' <<<\"\$out\""
# bench/rounds.py on a committed suite: the per-round ratios BENCHMARKS.md quotes.
smoke rounds bash -c "out=\$(python3 '$ROOT/bench/rounds.py' '$ROOT/bench/results/2026-11-23q'); echo \"\$out\"; grep -q '^webhook ratio: per round 0.474' <<<\"\$out\" && grep -q '^SMPP against Kannel' <<<\"\$out\" && echo 'RESULT {}'"
# ... and on a suite with each side's CPU (since the twenty-second round): the client's share.
smoke rounds_cpu bash -c "out=\$(python3 '$ROOT/bench/rounds.py' '$ROOT/bench/results/2026-11-24d'); echo \"\$out\"; grep -q '^no-op: .*µs per request 11.4 / 13.9 / 14.7; the client.s µs per request 15.0 / 18.7 / 19.6' <<<\"\$out\" && echo 'RESULT {}'"
# test_smsc's ports are compiled in (2345, 8080, 13000): one more try if
# they were still held when it started.
smoke kannel bash -c "COUNT=500 bash '$ROOT/bench/smpp/kannel.sh' || { sleep 5; COUNT=500 bash '$ROOT/bench/smpp/kannel.sh'; }"
smoke smtp bash "$ROOT/bench/mail/wabridge_smtp.sh" 2 512 2s
smoke postfix bash "$ROOT/bench/mail/postfix.sh" 2 512 200 2s
smoke imap bash "$ROOT/bench/mail/wabridge_imap.sh" 10 20 2s
smoke dovecot bash "$ROOT/bench/mail/dovecot_imap.sh" 10 20 2s
smoke pacing env LIMIT=80 DURATION=3s bash "$ROOT/bench/queue/run.sh" pacing
smoke restart env N=2000 HOLD=1s bash "$ROOT/bench/queue/run.sh" restart
smoke idle env IDLE_ONLY=200 bash "$ROOT/bench/mail/wabridge_imap.sh" 10 20 2s
smoke smpp_idle env CONNS=200 HOLD=1s bash "$ROOT/bench/smpp/idle.sh"
exit $failed
