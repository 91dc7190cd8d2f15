#!/usr/bin/env bash
# Every benchmark scenario with its peer, RUNS times each (default 5, in
# rounds: each round runs every scenario once), then a table of min /
# median / max per scenario. Not part of CI's pass/fail (CI
# runs a short smoke of each scenario instead: bench/smoke.sh).
#
#   bench/run.sh                      everything, 5 runs each (about an hour)
#   RUNS=3 bench/run.sh webhook smtp  some scenarios
# Scenarios: webhook webhook_30k smpp smpp_half kannel smtp postfix imap dovecot pacing80 pacing1000 restart idle smpp_idle
# Results: bench/results/<UTC time>/results.jsonl (one RESULT per run, tagged)
# and summary.md; the machine (nproc, CPU model, memory, kernel, Go) is
# recorded in machine.txt.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
export WABRIDGE_BIN=${WABRIDGE_BIN:-$OUT/wabridge}
export WABLOAD_BIN=${WABLOAD_BIN:-$OUT/wabload}
[ -x "$WABRIDGE_BIN" ] || (cd "$ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || exit 1
[ -x "$WABLOAD_BIN" ] || (cd "$ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1
{
	echo "date: $(date -u +%FT%TZ)"
	echo "cores: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	grep MemTotal /proc/meminfo
	uname -r
	go version
	echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
	# The floor under every commit: the disk's write + fsync alone, then
	# with every core taken by a spinning thread (the wait for a CPU).
	echo "disk, wabload fsync -dir $OUT -duration 3s (32 KiB per fsync), alone and with -busy $(nproc):"
	"$WABLOAD_BIN" fsync -dir "$OUT" -duration 3s | grep '^   write+fsync'
	"$WABLOAD_BIN" fsync -dir "$OUT" -duration 3s -busy "$(nproc)" | grep '^   write+fsync'
} >"$OUT/machine.txt"

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(webhook webhook_30k smpp smpp_half kannel smtp postfix imap dovecot pacing80 pacing1000 restart idle smpp_idle)

# run TAG I CMD...: run CMD once as run I of TAG, keep its output, tag its
# RESULT lines.
run() {
	local tag=$1 i=$2
	shift 2
	echo "--- $tag run $i/$RUNS: $*"
	"$@" >"$OUT/$tag.$i.log" 2>&1
	grep '^RESULT ' "$OUT/$tag.$i.log" | sed 's/^RESULT //' |
		jq -c --arg tag "$tag" --argjson run "$i" '. + {tag: $tag, run: $run}' >>"$OUT/results.jsonl"
	grep -E "^   (ops|daemon|note|events per)|^== |^store|^server" "$OUT/$tag.$i.log" | sed 's/^/    /'
}

# scenario S I: run I of scenario S.
scenario() {
	local i=$2
	case $1 in
	webhook) run webhook "$i" env CONNS=256 DURATION=10s bash "$ROOT/bench/webhook/run.sh" ;;
	# the target rate, open loop: latency from each request's due time
	webhook_30k) run webhook_30k "$i" env CONNS=256 DURATION=10s RATE=30000 bash "$ROOT/bench/webhook/run.sh" ;;
	smpp) run smpp "$i" env COUNT=20000 BINDS=4 WINDOW=50 bash "$ROOT/bench/smpp/wabridge.sh" ;;
	smpp_half) run smpp_half "$i" env COUNT=25000 RATE=${SMPP_HALF_RATE:-2500} BINDS=4 WINDOW=50 bash "$ROOT/bench/smpp/wabridge.sh" ;;
	kannel) run kannel "$i" bash "$ROOT/bench/smpp/kannel.sh" ;;
	smtp) run smtp "$i" bash "$ROOT/bench/mail/wabridge_smtp.sh" 32 512 10s ;;
	postfix) run postfix "$i" bash "$ROOT/bench/mail/postfix.sh" 32 512 10000 10s ;;
	imap) run imap "$i" bash "$ROOT/bench/mail/wabridge_imap.sh" 200 1000 10s ;;
	dovecot) run dovecot "$i" bash "$ROOT/bench/mail/dovecot_imap.sh" 200 1000 10s ;;
	pacing80) run pacing80 "$i" env LIMIT=80 DURATION=10s bash "$ROOT/bench/queue/run.sh" pacing ;;
	pacing1000) run pacing1000 "$i" env LIMIT=1000 DURATION=10s bash "$ROOT/bench/queue/run.sh" pacing ;;
	restart) # in the first round: one seeding of 1,000,000 messages, then RUNS restarts on copies of it
		[ "$i" = 1 ] && run restart 1 env N=1000000 RUNS="$RUNS" bash "$ROOT/bench/queue/run.sh" restart
		;;
	idle) run idle "$i" env IDLE_ONLY=10000 bash "$ROOT/bench/mail/wabridge_imap.sh" 10 100 10s ;;
	smpp_idle) run smpp_idle "$i" env CONNS=10000 HOLD=10s bash "$ROOT/bench/smpp/idle.sh" ;;
	*) echo "unknown scenario $1" >&2 ;;
	esac
}

# RUNS rounds, each running every scenario once: a scenario and its peer
# are measured minutes apart, not a quarter of an hour (this machine's
# speed drifts by a quarter over tens of minutes).
for i in $(seq 1 "$RUNS"); do
	for s in "${scenarios[@]}"; do
		scenario "$s" "$i"
	done
done

python3 - "$OUT/results.jsonl" >"$OUT/summary.md" <<'PY'
import json, statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    peer = r.get("settings", {}).get("peer") or r.get("settings", {}).get("server") or ""
    rows[(r["tag"], r["scenario"], peer)].append(r)
def mmm(vals, fmt):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return "—"
    return " / ".join(fmt(v) for v in (vals[0], statistics.median(vals), vals[-1]))
print("| tag | scenario | peer | runs | throughput/s (min / median / max) | main p99 ms (min / median / max) | daemon CPU µs/op (median) | peak RSS MiB (median) |")
print("|---|---|---|---|---|---|---|---|")
for (tag, scen, peer), rs in rows.items():
    def p99(r):
        lat = r.get("latency") or {}
        for k in ("end_to_end", "webhook", "smtp", "commands", "submit_sm_resp", "sending"):
            if k in lat:
                return lat[k].get("p99_ns", 0) / 1e6
        return None
    cpu = [r.get("cpu_per_op_ns", 0) / 1e3 for r in rs if r.get("cpu_per_op_ns")]
    rss = [r.get("peak_rss_bytes", 0) / 2**20 for r in rs if r.get("peak_rss_bytes")]
    print(f"| {tag} | {scen} | {peer} | {len(rs)} | {mmm([r.get('throughput_per_s') for r in rs], lambda v: f'{v:,.0f}')} | "
          f"{mmm([p99(r) for r in rs], lambda v: f'{v:.2f}')} | {statistics.median(cpu):.0f} | {statistics.median(rss):.0f} |"
          if cpu and rss else
          f"| {tag} | {scen} | {peer} | {len(rs)} | {mmm([r.get('throughput_per_s') for r in rs], lambda v: f'{v:,.0f}')} | "
          f"{mmm([p99(r) for r in rs], lambda v: f'{v:.2f}')} | — | — |")
PY
cat "$OUT/summary.md"
echo "results in $OUT"
