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
#   pacing also takes PPROF, TRACE and KPERF (bench/lib.sh's start_wabridge)
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
WHAT=${1:-restart}
bench_init queue
HTTP_PORT=$(free_port)
SANDBOX_PORT=$(free_port)
outbox() { # $1: number_rate
	printf '[outbox]\nworkers = %s\nnumber_rate = %s\npair_interval = "0s"\npoll_interval = "%s"\n[sandbox]\nlisten = "127.0.0.1:%s"\nauto_read = false\nstatuses = "none"\n' \
		"${WORKERS:-64}" "$1" "${POLL:-1s}" "$SANDBOX_PORT"
}

case $WHAT in
restart)
	N=${N:-1000000}
	write_config "$(outbox 0)" # the restarts' config; "wabload restart" starts the daemon
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
	start_wabridge "$(outbox "$LIMIT")"
	"$WABLOAD_BIN" pacing -api "http://127.0.0.1:$HTTP_PORT" -token bench-token -sandbox "http://127.0.0.1:$SANDBOX_PORT" \
		-limit "$LIMIT" -duration "${DURATION:-10s}"
	code=$?
	# A profile, trace or perf record asked for (bench/lib.sh) and not taken fails the run.
	pprof_report || code=1
	trace_report || code=1
	perf_report || code=1
	exit $code
	;;
*)
	echo "usage: $0 restart|pacing" >&2
	exit 2
	;;
esac
