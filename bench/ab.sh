#!/usr/bin/env bash
# A/B of two wabridge binaries on one scenario: runs alternate A B B A A B …
# so the machine's drift (a quarter over tens of minutes here) falls on both
# alike, and each pair is compared on the daemon's CPU per operation (from
# /proc; steadier than throughput on a shared machine) and on throughput.
#
#   A=/tmp/wabridge.before B=/tmp/wabridge.after PAIRS=8 bench/ab.sh webhook
#   RATE=20000 A=… B=… bench/ab.sh webhook     # at a constant rate, below saturation
#   COUNT=20000 WINDOW=50 A=… B=… bench/ab.sh smpp
#   A=bin B=bin B_STORE='writer_priority = 0' bench/ab.sh webhook   # one binary, two configs
# Scenarios: webhook (bench/webhook/run.sh, without the no-op ceiling:
# CONNS 256, DURATION 8s unless set), smpp (bench/smpp/wabridge.sh) and smtp
# (bench/mail/wabridge_smtp.sh SESSIONS SIZE DURATION: 32, 512, 8s). Other
# environment variables pass through to the scenario's script; A_STORE and
# B_STORE go into A's and B's [store] table (STORE_TOML), A_TOML and B_TOML
# after the rest of their config (EXTRA_TOML: other tables; not smtp).
# Prints every run, then per pair B/A of CPU per operation and of throughput,
# their medians, and in how many pairs B took less CPU, with the two-sided
# sign test's p (the chance of a split at least that uneven if A and B cost
# the same). Not part of CI: the figures are this machine's.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCENARIO=${1:?usage: A=binary B=binary [PAIRS=8] bench/ab.sh webhook|smpp|smtp}
: "${A:?A=the first wabridge binary}" "${B:?B=the second wabridge binary}"
PAIRS=${PAIRS:-8}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/runs.jsonl
export WABLOAD_BIN=${WABLOAD_BIN:-$TMP/wabload}
[ -x "$WABLOAD_BIN" ] || (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1

one() { # one LABEL BINARY STORE TOML: a run of the scenario, its RESULT line tagged
	local label=$1 bin=$2 store=$3 toml=$4 res
	case $SCENARIO in
	webhook) res=$(NOOP=0 CONNS=${CONNS:-256} DURATION=${DURATION:-8s} WABRIDGE_BIN=$bin STORE_TOML=$store EXTRA_TOML=$toml \
		bash "$ROOT/bench/webhook/run.sh" 2>&1) ;;
	smpp) res=$(WABRIDGE_BIN=$bin STORE_TOML=$store EXTRA_TOML=$toml bash "$ROOT/bench/smpp/wabridge.sh" 2>&1) ;;
	smtp) res=$(WABRIDGE_BIN=$bin STORE_TOML=$store bash "$ROOT/bench/mail/wabridge_smtp.sh" "${SESSIONS:-32}" "${SIZE:-512}" "${DURATION:-8s}" 2>&1) ;;
	*) echo "ab.sh: unknown scenario $SCENARIO" >&2; exit 2 ;;
	esac
	res=$(sed -n 's/^RESULT //p' <<<"$res" | tail -1)
	if [ -z "$res" ]; then echo "ab.sh: run $label gave no RESULT" >&2; exit 1; fi
	# p99 of the scenario's main latency: the webhook's answer, the submit_sm_resp.
	jq -c --arg l "$label" '{label: $l, tput: .throughput_per_s, cpu: .cpu_per_op_ns,
		p99: ((.latency.webhook // .latency.submit_sm_resp // .latency.message).p99_ns)}' <<<"$res" | tee -a "$OUT"
}

for i in $(seq 1 "$PAIRS"); do
	if [ $((i % 2)) = 1 ]; then
		one A "$A" "${A_STORE:-}" "${A_TOML:-}"; one B "$B" "${B_STORE:-}" "${B_TOML:-}"
	else
		one B "$B" "${B_STORE:-}" "${B_TOML:-}"; one A "$A" "${A_STORE:-}" "${A_TOML:-}"
	fi
done
python3 - "$OUT" "$PAIRS" <<'PY'
import json, math, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
a = [r for r in runs if r["label"] == "A"]
b = [r for r in runs if r["label"] == "B"]
cpu = [y["cpu"] / x["cpu"] for x, y in zip(a, b)]
tput = [y["tput"] / x["tput"] for x, y in zip(a, b)]
n = len(cpu)
less = sum(1 for r in cpu if r < 1)
k = min(less, n - less)
p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
for name, rs in (("A", a), ("B", b)):
    cpu_med = statistics.median(x["cpu"] for x in rs) / 1000
    tput_med = statistics.median(x["tput"] for x in rs)
    p99s = " ".join("%.1f" % (x["p99"] / 1e6) for x in rs)
    print(f"{name}: cpu µs/op median {cpu_med:.1f}, throughput median {tput_med:,.0f}/s, p99 by run {p99s} ms")
print("B/A cpu per op by pair:", " ".join(f"{r:.3f}" for r in cpu), f"median {statistics.median(cpu):.3f}")
print("B/A throughput by pair:", " ".join(f"{r:.3f}" for r in tput), f"median {statistics.median(tput):.3f}")
print(f"B took less CPU per op in {less} of {n} pairs (sign test p = {p:.3f})")
PY
