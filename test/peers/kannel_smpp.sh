#!/usr/bin/env bash
# Kannel (Debian's bearerbox + smsbox, 1.4.5) as an SMS platform bound to
# wabridge's SMPP server, with the embedded sandbox playing WhatsApp:
#   Kannel sendsms -> submit_sm -> wabridge -> sandbox (WhatsApp) -> statuses
#     -> deliver_sm receipts -> Kannel dlr-url (types 8 ack, 4 ENROUTE, 1 delivered)
#   sandbox inbound (a customer writes on WhatsApp) -> deliver_sm MO
#     -> Kannel's catch-all sms-service get-url
# The HTTP receiver (smpp/recorder.py) records what Kannel posts.
#
# The same flows run against a stand-in SMSC in smpp/selftest.sh. Config:
#   [smpp] listen = "127.0.0.1:PORT"
#   [[smpp.accounts]] system_id, password, numbers = ["+15550100001"]
# and that submit_sm_resp's message_id is wabridge's message id (the REST id,
# also the sandbox's biz_opaque_callback_data).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/smpp/lib_smpp.sh"

CUSTOMER=+4915112345678
BUSINESS=+15550100001
STRANGER=+4915100000001 # never wrote: no customer-service window
LONG_MT=$(python3 -c "print(' '.join('word%03d' % i for i in range(45)))")        # 359 chars: 3 GSM parts from Kannel
LONG_MO=$(python3 -c "print(' '.join('Grüße ✓ %02d' % i for i in range(14)))")     # needs UCS-2, 3 parts on SMPP

check kannel_installed smpp_install_kannel

SMPP_PORT=$(free_port)
start_daemon "[smpp]
listen = \"127.0.0.1:$SMPP_PORT\"

