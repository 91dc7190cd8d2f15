# Helpers for the SMPP peer tests: Kannel (bearerbox + smsbox) and node-smpp
# (esme.js, smsc.js). Source it on its own (the self-test against smsc.js) or
# after test/peers/lib.sh (the tests against wabridge): it then reuses lib.sh's
# WORK, check and finish, and runs lib.sh's cleanup after stopping its own
# processes.
#
#   smpp_install_kannel             apt-get install kannel, with no service started
#   smpp_install_node               npm ci of the pinned node-smpp (test/peers/smpp/package-lock.json)
#   smpp_start_recorder             HTTP receiver for Kannel's get-url/dlr-url: REC_PORT, REC_FILE
#   smpp_start_smsc [ARGS]          smsc.js on 127.0.0.1: SMSC_PORT, SMSC_CTL (control API URL), SMSC_LOG
#   smpp_kannel_config HOST PORT SYSTEM_ID PASSWORD [EXTRA smsc LINES]
#                                   write bearerbox + smsbox config (ports in KANNEL_*)
#   smpp_start_kannel               start bearerbox and smsbox in the background
#   smpp_kannel_wait_online [SECS]  until the SMSC link is online and smsbox is connected
#   smpp_sendsms TAG CODING TEXT [key=value...]   smsbox sendsms with dlr-mask 31 and a dlr-url tagged TAG
#   smpp_esme ARGS...               run esme.js; output in ${ESME_OUT:-$WORK/esme.out}
#   smpp_wait SECS CMD...           retry CMD every 0.1 s until it succeeds
#   rec_jq FILTER                   jq -s FILTER over the recorded requests
#   smpp_stop PID                   TERM, wait up to 5 s, then KILL that one process
#   smpp_finish                     print logs on failure, then finish
# Every check prints one "PEER PASS|FAIL <name>" line; .ci/run counts them.
# Start peers at the script's top level, never inside check (a subshell), and
# never use a bare `wait` (it would wait for the peers). SMPP_KEEP=1 keeps the
# work directory (Kannel logs with PDU dumps, smsc.js events, recordings).
set -uo pipefail

SMPP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${ROOT:-$(cd "$SMPP_DIR/../../.." && pwd)}
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/wabridge-smpp.XXXXXX")
fi
FAILED=${FAILED:-0}
SMPP_PIDS=()
KANNEL_SYSTEM_TYPE=${KANNEL_SYSTEM_TYPE:-}

if ! declare -F free_port >/dev/null; then
	free_port() { python3 "$ROOT/test/free_port.py" "$$"; } # never the same port twice
fi
if ! declare -F check >/dev/null; then
	check() {
		local name=$1; shift
		local out
		if out=$("$@" 2>&1); then
			echo "PEER PASS $name"
		else
			echo "PEER FAIL $name"
			echo "$out" | tail -20 | sed 's/^/    /'
			FAILED=1
		fi
	}
fi
if ! declare -F finish >/dev/null; then
	finish() { [ "$FAILED" = 0 ] && exit 0; exit 1; }
fi

# smpp_stop PID: stop one process we started, by its PID.
smpp_stop() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

