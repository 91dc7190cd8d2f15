#!/usr/bin/env bash
# Kannel's own SMS benchmark (benchmarks/bench_sms.sh in Kannel's source,
# "n_messages" mode), run on loopback with the Debian packages kannel and
# kannel-extras (which ships /usr/lib/kannel/test/test_smsc).
#
# What it measures: test_smsc is an SMPP SMS-center emulator plus an HTTP
# server emulator. bearerbox binds to it as an ESME (a transmitter and a
# receiver bind on port 2345); test_smsc keeps up to 1,000 MO messages in the
# pipeline, sending them as deliver_sm (its writer holds at most 10
# unanswered per bind). bearerbox passes each MO to smsbox, which calls the
# sms-service get-url on test_smsc's HTTP emulator (port 8080); the HTTP
# body comes back as the reply text, smsbox hands the MT to bearerbox, which
# sends it as submit_sm to test_smsc, which answers submit_sm_resp and counts
# it. After N submit_sm, test_smsc shuts Kannel down through the admin port
# (13000, password "bar"). So one "message" is MO deliver_sm → bearerbox →
# smsbox → HTTP → smsbox → bearerbox → MT submit_sm, with no delivery
# receipts. Throughput (throughput_per_s) = the steady rate: mean submit_sm
# per busy second from test_smsc's log (see below). Also printed: N / wall
# time from smsbox's start (when the queued MOs start to flow) to
# test_smsc's exit, and Kannel's own figure (bench_sms.sh: the mean of the
# per-second submit counts over the seconds that had any).
#
# Durability: bearerbox runs with store-type = file and a store-location:
# every MO and MT is appended to the store file (write + fflush, no fsync)
# when it enters bearerbox and an ack record when it leaves, so a crash of
# the process loses nothing queued, but a power loss can. STORE=none runs
# without a store. Logging is at panic level only (-v 4, log-level 4, no
# access log); test_smsc itself logs every event at INFO, as in Kannel's
# benchmark.
#
#   bench/smpp/kannel.sh                 COUNT=20000
#   COUNT=100000 STORE=none bench/smpp/kannel.sh
#   TIMEOUT (600 s for the whole run)  STALL (30 s without a new submit_sm: the run failed)
#
# test_smsc's ports are compiled in (2345 SMPP, 8080 HTTP, 13000 Kannel
# admin): they must be free. Prints a `RESULT {json}` line.
set -uo pipefail

COUNT=${COUNT:-20000}
STORE=${STORE:-file}
TEST_SMSC=${TEST_SMSC:-/usr/lib/kannel/test/test_smsc}
TIMEOUT=${TIMEOUT:-600}
# A run whose submit_sm count has not moved for STALL seconds has stalled
# (Kannel once kept 3 of 20,000 messages forever): it ends as a failure
# then rather than at TIMEOUT.
STALL=${STALL:-30}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kannel-bench.XXXXXX")
PIDS=()
stop_pid() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

install_kannel() {
	[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] && [ -x "$TEST_SMSC" ] && return 0
	# same rule as test/peers/smpp/lib_smpp.sh: apt must not start Kannel's service
	local made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends kannel kannel-extras >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends kannel kannel-extras >/dev/null; }
	local rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}
install_kannel || { echo "kannel / kannel-extras install failed"; exit 1; }

FREE_PORT_PY=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/test/free_port.py
free_port() { python3 "$FREE_PORT_PY" "$$"; } # never the same port twice
for p in 2345 8080 13000; do
	if python3 -c "import socket,sys;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',$p))" 2>/dev/null; then :; else
		echo "port $p is in use; test_smsc needs it"; exit 1
	fi
done
BOX_PORT=$(free_port)
SENDSMS_PORT=$(free_port)

STORE_LINES=""
if [ "$STORE" = file ]; then
	STORE_LINES="store-type = file
store-location = \"$WORK/kannel.store\""
fi
# As Kannel's benchmarks/bench_sms.conf, with minimal logging and a store.
cat >"$WORK/bench_sms.conf" <<EOF
group = core
admin-port = 13000
admin-password = bar
admin-interface = 127.0.0.1
admin-allow-ip = "127.0.0.1"
smsbox-port = $BOX_PORT
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "$WORK/bearerbox.log"
log-level = 4
$STORE_LINES

# Kannel 1.4.5 refuses port and receive-port in one group (bench_sms.conf
# has both): a transmitter and a receiver group with the same smsc-id.
group = smsc
smsc = smpp
smsc-id = smpp
host = 127.0.0.1
port = 2345
smsc-username = xyzzy
smsc-password = xyzzy
system-type = "VMA"
address-range = ""