[[smpp.accounts]]
system_id = \"kannel\"
password = \"secret1\"
numbers = [\"$BUSINESS\"]"
smpp_start_recorder || { echo "PEER FAIL kannel_recorder_start"; smpp_finish; }
smpp_kannel_config 127.0.0.1 "$SMPP_PORT" kannel secret1
smpp_start_kannel || { echo "PEER FAIL kannel_start"; smpp_finish; }

rec_has() { rec_jq -e "[.[] | $1] | length > 0" >/dev/null; }
dlr_fid() { rec_jq -r "[.[] | select(.path == \"/dlr\" and .params.tag == \"$1\" and .params.type == \"$2\")][0].params.fid // empty"; }
sandbox_out() { curl -fsS "$SANDBOX/sandbox/v1/messages?direction=outbound"; }

check kannel_bind_transceiver smpp_kannel_wait_online 20

# MO: a customer writes on WhatsApp; the message reaches Kannel's sms-service
# from the customer's number to the business number, text unchanged.
inbound() { jq -cn --arg f "$CUSTOMER" --arg t "$1" '{from:$f, text:$t}' | curl -fsS "$SANDBOX/sandbox/v1/inbound" --data-binary @- | jq -e '.wamid' >/dev/null; }
mo_recorded() {
	rec_jq -e --arg t "$1" --arg f "$CUSTOMER" --arg b "$BUSINESS" \
		'[.[] | select(.path == "/mo" and .params.text == $t and .params.from == $f and .params.to == $b)] | length == 1' >/dev/null
}
t_mo() { inbound "$1" && smpp_wait 15 mo_recorded "$1"; }
check kannel_mo_gsm7 t_mo 'Where is my order? [ref] {1} €5'
check kannel_mo_ucs2_emoji t_mo 'Где мой заказ? 😀'
# longer than one SMS: wabridge sends it as UDH parts or in one message_payload
# ([[smpp.accounts]] long_replies); Kannel 1.4.5 takes both (smpp/selftest.sh)
check kannel_mo_long_concatenated t_mo "$LONG_MO"

# MT: sendsms through wabridge to WhatsApp; receipts back to the dlr-url.
sent_once() { sandbox_out | jq -e --arg t "$1" --arg to "$2" '[.messages[] | select(.text == $t and .to == $to)] | length == 1' >/dev/null; }
t_send() {
	local tag=$1 coding=$2 text=$3 fid
	smpp_sendsms "$tag" "$coding" "$text" || return 1
	smpp_wait 15 sent_once "$text" "$CUSTOMER" || { echo "sandbox did not get the text once"; sandbox_out | jq -c '.messages[] | {to, text, status}'; return 1; }
	smpp_wait 15 rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"1\")" || { echo "no delivered DLR for $tag"; return 1; }
	fid=$(dlr_fid "$tag" 1)
	echo "$fid" | grep -Eq '^[0-9a-z]{26}$' || { echo "message_id $fid is not a wabridge id"; return 1; }
	# the receipt names the message wabridge sent for this submit: Kannel's
	# id is the (first) part's id, which the REST API resolves to the
	# WhatsApp message it became part of
	local mid
	mid=$(curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages/$fid" | jq -r .id)
	sandbox_out | jq -e --arg id "$mid" --arg t "$text" '[.messages[] | select(.callback_data == $id and .text == $t)] | length == 1' >/dev/null ||
		{ echo "sandbox has no message with callback $mid (for $fid) and the text"; return 1; }
	api GET "/api/v1/messages/$fid" | jq -e '.status == "delivered" or .status == "read"'
}
check kannel_send_gsm7_delivered t_send gsm 0 'It ships today: [ref] {1} €5'
check kannel_send_ucs2_delivered t_send ucs2 2 'Ваш заказ отправлен ✓ 😀'
# Kannel splits it into 3 UDH parts and asks a receipt for the first part
# only: wabridge reassembles one WhatsApp message and reports on that part.
check kannel_send_long_reassembled t_send long 0 "$LONG_MT"

# dlr-mask 31 makes Kannel ask registered_delivery 0x11: an SMSC ack (8) at
# submit_sm_resp, ENROUTE (4) when WhatsApp says sent, one DELIVRD (1) when it
# says delivered; read must not add a second final receipt.
t_dlr_types() {
	local tag
	sleep 1 # let read arrive
	for tag in gsm ucs2 long; do
		rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"8\")" || { echo "no ack DLR (8) for $tag"; return 1; }
		rec_has "select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"4\")" || { echo "no ENROUTE DLR (4) for $tag"; return 1; }
		[ "$(rec_jq "[.[] | select(.path == \"/dlr\" and .params.tag == \"$tag\" and (.params.type == \"1\" or .params.type == \"2\"))] | length")" = 1 ] ||
			{ echo "not exactly one final DLR for $tag"; return 1; }
		rec_jq -e "[.[] | select(.path == \"/dlr\" and .params.tag == \"$tag\" and .params.type == \"1\")][0].params.reply | test(\"stat:DELIVRD\")" >/dev/null ||
			{ echo "final DLR for $tag is not stat:DELIVRD"; return 1; }
	done
}
check kannel_dlr_ack_enroute_delivered_once t_dlr_types

# Plain text to someone who never wrote that fits an approved template
# (the sandbox's order_update) goes out as that template with the captured
# parameters (issue 6): Kannel gets a delivered DLR (1).
t_template_matched() {
	SMPP_TO=$STRANGER smpp_sendsms matched 0 'Your order 4711 has shipped and arrives on Friday.' || return 1
	smpp_wait 15 rec_has 'select(.path == "/dlr" and .params.tag == "matched" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	sandbox_out | jq -e --arg to "$STRANGER" '[.messages[] | select(.to == $to and .type == "template" and .template.name == "order_update"
		and (.template.params | join("|")) == "4711|Friday")] | length == 1' >/dev/null ||
		{ echo "sandbox did not get order_update(4711, Friday)"; sandbox_out | jq -c '.messages[] | {to, type, template}'; return 1; }
}
check kannel_template_matched_delivered t_template_matched

# Text that fits no template to someone who never wrote fails no_template
# (before issue 6: window_closed; no SMS route is configured here): Kannel gets a
# failed DLR (2).
t_window_closed() {
	SMPP_TO=$STRANGER smpp_sendsms closed 0 'out of the blue' || return 1
	smpp_wait 15 rec_has 'select(.path == "/dlr" and .params.tag == "closed" and .params.type == "2")' || { echo "no failed DLR"; return 1; }
	rec_jq -e '[.[] | select(.path == "/dlr" and .params.tag == "closed" and .params.type == "2")][0].params.reply | test("stat:UNDELIV")' >/dev/null
}
check kannel_window_closed_failed_dlr t_window_closed

# The link survives Kannel's enquire_link every 5 s.
t_enquire() {
	smpp_wait 8 grep -q 'type_name: enquire_link_resp' "$WORK/bearerbox.log" && kannel_online
}
check kannel_enquire_link t_enquire

smpp_finish
