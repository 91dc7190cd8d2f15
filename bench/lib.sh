# shellcheck shell=bash
# Shared by the bench scripts (source it first):
#   bench_init NAME        WORK (removed at exit; KEEP=1 keeps it), PIDS stopped at exit,
#                          WABRIDGE_BIN and WABLOAD_BIN (built from this tree when unset)
#   free_port              a free loopback TCP port
#   write_config TOML      only write the config start_wabridge would
#   start_wabridge TOML    write $WORK/wabridge.toml ([log] warn, [store] in WORK plus
#                          STORE_TOML, [http] on HTTP_PORT, [api] token "bench-token", then
#                          TOML) and start it;
#                          sets DAEMON (pid) and BASE; exits when it does not get ready.
#                          PPROF=SECONDS: also a Go CPU profile of the daemon for SECONDS from
#                          2 s after it is ready (bench/results/NAME-cpu.pprof, the binary
#                          beside it as NAME-cpu.wabridge)
#                          TRACE=SECONDS: also a Go execution trace of the daemon for SECONDS
#                          from 2 s after it is ready (bench/results/NAME.trace); trace_report
#                          prints where its goroutines spent their time (bench/gstates.py)
#                          KPERF=SECONDS: also `perf record -g` of the daemon for SECONDS from
#                          2 s after it is ready (kernel and user, $WORK/kperf.data); perf_report
#                          prints where its CPU went, system calls included (bench/perfsplit.py)
#   trace_report           wait for that trace and print its summary (nothing without TRACE)
#   perf_report            wait for that perf record and print its split (nothing without KPERF)
#   perf_split DATA        print the split of any perf record -g file (bench/perfsplit.py)
#   start_pprof NAME PORT BIN  a PPROF-second Go CPU profile from the pprof listener at PORT,
#                          2 s from now (bench/results/NAME-cpu.pprof, BIN copied beside it)
#   pprof_report           wait for that profile; fails when it was not taken
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIDS=()

bench_init() {
	BENCH_NAME=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-bench-$1.XXXXXX")
	trap bench_cleanup EXIT
	[ -n "${WABRIDGE_BIN:-}" ] || { WABRIDGE_BIN=$WORK/wabridge; (cd "$BENCH_ROOT" && go build -o "$WABRIDGE_BIN" ./cmd/wabridge) || exit 1; }
	[ -n "${WABLOAD_BIN:-}" ] || { WABLOAD_BIN=$WORK/wabload; (cd "$BENCH_ROOT" && go build -o "$WABLOAD_BIN" ./cmd/wabload) || exit 1; }
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}

free_port() { python3 "$BENCH_ROOT/test/free_port.py" "$$"; } # never the same port twice

# write_config TOML: $WORK/wabridge.toml as start_wabridge writes it (daemon not started).
write_config() {
	HTTP_PORT=${HTTP_PORT:-$(free_port)}
	BASE=http://127.0.0.1:$HTTP_PORT
	local pprof_toml=""
	if [ -n "${PPROF:-}${TRACE:-}" ]; then
		PPROF_PORT=${PPROF_PORT:-$(free_port)}
		pprof_toml="[daemon]
pprof_listen = \"127.0.0.1:$PPROF_PORT\""
	fi
	cat >"$WORK/wabridge.toml" <<TOML
$pprof_toml
[log]
level = "warn"
[store]
path = "$WORK/wabridge.db"
${STORE_TOML:-}
[http]
listen = "127.0.0.1:$HTTP_PORT"
[api]
tokens = ["bench-token"]
$1
TOML
}

start_wabridge() {
	write_config "$1"
	"$WABRIDGE_BIN" serve -config "$WORK/wabridge.toml" >"$WORK/daemon.log" 2>&1 &
	DAEMON=$!
	PIDS+=("$DAEMON")
	local _
	for _ in $(seq 1 200); do
		if curl -fsS "$BASE/readyz" >/dev/null 2>&1; then
			[ -z "${PPROF:-}" ] || start_pprof "$BENCH_NAME" "$PPROF_PORT" "$WABRIDGE_BIN"
			[ -z "${TRACE:-}" ] || start_trace "$BENCH_NAME" "$PPROF_PORT"
			[ -z "${KPERF:-}" ] || start_perf "$DAEMON"
			return 0
		fi
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.05
	done
	echo "wabridge did not start:" >&2
	tail -20 "$WORK/daemon.log" >&2
	exit 1
}