group = smsc
smsc = smpp
smsc-id = smpp
host = 127.0.0.1
receive-port = 2345
smsc-username = xyzzy
smsc-password = xyzzy
system-type = "VMA"
address-range = ""

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $BOX_PORT
sendsms-port = $SENDSMS_PORT
sendsms-interface = 127.0.0.1
global-sender = 123
log-file = "$WORK/smsbox.log"
log-level = 4

group = sms-service
keyword = default
get-url = "http://localhost:8080/foo?arg=%a"
EOF

"$TEST_SMSC" -m n_messages -r "$COUNT" 2>"$WORK/test_smsc.log" &
SMSC_PID=$!
PIDS+=("$SMSC_PID")
sleep 1
/usr/sbin/bearerbox -v 4 "$WORK/bench_sms.conf" >"$WORK/bearerbox.out" 2>&1 &
BB_PID=$!
PIDS+=("$BB_PID")
# until bearerbox's receiver bind is up (test_smsc logs got_smsc)
up=0
for _ in $(seq 1 100); do
	grep -q 'Got event got_smsc' "$WORK/test_smsc.log" 2>/dev/null && { up=1; break; }
	kill -0 "$BB_PID" 2>/dev/null || break
	sleep 0.1
done
if [ "$up" != 1 ]; then
	echo "bearerbox did not bind to test_smsc:"; grep -v DEBUG "$WORK/bearerbox.out" | head -20; exit 1
fi
T0=$(date +%s.%N)
CPU0=$(awk '{print $14+$15}' "/proc/$BB_PID/stat")
/usr/sbin/smsbox -v 4 "$WORK/bench_sms.conf" >"$WORK/smsbox.out" 2>&1 &
SB_PID=$!
PIDS+=("$SB_PID")

# test_smsc exits after COUNT submit_sm (it shuts Kannel down first).
cpu_of() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null; }
BB_CPU=0
SB_CPU=0
deadline=$(($(date +%s) + TIMEOUT))
last_count=-1
last_move=$(date +%s)
while kill -0 "$SMSC_PID" 2>/dev/null; do
	if ! kill -0 "$SB_PID" 2>/dev/null && ! kill -0 "$BB_PID" 2>/dev/null; then
		# test_smsc shuts Kannel down once it has counted COUNT, then exits
		# itself: give it 5 s (it took more than 1 s in a slow hour, and
		# more than 5 s once, with every submit counted).
		gone=$(date +%s.%N)
		for _ in $(seq 1 50); do kill -0 "$SMSC_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$SMSC_PID" 2>/dev/null || break
		counted=$(grep -c 'type submit,' "$WORK/test_smsc.log" 2>/dev/null)
		if [ "${counted:-0}" -ge "$COUNT" ]; then
			echo "test_smsc counted all $COUNT submit_sm and had not exited 5 s after Kannel's shutdown: stopped"
			kill "$SMSC_PID" 2>/dev/null
			T1=$gone # the wall time ends at Kannel's shutdown, not at the kill
			break
		fi
		echo "bearerbox and smsbox exited before test_smsc counted $COUNT submit_sm (${counted:-0} counted):"
		grep -v DEBUG "$WORK/bearerbox.out" "$WORK/smsbox.out" | head -20
		tail -5 "$WORK/test_smsc.log"; exit 1
	fi
	c=$(cpu_of "$BB_PID") && [ -n "$c" ] && BB_CPU=$c
	c=$(cpu_of "$SB_PID") && [ -n "$c" ] && SB_CPU=$c
	if [ "$(date +%s)" -ge "$deadline" ]; then echo "timeout after ${TIMEOUT}s"; tail -5 "$WORK/test_smsc.log"; exit 1; fi
	now=$(date +%s)
	if [ $((now - last_move)) -ge 1 ]; then
		n=$(grep -c 'type submit,' "$WORK/test_smsc.log" 2>/dev/null)
		if [ "${n:-0}" != "$last_count" ]; then
			last_count=${n:-0}
			last_move=$now
		elif [ $((now - last_move)) -ge "$STALL" ] && [ "$last_count" -gt 0 ]; then
			echo "stalled: test_smsc counted $last_count of $COUNT submit_sm and none for ${STALL}s"
			exit 1
		fi
	fi
	sleep 0.05
done
T1=${T1:-$(date +%s.%N)} # set when Kannel had shut down and test_smsc was slow to exit
wait "$SMSC_PID" 2>/dev/null