smpp_cleanup() {
	local i
	# newest first: smsbox before bearerbox, Kannel before the SMSC it is bound to
	for ((i = ${#SMPP_PIDS[@]} - 1; i >= 0; i--)); do smpp_stop "${SMPP_PIDS[$i]}"; done
	if declare -F cleanup >/dev/null; then
		# lib.sh's cleanup stops the daemon and removes WORK; SMPP_KEEP=1 keeps a copy
		[ "${SMPP_KEEP:-0}" = 1 ] && cp -a "$WORK" "$WORK.kept" && echo "kept a copy in $WORK.kept"
		cleanup
	elif [ "${SMPP_KEEP:-0}" = 1 ]; then
		echo "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap smpp_cleanup EXIT

# ---- installers (idempotent) -------------------------------------------------

kannel_pids() {
	local n
	for n in bearerbox smsbox wapbox run_kannel_box; do pgrep -x "$n"; done | sort
}

# smpp_install_kannel installs Debian's kannel without letting apt start its
# service: a policy-rc.d that denies every start is put in place for the
# install if there is none, and any Kannel process that appears anyway is
# stopped by its PID.
smpp_install_kannel() {
	if dpkg -s kannel >/dev/null 2>&1 && [ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ]; then
		return 0
	fi
	local made_policy=0 before after pid rc=0
	before=$(kannel_pids)
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# installed by wabridge test/peers/smpp for the kannel install only\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends kannel >/dev/null 2>&1; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends kannel >/dev/null || rc=1
	fi
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	after=$(kannel_pids)
	for pid in $(comm -13 <(echo "$before") <(echo "$after")); do
		echo "stopping Kannel process $pid started by the package install"
		kill -TERM "$pid" 2>/dev/null
	done
	[ "$rc" = 0 ] || { echo "kannel install failed"; return 1; }
	dpkg -s kannel | grep -q '^Status: install ok installed'
}

# smpp_install_node installs node-smpp exactly as package-lock.json pins it.
smpp_install_node() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null 2>&1 ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; } || return 1
	fi
	local want have=""
	want=$(cd "$SMPP_DIR" && node -p 'require("./package-lock.json").packages["node_modules/smpp"].version')
	[ -f "$SMPP_DIR/node_modules/smpp/package.json" ] &&
		have=$(cd "$SMPP_DIR" && node -p 'require("./node_modules/smpp/package.json").version')
	[ "$have" = "$want" ] && return 0
	(cd "$SMPP_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed"; return 1; }
}

# ---- peers -------------------------------------------------------------------

# Processes must be started by the script's own shell, never inside check
# (which runs its command in a subshell): their PIDs would be lost and they
# would outlive the test.
smpp_not_in_subshell() {
	[ "$BASHPID" = "$$" ] && return 0
	echo "$1 must not run in a subshell (not inside check or \$(...))"
	return 1
}

smpp_wait() {
	local secs=$1; shift
	local n=$((secs * 10))
	for _ in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	"$@"
}

smpp_start_recorder() {
	smpp_not_in_subshell smpp_start_recorder || return 1
	REC_FILE=$WORK/recorded.jsonl
	python3 "$SMPP_DIR/recorder.py" "$REC_FILE" "$WORK/recorder.port" >"$WORK/recorder.log" 2>&1 &
	SMPP_PIDS+=($!)
	smpp_wait 5 test -s "$WORK/recorder.port" || { echo "recorder did not start"; cat "$WORK/recorder.log"; return 1; }
	REC_PORT=$(cat "$WORK/recorder.port")
}

rec_jq() { jq -s "$@" "$REC_FILE"; }

smpp_start_smsc() {
	smpp_not_in_subshell smpp_start_smsc || return 1
	SMSC_LOG=$WORK/smsc.log
	rm -f "$WORK/smsc.ready"
	node "$SMPP_DIR/smsc.js" --ready-file "$WORK/smsc.ready" "$@" >"$SMSC_LOG" 2>&1 &
	SMPP_PIDS+=($!)
	smpp_wait 10 test -s "$WORK/smsc.ready" || { echo "smsc.js did not start"; cat "$SMSC_LOG"; return 1; }
	SMSC_PORT=$(jq -r .smpp_port "$WORK/smsc.ready")
	SMSC_CTL=http://127.0.0.1:$(jq -r .control_port "$WORK/smsc.ready")
}

# smpp_kannel_config HOST PORT SYSTEM_ID PASSWORD [EXTRA]: bearerbox's link
# to the SMSC at HOST:PORT (Kannel is the ESME), an smsbox with a sendsms
# user, and a catch-all sms-service posting MO to the recorder.
#
# msg-id-type is deliberately NOT set: unset, Kannel keeps the submit_sm_resp
# message_id as a C string and matches receipts by exact string comparison.
# Any value (0-3) makes it parse ids as decimal/hex numbers (strtoll), which
# turns ids such as 01m80bm55e5xf2p61xfeg5j2zq into garbage numbers that can
# collide, so receipts would be lost or matched to the wrong message.
smpp_kannel_config() {
	local host=$1 port=$2 user=$3 pass=$4 extra=${5:-}
	KANNEL_ADMIN=$(free_port)
	KANNEL_BOXC=$(free_port)
	KANNEL_SENDSMS=$(free_port)
	KANNEL_ADMIN_PW=admin-pw
	KANNEL_USER=tester
	KANNEL_PASS=tester-pw
	KANNEL_SMSC_ID=upstream
	KANNEL_CONF=$WORK/kannel.conf
	cat >"$KANNEL_CONF" <<EOF
group = core
admin-port = $KANNEL_ADMIN
admin-interface = 127.0.0.1
admin-password = $KANNEL_ADMIN_PW
status-password = $KANNEL_ADMIN_PW
admin-allow-ip = "127.0.0.1"
smsbox-port = $KANNEL_BOXC
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
log-file = "$WORK/bearerbox.log"
log-level = 0
access-log = "$WORK/bearerbox-access.log"
dlr-storage = internal
sms-combine-concatenated-mo = true

group = smsc
smsc = smpp
smsc-id = $KANNEL_SMSC_ID
host = $host
port = $port
transceiver-mode = true
smsc-username = "$user"
smsc-password = "$pass"
system-type = "$KANNEL_SYSTEM_TYPE"
enquire-link-interval = 5
reconnect-delay = 1
wait-ack = 30
max-pending-submits = 10
$extra

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $KANNEL_BOXC
sendsms-port = $KANNEL_SENDSMS
sendsms-interface = 127.0.0.1
log-file = "$WORK/smsbox.log"
log-level = 0
access-log = "$WORK/smsbox-access.log"
mo-recode = true

group = sendsms-user
username = $KANNEL_USER
password = $KANNEL_PASS
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
get-url = "http://127.0.0.1:$REC_PORT/mo?from=%p&to=%P&text=%a&bin=%b&kw=%k&coding=%c&charset=%C&udh=%u&smsc=%i&meta=%D"
max-messages = 0
concatenation = true
EOF
}

smpp_start_kannel() {
	smpp_not_in_subshell smpp_start_kannel || return 1
	/usr/sbin/bearerbox -v 4 "$KANNEL_CONF" >"$WORK/bearerbox.out" 2>&1 &
	SMPP_PIDS+=($!)
	smpp_wait 10 curl -fsS "http://127.0.0.1:$KANNEL_ADMIN/status.txt?password=$KANNEL_ADMIN_PW" ||
		{ echo "bearerbox did not start"; tail -20 "$WORK/bearerbox.out"; return 1; }
	/usr/sbin/smsbox -v 4 "$KANNEL_CONF" >"$WORK/smsbox.out" 2>&1 &
	SMPP_PIDS+=($!)
}

kannel_status() { curl -fsS "http://127.0.0.1:$KANNEL_ADMIN/status.txt?password=$KANNEL_ADMIN_PW"; }

# online: the SMSC line says "(online Ns" and an smsbox is connected.
kannel_online() {
	local s
	s=$(kannel_status) || return 1
	echo "$s" | grep -E "^[[:space:]]*$KANNEL_SMSC_ID\[" | grep -q '(online' || return 1
	echo "$s" | grep -A3 '^Box connections:' | grep -q 'smsbox'
}

smpp_kannel_wait_online() {
	smpp_wait "${1:-15}" kannel_online || { echo "Kannel link not online:"; kannel_status; tail -20 "$WORK/bearerbox.log"; return 1; }
	# smsbox's sendsms port answers once smsbox runs
	smpp_wait 5 curl -sS -o /dev/null "http://127.0.0.1:$KANNEL_SENDSMS/"
}

# smpp_sendsms TAG CODING TEXT [key=value...]: returns 0 if smsbox accepted it.
smpp_sendsms() {
	local tag=$1 coding=$2 text=$3; shift 3
	local dlr="http://127.0.0.1:$REC_PORT/dlr?tag=$tag&type=%d&fid=%F&smsc=%i&from=%p&to=%P&reply=%A&meta=%D"
	local extra=() kv
	for kv in "$@"; do extra+=(--data-urlencode "$kv"); done
	local code
	code=$(curl -sS -G -o "$WORK/sendsms.$tag.out" -w '%{http_code}' "http://127.0.0.1:$KANNEL_SENDSMS/cgi-bin/sendsms" \
		--data-urlencode "username=$KANNEL_USER" --data-urlencode "password=$KANNEL_PASS" \
		--data-urlencode "from=${SMPP_FROM:-+15550100001}" --data-urlencode "to=${SMPP_TO:-+4915112345678}" \
		--data-urlencode "text=$text" --data-urlencode "charset=UTF-8" --data-urlencode "coding=$coding" \
		--data-urlencode "dlr-mask=31" --data-urlencode "dlr-url=$dlr" "${extra[@]}")
	echo "sendsms $tag: HTTP $code $(cat "$WORK/sendsms.$tag.out")"
	[ "$code" = 202 ] && grep -q '^0: Accepted' "$WORK/sendsms.$tag.out"
}

# smpp_esme ARGS...: run esme.js (see its header for ARGS), output in
# ${ESME_OUT:-$WORK/esme.out}; prints the last lines (errors and summary).
smpp_esme() {
	local out=${ESME_OUT:-$WORK/esme.out} rc
	node "$SMPP_DIR/esme.js" "$@" >"$out" 2>&1
	rc=$?
	tail -n 3 "$out" | cut -c1-600
	return $rc
}

smpp_logs() {
	local f
	for f in "$WORK"/bearerbox.log "$WORK"/smsbox.log "$WORK"/smsc.log "$WORK"/esme*.out "$WORK"/recorded.jsonl; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f") (tail) ---"
		tail -n 25 "$f" | cut -c1-400
	done
}

smpp_finish() {
	[ "$FAILED" != 0 ] && smpp_logs
	finish
}
