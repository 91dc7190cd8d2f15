#!/usr/bin/env bash
# The SMPP peer-test tools checked against a stand-in SMSC (smsc.js, on
# node-smpp's server side) while wabridge's own SMPP server is being written:
#   Kannel (bearerbox as ESME, smsbox sendsms/sms-service) -> smsc.js
#   esme.js (node-smpp client)                             -> smsc.js
# Same flows as test/peers/kannel_smpp.sh and npm_smpp.sh,
# which point these tools at wabridge. Prints PEER PASS/FAIL lines.
source "$(dirname "$0")/lib_smpp.sh"

CUSTOMER=+4915112345678
BUSINESS=+15550100001
LONG_MT=$(python3 -c "print(' '.join('word%03d' % i for i in range(45)))")         # 359 chars: 3 GSM parts
LONG_MO=$(python3 -c "print(' '.join('Grüße ✓ %02d' % i for i in range(14)))")      # UCS-2, 3 parts
LONG_MO_2=$(python3 -c "print(' '.join('Payload ✓ %02d 😀' % i for i in range(14)))")  # UCS-2 with surrogates, one PDU
EMOJI_MO='Where is my order? 😀 Привет'

check standin_kannel_installed smpp_install_kannel
check standin_node_smpp_installed smpp_install_node
smpp_start_recorder || { echo "PEER FAIL standin_recorder_start"; exit 1; }
smpp_start_smsc --account kannel:secret1 --account esme:pw123 || { echo "PEER FAIL standin_smsc_start"; exit 1; }
smpp_kannel_config 127.0.0.1 "$SMSC_PORT" kannel secret1

state() { curl -fsS "$SMSC_CTL/state"; }
rec_has() { rec_jq -e "[.[] | $1] | length > 0" >/dev/null; }
# submits_text TEXT JQ: JQ over smsc.js's state with $t = TEXT
submits_text() { state | jq -e --arg t "$1" "$2" ; }

smpp_start_kannel || { echo "PEER FAIL standin_kannel_start"; smpp_finish; }
t_kannel_bind() {
	smpp_kannel_wait_online 20 || return 1
	grep -q '"event":"bound","kind":"transceiver","system_id":"kannel"' "$SMSC_LOG"
}
check standin_kannel_bind_transceiver t_kannel_bind

t_sendsms() {
	smpp_sendsms gsm 0 'Hello from Kannel: [GSM] {ext} € ~ ä' &&
		smpp_sendsms ucs2 2 'Привет ✓ 你好 😀' &&
		smpp_sendsms long 0 "$LONG_MT"
}
check standin_kannel_sendsms_accepted t_sendsms

t_submit_gsm() {
	smpp_wait 10 submits_text 'Hello from Kannel: [GSM] {ext} € ~ ä' '[.submits[] | select(.text == $t)] | length == 1' || return 1
	state | jq -e '.submits[] | select(.text | startswith("Hello from Kannel")) |
		.data_coding == 0 and .source_addr == "+15550100001" and .source_addr_ton == 1 and
		.destination_addr == "+4915112345678" and .dest_addr_ton == 1 and (.registered_delivery % 2 == 1)'
}
check standin_kannel_submit_gsm7 t_submit_gsm

t_submit_ucs2() {
	smpp_wait 10 submits_text 'Привет ✓ 你好 😀' '[.submits[] | select(.text == $t and .data_coding == 8)] | length == 1' || return 1
	# the emoji travels as a UTF-16 surrogate pair
	state | jq -e '.submits[] | select(.data_coding == 8) | .body_hex | contains("d83dde00")'
}
check standin_kannel_submit_ucs2 t_submit_ucs2

t_submit_udh() {
	smpp_wait 10 submits_text '' '[.submits[] | select(.concat != null)] | length == 3' || return 1
	state | jq -e --arg t "$LONG_MT" '[.submits[] | select(.concat != null)] as $p |
		($p | map(.esm_class) | all((. / 64 | floor) % 2 == 1)) and
		($p | map(.concat.ref) | unique | length == 1) and
		($p | map(.concat.total) | unique == [3]) and
		($p | map(.concat.seq) == [1,2,3]) and
		($p | map(.text) | join("") == $t) and
		($p[0].registered_delivery % 2 == 1)'
}
check standin_kannel_submit_udh_3_parts t_submit_udh

