#!/usr/bin/env bash
# node-smpp (npm `smpp`, pinned in smpp/package-lock.json) as an ESME bound
# to wabridge's SMPP server, with the embedded sandbox playing WhatsApp.
# smpp/esme.js binds as a transceiver, submits GSM 03.38, UCS-2 and a 3-part
# UDH-concatenated message with registered_delivery, answers deliver_sm
# (receipts and MO), sends enquire_link and unbinds; it exits non-zero on any
# unexpected command_status or a missing/duplicate receipt.
#
# The same flows run against a stand-in SMSC in smpp/selftest.sh. Config:
#   [smpp] listen = "127.0.0.1:PORT"
#   [[smpp.accounts]] system_id, password, numbers = ["+15550100001"]
# and that submit_sm_resp's message_id is wabridge's message id.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/smpp/lib_smpp.sh"

CUSTOMER=+4915112345678
BUSINESS=+15550100001
STRANGER=+4915100000001 # never wrote: no customer-service window
LONG_MO=$(python3 -c "print(' '.join('Grüße ✓ %02d' % i for i in range(14)))") # needs UCS-2, 3 parts on SMPP

check npm_smpp_installed smpp_install_node

SMPP_PORT=$(free_port)
start_daemon "[smpp]
listen = \"127.0.0.1:$SMPP_PORT\"

[[smpp.accounts]]
system_id = \"esme\"
password = \"pw123\"
numbers = [\"$BUSINESS\"]"

esme() { smpp_esme --host 127.0.0.1 --port "$SMPP_PORT" --system-id esme --password pw123 --from "$BUSINESS" --to "$CUSTOMER" "$@"; }
inbound_json() { jq -cn --arg f "$CUSTOMER" --arg t "$1" '{from:$f, text:$t}'; }
sandbox_out() { curl -fsS "$SANDBOX/sandbox/v1/messages?direction=outbound"; }

# A customer writes while no ESME is bound: wabridge keeps the MO and
# delivers it once the owning system_id binds (this also opens the window).
t_mo_stored() {
	inbound_json 'Hello before anyone is bound' | curl -fsS "$SANDBOX/sandbox/v1/inbound" --data-binary @- >/dev/null || return 1
	sleep 0.5
	ESME_OUT=$WORK/esme.stored.out esme --submit none --registered-delivery 0 --expect-mo 1 --expect-mo-text 'Hello before anyone is bound'
}
check npm_smpp_mo_stored_until_bind t_mo_stored

# The whole transceiver flow; MO injected once bound: GSM text and a long
# UCS-2 text (concatenated deliver_sm, or message_payload).
t_flow() {
	inbound_json 'Where is my order? [ref] {1} €5' >"$WORK/mo1.json"
	inbound_json "$LONG_MO" >"$WORK/mo2.json"
	ESME_OUT=$WORK/esme.flow.out esme --linger 1500 --expect-mo 2 \
		--expect-mo-text 'Where is my order? [ref] {1} €5' --expect-mo-text "$LONG_MO" \
		--on-bound "curl -fsS $SANDBOX/sandbox/v1/inbound --data-binary @$WORK/mo1.json && curl -fsS $SANDBOX/sandbox/v1/inbound --data-binary @$WORK/mo2.json" || return 1
	jq -se '(map(select(.event == "mo")) | all(.from == "+4915112345678" and .to == "+15550100001")) and
		(map(select(.event == "unbind_resp")) | length == 1)' "$WORK/esme.flow.out" >/dev/null || { echo "MO addresses or unbind wrong"; return 1; }
}
check npm_smpp_transceiver_flow t_flow

# What WhatsApp (the sandbox) got: each text once, the 3 parts as one message.
t_sandbox_texts() {
	local texts t
	texts=$(jq -sc '[map(select(.event == "submit_sm_resp")) | group_by(.kind)[] | map(.text) | join("")]' "$WORK/esme.flow.out")
	[ "$(echo "$texts" | jq length)" = 3 ] || { echo "expected 3 submitted texts, got $texts"; return 1; }
	for t in $(echo "$texts" | jq -r '.[] | @base64'); do
		t=$(echo "$t" | base64 -d)
		sandbox_out | jq -e --arg t "$t" --arg to "$CUSTOMER" --arg from "$BUSINESS" \
			'[.messages[] | select(.text == $t and .to == $to and .from == $from)] | length == 1' >/dev/null ||
			{ echo "sandbox did not get once: $t"; sandbox_out | jq -c '.messages[] | {to, text}'; return 1; }
	done
}
check npm_smpp_whatsapp_got_texts_once t_sandbox_texts

# submit_sm_resp message_ids are wabridge's ids: the REST API knows them and
# the single-part ones reached delivered or read.
t_ids() {
	local id
	for id in $(jq -r 'select(.event == "submit_sm_resp" and .parts == 1) | .message_id' "$WORK/esme.flow.out"); do
		echo "$id" | grep -Eq '^[0-9a-z]{26}$' || { echo "message_id $id is not a wabridge id"; return 1; }
		api GET "/api/v1/messages/$id" | jq -e '.status == "delivered" or .status == "read"' >/dev/null || { echo "REST: $id"; api GET "/api/v1/messages/$id"; return 1; }
	done
}
check npm_smpp_message_ids_are_wabridge_ids t_ids

# registered_delivery 0x11: ENROUTE when WhatsApp says sent, then one DELIVRD.
t_intermediate() { ESME_OUT=$WORK/esme.inter.out esme --submit gsm --registered-delivery 17 --expect-intermediate --linger 1000; }
check npm_smpp_intermediate_enroute t_intermediate
# SMPP 3.4 5.2.12: an intermediate notification has esm_class 0x20; an
# ENROUTE in a 0x04 "delivery receipt" reads as final to some ESMEs.
t_intermediate_esm() { ESME_OUT=$WORK/esme.inter2.out esme --submit gsm --registered-delivery 17 --expect-intermediate --strict-intermediate --linger 1000; }
check npm_smpp_intermediate_esm_class_0x20 t_intermediate_esm

# An explicit template by the text prefix (tpl:name|params…) to someone
# who never wrote: delivered as that template.
t_tpl_prefix() {
	ESME_OUT=$WORK/esme.tpl.out esme --to "$STRANGER" --submit gsm --text-gsm 'tpl:order_update|555|Sunday' || return 1
	sandbox_out | jq -e --arg to "$STRANGER" '[.messages[] | select(.to == $to and .type == "template" and .template.name == "order_update"
		and (.template.params | join("|")) == "555|Sunday")] | length == 1' >/dev/null ||
		{ echo "sandbox did not get order_update(555, Sunday)"; sandbox_out | jq -c '.messages[] | {to, type, template}'; return 1; }
}
check npm_smpp_template_prefix_delivered t_tpl_prefix

