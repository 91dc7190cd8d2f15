#!/usr/bin/env bash
# kill -9 between WhatsApp failures and SMS submissions: 200 REST sends to a
# number the sandbox says is not on WhatsApp fall back to SMS through the
# operator's SMSC (smsc.js, node-smpp's server side). The daemon is killed
# while they are under way and started again. Every message reaches the
# SMSC; a second copy may exist only when the kill fell
# between the SMSC's submit_sm_resp and our commit — counted and reported.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/smpp/lib_smpp.sh"

NOWA=+4915100000098
N=200

check sms_crash_installed smpp_install_node
smpp_start_smsc --account wabridge:smscpw --dlr-delay 50 --no-intermediate || { echo "PEER FAIL sms_crash_smsc_start"; smpp_finish; }
EXTRA="not_on_whatsapp = [\"$NOWA\"]

[[sms.routes]]
name = \"operator\"
type = \"smpp\"
host = \"127.0.0.1\"
port = $SMSC_PORT
system_id = \"wabridge\"
password = \"smscpw\"
throughput = 20 # 10 s for all: the kill falls in the middle"
start_daemon "$EXTRA"

submitted() { curl -fsS "$SMSC_CTL/state" | jq '[.submits[] | select(.destination_addr == "'"$NOWA"'")] | length'; }

t_crash() {
	local i ids=()
	for i in $(seq 1 $N); do
		ids+=("$(api POST /api/v1/messages "{\"to\":\"$NOWA\",\"text\":\"crash $i\",\"idempotency_key\":\"crash-$i\"}" | jq -r .id)")
	done
	# Kill once about a third have reached the SMSC.
	for _ in $(seq 1 400); do [ "$(submitted)" -ge $((N / 3)) ] && break; sleep 0.02; done
	local at_kill
	at_kill=$(submitted)
	kill -9 "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null
	"$BIN" serve -config "$WORK/wabridge.toml" >>"$WORK/daemon.log" 2>&1 &
	track_pid $! # this runs inside check's subshell
	for _ in $(seq 1 200); do curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
	# Every message is on SMS and was submitted (receipts for parts the old
	# session had submitted went to that dead session: smsc.js does not
	# redeliver them, so those stay "sent").
	local id s pending=1
	for _ in $(seq 1 600); do
		pending=0
		for id in "${ids[@]}"; do
			s=$(api GET "/api/v1/messages/$id" | jq -r '.status + "/" + .channel')
			case $s in delivered/sms | sent/sms) ;; *) pending=1; break ;; esac
		done
		[ $pending = 0 ] && break
		sleep 0.1
	done
	[ $pending = 0 ] || { echo "message $id is $s"; return 1; }
	smpp_wait 20 eval '[ "$(submitted)" -ge $N ]' || { echo "only $(submitted) submits"; return 1; }
	# Each text reached the SMSC once; twice only for the few in the kill's window.
	local counts twice missing
	counts=$(curl -fsS "$SMSC_CTL/state" | jq -r '[.submits[] | select(.destination_addr == "'"$NOWA"'") | .text] | group_by(.) | map(length)')
	missing=$((N - $(jq 'length' <<<"$counts")))
	twice=$(jq '[.[] | select(. > 1)] | length' <<<"$counts")
	echo "killed with $at_kill of $N at the SMSC; after the restart: $missing missing, $twice sent twice" | tee "$WORK/crash.counts"
	[ "$missing" = 0 ] && [ "$twice" -le 4 ] # at most the 4 SMS senders in flight at the kill
}
check sms_crash_kill9_nothing_lost t_crash
[ -f "$WORK/crash.counts" ] && echo "    $(cat "$WORK/crash.counts")"

smpp_finish