SUBMITS=$(grep -c 'type submit,' "$WORK/test_smsc.log")
# Per-second submit counts from test_smsc's log (Kannel's bench_sms.sh
# plots these). Kannel's own figure is their mean over the run's seconds;
# the steady rate is the mean over the busy seconds (at least 10% of the
# busiest), leaving out the first and last busy second (partial), so a
# stalled tail — Kannel sometimes leaves a few messages for tens of seconds
# — does not hide the rate it sustained.
awk '/INFO: Event .*, type submit,/ { print $NF }' "$WORK/test_smsc.log" | uniq -c >"$WORK/per_second.txt"
read -r KANNEL_AVG KANNEL_DURATION < <(awk 'NR == 1 { first = $2 } { sum += $1; last = $2 } END { if (NR) printf "%.0f %d\n", sum / NR, last - first; else print "0 0" }' "$WORK/per_second.txt")
STEADY=$(awk '{ c[NR] = $1; if ($1 > m) m = $1 } END {
	n = 0; for (i = 1; i <= NR; i++) if (c[i] >= m / 10) b[++n] = c[i]
	lo = 1; hi = n; if (n >= 3) { lo = 2; hi = n - 1 }
	s = 0; for (i = lo; i <= hi; i++) s += b[i]; if (hi >= lo) printf "%.0f", s / (hi - lo + 1); else print 0 }' "$WORK/per_second.txt")
TAIL=$(awk -v n="$SUBMITS" '{ s += $1; if (!t && s >= n * 0.999) t = $2; last = $2 } END { print last - t }' "$WORK/per_second.txt")
ELAPSED=$(echo "$T1 - $T0" | bc -l)
TPUT=$(echo "$SUBMITS / $ELAPSED" | bc -l)
# CPU (user+sys ticks, USER_HZ 100) of bearerbox and smsbox during the run (last sample before they exited)
CPU_S=$(echo "($BB_CPU - $CPU0 + $SB_CPU) / 100" | bc -l)
CPU_PER_MSG_US=$(echo "if ($SUBMITS > 0) $CPU_S * 1000000 / $SUBMITS else 0" | bc -l)
STORE_DESC="none"
[ "$STORE" = file ] && STORE_DESC="store-type=file (append + fflush per message and per ack, no fsync)"
VERSION=$(dpkg-query -W -f '${Version}' kannel 2>/dev/null)

printf '== kannel_test_smsc\n'
printf '   %-22s %s\n' kannel "$VERSION" mode "test_smsc -m n_messages -r $COUNT" store "$STORE_DESC" \
	path "MO deliver_sm -> bearerbox -> smsbox -> HTTP get-url -> reply -> bearerbox -> MT submit_sm (no receipts)"
printf '   steady rate %s/s (busy seconds); all %d in %.2fs: %.0f/s wall; Kannel'"'"'s own per-second mean %s/s over %ss; last 0.1%% took %ss more\n' \
	"$STEADY" "$SUBMITS" "$ELAPSED" "$TPUT" "$KANNEL_AVG" "$KANNEL_DURATION" "$TAIL"
printf '   bearerbox+smsbox cpu %.2fs (%.0fµs per message)\n' "$CPU_S" "$CPU_PER_MSG_US"
if [ "$SUBMITS" -lt "$COUNT" ]; then echo "   FAIL: $SUBMITS of $COUNT submit_sm"; fi
printf 'RESULT {"scenario":"kannel_test_smsc","throughput_per_s":%s,"ops":%d,"elapsed_ns":%.0f,"cpu_ns":%.0f,"cpu_per_op_ns":%.0f,"settings":{"kannel":"%s","mode":"test_smsc -m n_messages -r %d","store":"%s","measured":"MO deliver_sm -> bearerbox -> smsbox -> HTTP get-url -> reply MT -> submit_sm, loopback, no delivery receipts; throughput = mean submit_sm per busy second","wall_per_s":"%.1f","kannel_avg_per_s":"%s","tail_s":"%s","log":"panic only (test_smsc logs every event)"}}\n' \
	"$STEADY" "$SUBMITS" "$(echo "$ELAPSED * 1000000000" | bc -l)" "$(echo "$CPU_S * 1000000000" | bc -l)" \
	"$(echo "$CPU_PER_MSG_US * 1000" | bc -l)" "$VERSION" "$COUNT" "$STORE_DESC" "$TPUT" "$KANNEL_AVG" "$TAIL"
[ "$SUBMITS" -ge "$COUNT" ]