# Freeform text outside the window that fits no template fails no_template
# (before issue 6: window_closed; no SMS route is configured here): the
# receipt says UNDELIV.
t_undeliv() { ESME_OUT=$WORK/esme.undeliv.out esme --to "$STRANGER" --submit gsm --expect-stat UNDELIV; }
check npm_smpp_window_closed_undeliv t_undeliv

# The account's numbers: an empty source_addr, or one the account does not
# own, is sent from its first number ("default the first" in
# config.example.toml; refusing with ESME_RINVSRCADR would be the alternative).
t_source() {
	local src=$1 text=$2
	ESME_OUT=$WORK/esme.src.out esme --from "$src" --submit gsm --text-gsm "$text" || return 1
	smpp_wait 10 sent_from_business "$text"
}
sent_from_business() { sandbox_out | jq -e --arg t "$1" --arg f "$BUSINESS" '[.messages[] | select(.text == $t and .from == $f)] | length == 1' >/dev/null; }
check npm_smpp_empty_source_uses_account_number t_source '' 'no source address given'
check npm_smpp_foreign_source_uses_account_number t_source +15559999999 'a source the account does not own'

# Bad credentials last: wabridge delays failed binds and blocks an address
# after repeated failures ([smpp] bind_fail_delay), which would refuse any
# later bind from 127.0.0.1.
t_bad_password() { ESME_OUT=$WORK/esme.badpw.out esme --password wrong --expect-bind-fail; }
check npm_smpp_bad_password_refused t_bad_password
t_unknown_id() { ESME_OUT=$WORK/esme.unknown.out smpp_esme --host 127.0.0.1 --port "$SMPP_PORT" --system-id nobody --password pw123 --expect-bind-fail; }
check npm_smpp_unknown_system_id_refused t_unknown_id

smpp_finish