# dlr-mask 31: Kannel asks registered_delivery 0x11 and reports 8 (SMSC ack),
# 4 (intermediate ENROUTE) and 1 (delivered); %F is the SMSC's message_id.
t_dlr() {
	local tag id
	for tag in gsm ucs2 long; do
		smpp_wait 10 rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"1\")" || { echo "no delivered DLR for $tag"; return 1; }
		rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"8\")" || { echo "no ack DLR for $tag"; return 1; }
		rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"4\")" || { echo "no intermediate DLR for $tag"; return 1; }
		id=$(rec_jq -r "[.[] | select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"1\")][0].params.fid")
		state | jq -e --arg id "$id" '[.submits[] | select(.message_id == $id)] | length == 1' >/dev/null || { echo "DLR $tag fid $id is no submit's message_id"; return 1; }
		[ "$(rec_jq "[.[] | select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"1\")] | length")" = 1 ] || { echo "more than one delivered DLR for $tag"; return 1; }
	done
	# the long message: Kannel asked for a receipt on its first part only
	state | jq -e '[.submits[] | select(.concat != null)] | (.[0].registered_delivery % 2 == 1) and (.[1:] | all(.registered_delivery == 0))'
}
check standin_kannel_dlr_ack_enroute_delivered t_dlr

# Kannel matches receipts by the exact message_id string (msg-id-type unset):
# an upper-cased id must not match, the exact one must.
t_dlr_exact() {
	curl -fsS "$SMSC_CTL/config" -d '{"receipts":false}' >/dev/null || return 1
	smpp_sendsms exact 0 'exact id check' || return 1
	smpp_wait 10 submits_text 'exact id check' '[.submits[] | select(.text == $t)] | length == 1' || return 1
	local id up
	id=$(state | jq -r '.submits[] | select(.text == "exact id check") | .message_id')
	up=$(echo "$id" | tr 'a-z' 'A-Z')
	curl -fsS "$SMSC_CTL/receipt" -d "{\"message_id\":\"$id\",\"as_id\":\"$up\"}" | jq -e '.status == 0' >/dev/null || return 1
	smpp_wait 5 grep -q "could not find message.*id<$up>" "$WORK/bearerbox.log" || { echo "Kannel did not refuse $up"; return 1; }
	if rec_has 'select(.path == "/dlr" and .params.tag == "exact" and .params.type == "1")'; then echo "upper-case id matched"; return 1; fi
	curl -fsS "$SMSC_CTL/receipt" -d "{\"message_id\":\"$id\"}" >/dev/null || return 1
	smpp_wait 5 rec_has "select(.path == \"/dlr\" and .params.tag == \"exact\" and .params.type == \"1\" and .params.fid == \"$id\")"
	local rc=$?
	curl -fsS "$SMSC_CTL/config" -d '{"receipts":true}' >/dev/null
	return $rc
}
check standin_kannel_dlr_exact_id_match t_dlr_exact

# MO: smsc.js injects deliver_sm toward Kannel; the catch-all sms-service
# posts it to the recorder (mo-recode turns UCS-2 into UTF-8).
mo() { jq -cn --arg t "$1" --arg l "${2:-udh}" '{system_id:"kannel", from:"+4915112345678", to:"+15550100001", text:$t, long:$l}' | curl -fsS "$SMSC_CTL/mo" --data-binary @- | jq -e 'all(.statuses[]; . == 0)' >/dev/null; }
mo_recorded() {
	rec_jq -e --arg t "$1" '[.[] | select(.path == "/mo" and .params.text == $t and .params.from == "+4915112345678" and .params.to == "+15550100001")] | length == 1' >/dev/null
}
t_mo() { mo "$1" "${2:-udh}" && smpp_wait 10 mo_recorded "$1"; }
check standin_kannel_mo_gsm7 t_mo 'Where is my order? [ref] {1} €5'
check standin_kannel_mo_ucs2_emoji t_mo "$EMOJI_MO"
check standin_kannel_mo_concatenated t_mo "$LONG_MO"
# wabridge's default for long replies: one deliver_sm with message_payload
check standin_kannel_mo_message_payload t_mo "$LONG_MO_2" payload

t_enquire() {
	smpp_wait 8 grep -q '"event":"enquire_link","system_id":"kannel"' "$SMSC_LOG" && kannel_online
}
check standin_kannel_enquire_link t_enquire

# ---- esme.js against smsc.js ------------------------------------------------

esme() { smpp_esme --host 127.0.0.1 --port "$SMSC_PORT" --system-id esme --password pw123 "$@"; }

t_esme_flow() {
	jq -cn '{system_id:"esme", from:"+4915112345678", to:"+15550100001", text:"MO one"}' >"$WORK/mo1.json"
	jq -cn --arg t "$LONG_MO" '{system_id:"esme", from:"+4915112345678", to:"+15550100001", text:$t}' >"$WORK/mo2.json"
	jq -cn --arg t "$LONG_MO_2" '{system_id:"esme", from:"+4915112345678", to:"+15550100001", text:$t, long:"payload"}' >"$WORK/mo3.json"
	esme --expect-mo 3 --expect-mo-text 'MO one' --expect-mo-text "$LONG_MO" --expect-mo-text "$LONG_MO_2" \
		--on-bound "curl -fsS $SMSC_CTL/mo --data-binary @$WORK/mo1.json && curl -fsS $SMSC_CTL/mo --data-binary @$WORK/mo2.json && curl -fsS $SMSC_CTL/mo --data-binary @$WORK/mo3.json" || return 1
	# 5 submits (1 + 1 + 3 parts), 5 final receipts, enquire_link, unbind
	jq -se '(map(select(.event == "submit_sm_resp")) | length == 5) and
		(map(select(.event == "receipt" and .message_state == 2)) | length == 5) and
		(map(select(.event == "unbind_resp")) | length == 1)' "$WORK/esme.out" >/dev/null
}
check standin_esme_transceiver_flow t_esme_flow

check standin_esme_intermediate_receipts esme --submit gsm --registered-delivery 17 --expect-intermediate

t_esme_undeliv() {
	curl -fsS "$SMSC_CTL/config" -d '{"dlr_stat":"UNDELIV","dlr_err":5}' >/dev/null || return 1
	esme --submit gsm,concat --expect-stat UNDELIV
	local rc=$?
	curl -fsS "$SMSC_CTL/config" -d '{"dlr_stat":"DELIVRD","dlr_err":0}' >/dev/null
	return $rc
}
check standin_esme_failure_receipt t_esme_undeliv

t_esme_refused() {
	curl -fsS "$SMSC_CTL/config" -d '{"submit_status":69}' >/dev/null || return 1
	esme --submit gsm --expect-submit-status 0x45
	local rc=$?
	curl -fsS "$SMSC_CTL/config" -d '{"submit_status":0}' >/dev/null
	return $rc
}
check standin_esme_submit_refused t_esme_refused

check standin_esme_bad_password_refused esme --password wrong --expect-bind-fail

smpp_finish
