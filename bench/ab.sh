#!/usr/bin/env bash
# A/B of two wabridge binaries on one scenario: runs alternate A B B A A B …
# so the machine's drift (a quarter over tens of minutes here) falls on both
# alike, and each pair is compared on the daemon's CPU per operation (from
# /proc; steadier than throughput on a shared machine) and on throughput.
#
#   A=/tmp/wabridge.before B=/tmp/wabridge.after PAIRS=8 bench/ab.sh webhook
#   RATE=20000 A=… B=… bench/ab.sh webhook     # at a constant rate, below saturation
#   COUNT=20000 WINDOW=50 A=… B=… bench/ab.sh smpp
# Scenarios: webhook (bench/webhook/run.sh, without the no-op ceiling:
# CONNS 256, DURATION 8s unless set) and smpp (bench/smpp/wabridge.sh). Other
# environment variables pass through to the scenario's script.
# Prints every run, then per pair B/A of CPU per operation and of throughput,
# their medians, and in how many pairs B took less CPU, with the two-sided
# sign test's p (the chance of a split at least that uneven if A and B cost
# the same). Not part of CI: the figures are this machine's.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCENARIO=${1:?usage: A=binary B=binary [PAIRS=8] bench/ab.sh webhook|smpp}
: "${A:?A=the first wabridge binary}" "${B:?B=the second wabridge binary}"
PAIRS=${PAIRS:-8}
export WABLOAD_BIN=${WABLOAD_BIN:-$(mktemp -d)/wabload}
[ -x "$WABLOAD_BIN" ] || (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

one() { # one LABEL BINARY: a run of the scenario, its RESULT line tagged
	local label=$1 bin=$2 res
	case $SCENARIO in
	webhook) res=$(NOOP=0 CONNS=${CONNS:-256} DURATION=${DURATION:-8s} WABRIDGE_BIN=$bin bash "$ROOT/bench/webhook/run.sh" 2>&1) ;;
	smpp) res=$(WABRIDGE_BIN=$bin bash "$ROOT/bench/smpp/wabridge.sh" 2>&1) ;;
	*) echo "ab.sh: unknown scenario $SCENARIO" >&2; exit 2 ;;
	esac
	res=$(sed -n 's/^RESULT //p' <<<"$res" | tail -1)
	if [ -z "$res" ]; then echo "ab.sh: run $label gave no RESULT" >&2; exit 1; fi
	jq -c --arg l "$label" '{label: $l, tput: .throughput_per_s, cpu: .cpu_per_op_ns}' <<<"$res" | tee -a "$OUT"
}

for i in $(seq 1 "$PAIRS"); do
	if [ $((i % 2)) = 1 ]; then one A "$A"; one B "$B"; else one B "$B"; one A "$A"; fi
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
print(f"A: cpu µs/op median {statistics.median(x['cpu'] for x in a) / 1000:.1f}, throughput median {statistics.median(x['tput'] for x in a):,.0f}/s")
print(f"B: cpu µs/op median {statistics.median(x['cpu'] for x in b) / 1000:.1f}, throughput median {statistics.median(x['tput'] for x in b):,.0f}/s")
print("B/A cpu per op by pair:", " ".join(f"{r:.3f}" for r in cpu), f"median {statistics.median(cpu):.3f}")
print("B/A throughput by pair:", " ".join(f"{r:.3f}" for r in tput), f"median {statistics.median(tput):.3f}")
print(f"B took less CPU per op in {less} of {n} pairs (sign test p = {p:.3f})")
PY