# fetch_later FILE URL: fetch URL into FILE (under bench/results, made if
# missing) 2 s from now, in the background; $! is the fetch.
fetch_later() {
	mkdir -p "$BENCH_ROOT/bench/results"
	(sleep 2; curl -fsS -o "$1" "$2") &
}

# start_trace NAME PORT: fetch a TRACE-second execution trace from the
# daemon's pprof listener at PORT, 2 s from now, into bench/results/NAME.trace.
start_trace() {
	TRACE_FILE=$BENCH_ROOT/bench/results/$1.trace
	fetch_later "$TRACE_FILE" "http://127.0.0.1:$2/debug/pprof/trace?seconds=$TRACE"
	TRACE_PID=$!
}

# trace_report: wait for start_trace's trace and print where the daemon's
# goroutines spent their time.
trace_report() {
	[ -n "${TRACE_PID:-}" ] || return 0
	wait "$TRACE_PID" || { echo "trace: not taken" >&2; return 1; }
	echo "== goroutines over ${TRACE}s of the run (go tool trace -d=parsed $TRACE_FILE | bench/gstates.py)"
	go tool trace -d=parsed "$TRACE_FILE" 2>/dev/null | python3 "$BENCH_ROOT/bench/gstates.py"
}

# perf_split DATA: where the CPU recorded in perf file DATA went, by
# system call, kernel and user (bench/perfsplit.py).
perf_split() {
	perf script -i "$1" -F ip,sym,dso 2>/dev/null | python3 "$BENCH_ROOT/bench/perfsplit.py"
}

# start_pprof NAME PORT BIN: a PPROF-second CPU profile of the daemon whose
# pprof listener is at PORT, 2 s from now, into bench/results/NAME-cpu.pprof,
# with BIN copied beside it (NAME-cpu.wabridge) for go tool pprof.
start_pprof() {
	PPROF_FILE=$BENCH_ROOT/bench/results/$1-cpu.pprof
	fetch_later "$PPROF_FILE" "http://127.0.0.1:$2/debug/pprof/profile?seconds=$PPROF"
	PPROF_PID=$!
	cp "$3" "$BENCH_ROOT/bench/results/$1-cpu.wabridge"
}

# pprof_report: wait for start_pprof's profile (the daemon must still run;
# a profile longer than the load also covers the idle time after it) and
# say where it is; 1 when it was not taken.
pprof_report() {
	[ -n "${PPROF_PID:-}" ] || return 0
	wait "$PPROF_PID" || { echo "pprof: CPU profile not taken (the daemon's pprof listener did not answer)" >&2; return 1; }
	echo "== CPU profile: go tool pprof ${PPROF_FILE%.pprof}.wabridge $PPROF_FILE"
}

# start_perf PID: `perf record -g` of PID for KPERF seconds, 2 s from now,
# into $WORK/kperf.data. A missing perf fails the report, never silently.
start_perf() {
	PERF_DATA=$WORK/kperf.data
	(sleep 2; perf record -F 999 -g -p "$1" -o "$PERF_DATA" -- sleep "$KPERF" >"$WORK/perf.log" 2>&1) &
	PERF_REC_PID=$!
}

# perf_report: wait for start_perf's record and print where the daemon's
# CPU went (bench/perfsplit.py), then the top kernel and user symbols.
perf_report() {
	[ -n "${PERF_REC_PID:-}" ] || return 0
	wait "$PERF_REC_PID"
	if [ ! -s "$PERF_DATA" ]; then
		echo "perf: not recorded (is perf installed? kernel.perf_event_paranoid?)" >&2
		cat "$WORK/perf.log" >&2
		return 1
	fi
	echo "== the daemon's CPU over ${KPERF}s of the run (perf record -g | bench/perfsplit.py)"
	perf_split "$PERF_DATA" | sed 's/^/   /'
	echo "   top symbols by self time:"
	perf report -i "$PERF_DATA" --no-children --sort symbol --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -15 | awk '{print "     ", $1, $2, $3}'
	return 0 # (head closing the pipe early is not a failure)
}
