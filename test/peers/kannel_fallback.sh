#!/usr/bin/env bash
# SMS fallback end to end with third-party peers on both sides:
#   Kannel (ESME) -> submit_sm -> wabridge -> sandbox says "not on WhatsApp"
#     -> wabridge's SMSC client -> smsc.js (node-smpp's server side: the
#     operator's SMSC) -> receipt -> wabridge -> exactly one final DLR to Kannel
# and a delivery timeout: WhatsApp accepts but delivers late; the message
# goes by SMS, and the late WhatsApp "delivered" changes nothing Kannel sees.
# Config: [[sms.routes]] (type smpp, host/port/system_id/password), [fallback] timeout,
# [sandbox] not_on_whatsapp.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/smpp/lib_smpp.sh"

CUSTOMER=+4915112345678
BUSINESS=+15550100001
NOWA=+4915100000099 # the sandbox says: not on WhatsApp
LONG_MT=$(python3 -c "print(' '.join('word%03d' % i for i in range(45)))") # 3 GSM parts from Kannel

check kannel_fallback_installed smpp_install_kannel
smpp_start_smsc --account wabridge:smscpw --dlr-delay 100 --no-intermediate || { echo "PEER FAIL kannel_fallback_smsc_start"; smpp_finish; }

SMPP_PORT=$(free_port)
SMTP_PORT=$(free_port)
IMAP_PORT=$(free_port)
start_daemon "not_on_whatsapp = [\"$NOWA\"]

[smpp]
listen = \"127.0.0.1:$SMPP_PORT\"

[[smpp.accounts]]
system_id = \"kannel\"
password = \"secret1\"
numbers = [\"$BUSINESS\"]

[[sms.routes]]
name = \"operator\"
type = \"smpp\"
host = \"127.0.0.1\"
port = $SMSC_PORT
system_id = \"wabridge\"
password = \"smscpw\"

[fallback]
timeout = \"3s\"

[mail]
domain = \"wa.example.com\"
[[mail.users]]
username = \"agent\"
password = \"mailpw\"
numbers = [\"$BUSINESS\"]
[smtp]
listen = \"127.0.0.1:$SMTP_PORT\"
allow_insecure_auth = true
[imap]
listen = \"127.0.0.1:$IMAP_PORT\"
allow_insecure_auth = true"
smpp_start_recorder || { echo "PEER FAIL kannel_fallback_recorder_start"; smpp_finish; }
smpp_kannel_config 127.0.0.1 "$SMPP_PORT" kannel secret1
smpp_start_kannel || { echo "PEER FAIL kannel_fallback_start"; smpp_finish; }
check kannel_fallback_bound smpp_kannel_wait_online 20

rec_has() { rec_jq -e "[.[] | $1] | length > 0" >/dev/null; }
finals() { rec_jq "[.[] | select(.path == \"/dlr\" and .params.tag == \"$1\" and (.params.type == \"1\" or .params.type == \"2\"))] | length"; }
smsc_submits_to() { curl -fsS "$SMSC_CTL/state" | jq --arg to "$1" '[.submits[] | select(.destination_addr == $to)]'; }

# Not on WhatsApp: the long text goes to the operator's SMSC in 3 parts and
# Kannel gets exactly one final DLR, DELIVRD.
t_not_on_whatsapp() {
	SMPP_TO=$NOWA smpp_sendsms nowa 0 "$LONG_MT" || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "nowa" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	smsc_submits_to "$NOWA" | jq -e 'length == 3' >/dev/null || { echo "SMSC got:"; smsc_submits_to "$NOWA" | jq -c '.[] | {destination_addr, text, concat}' | cut -c1-200; return 1; }
	sleep 1 # anything more would come by now
	[ "$(finals nowa)" = 1 ] || { echo "$(finals nowa) final DLRs"; return 1; }
	rec_jq -e '[.[] | select(.path == "/dlr" and .params.tag == "nowa" and .params.type == "1")][0].params.reply | test("stat:DELIVRD")' >/dev/null &&
		curl -fsS "$BASE/metrics" >"$WORK/metrics.txt" && grep -q '^wabridge_sms_route_events_total{event="submit_ok",route="operator"} 3' "$WORK/metrics.txt"
}
check kannel_fallback_not_on_whatsapp_one_delivrd t_not_on_whatsapp

# Delivery timeout: WhatsApp accepts but its statuses come after 6 s; at
# 3 s the message goes by SMS (DELIVRD); the late WhatsApp delivered adds
# no second final DLR; the REST API names the channel and the trigger.
t_timeout() {
	curl -fsS "$SANDBOX/sandbox/v1/inbound" -d "{\"from\":\"$CUSTOMER\",\"text\":\"hi\"}" >/dev/null || return 1
	sleep 0.5
	curl -fsS "$SANDBOX/sandbox/v1/settings" -d '{"status_delay":"6s"}' >/dev/null || return 1
	SMPP_TO=$CUSTOMER smpp_sendsms late 0 'Your parcel is on its way' || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "late" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	local fid
	fid=$(rec_jq -r '[.[] | select(.path == "/dlr" and .params.tag == "late" and .params.type == "1")][0].params.fid')
	api GET "/api/v1/messages/$fid" | jq -e '.channel == "sms" and .fallback == "delivery_timeout" and .status == "delivered"' >/dev/null ||
		{ api GET "/api/v1/messages/$fid" | jq -c '{channel, fallback, status, history}'; return 1; }
	# The sandbox's late statuses (sent at 6 s, delivered at 12 s) arrive.
	wa_status() { curl -fsS "$SANDBOX/sandbox/v1/messages?to=${CUSTOMER#+}" | jq -r '[.messages[] | select(.text == "Your parcel is on its way")][0].status'; }
	smpp_wait 30 eval '[ "$(wa_status)" = delivered ] || [ "$(wa_status)" = read ]' || { echo "sandbox status $(wa_status)"; return 1; }
	sleep 1 # its webhook reaches wabridge
	[ "$(finals late)" = 1 ] || { echo "$(finals late) final DLRs after the late WhatsApp delivery"; return 1; }
	api GET "/api/v1/messages/$fid" | jq -e '.status == "delivered" and .channel == "sms" and ([.history[].status] | index("delivered") != null)' >/dev/null
}
check kannel_fallback_timeout_one_final t_timeout

# A customer writes by SMS (an MO from the operator's SMSC): it reaches
# Kannel like any reply, and the answer goes back by SMS (the customer's
# last message came by SMS), not WhatsApp.
SMSCUST=+4915100000077
t_sms_conversation() {
	local st
	st=$(curl -fsS "$SMSC_CTL/mo" -d "{\"from\":\"$SMSCUST\",\"to\":\"$BUSINESS\",\"text\":\"Is my order ready?\",\"system_id\":\"wabridge\"}") || return 1
	jq -e '.statuses == [0]' <<<"$st" >/dev/null || { echo "deliver_sm_resp: $st"; return 1; }
	smpp_wait 15 rec_has "select(.path == \"/mo\" and .params.text == \"Is my order ready?\" and .params.from == \"$SMSCUST\")" || { echo "Kannel got no MO"; return 1; }
	SMPP_TO=$SMSCUST smpp_sendsms conv 0 'Yes, pick it up today' || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "conv" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	smsc_submits_to "$SMSCUST" | jq -e '[.[] | select(.text == "Yes, pick it up today")] | length == 1' >/dev/null || { echo "the answer did not go by SMS"; return 1; }
	local fid
	fid=$(rec_jq -r '[.[] | select(.path == "/dlr" and .params.tag == "conv" and .params.type == "1")][0].params.fid')
	api GET "/api/v1/messages/$fid" | jq -e '.channel == "sms" and .fallback == "sms_conversation"' >/dev/null &&
		[ "$(curl -fsS "$SANDBOX/sandbox/v1/messages?to=${SMSCUST#+}" | jq '.messages | length')" = 0 ]
}
check kannel_fallback_sms_conversation t_sms_conversation

# Mail to a number not on WhatsApp; the operator's SMSC then reports the
# SMS undeliverable: the sender gets exactly one bounce (multipart/report)
# in INBOX, naming sms_failed.
t_mail_bounce() {
	curl -fsS "$SMSC_CTL/config" -d '{"dlr_stat":"UNDELIV","dlr_err":1}' >/dev/null || return 1
	python3 - "$SMTP_PORT" "${NOWA#+}" <<'PY' || return 1
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
msg = "From: agent@example.com\r\nTo: %s@wa.example.com\r\nSubject: Invoice\r\nMessage-ID: <fb-1@example.com>\r\n\r\nYour invoice is ready.\r\n" % rcpt
with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
    s.login("agent", "mailpw")
    s.sendmail("agent@example.com", [rcpt + "@wa.example.com"], msg)
PY
	local n=0 i
	for i in $(seq 1 100); do
		n=$(curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u agent:mailpw -X 'SEARCH HEADER Content-Type multipart/report' | tr -cd '0-9 \n' | wc -w)
		[ "$n" -ge 1 ] && break
		sleep 0.2
	done
	[ "$n" = 1 ] || { echo "$n bounces"; return 1; }
	sleep 1 # a second one would come by now
	n=$(curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u agent:mailpw -X 'SEARCH HEADER Content-Type multipart/report' | tr -cd '0-9 \n' | wc -w)
	[ "$n" = 1 ] || { echo "$n bounces"; return 1; }
	curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX;UID=1" -u agent:mailpw >/dev/null 2>&1
	local uid
	uid=$(curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u agent:mailpw -X 'UID SEARCH HEADER Content-Type multipart/report' | grep -o '[0-9]*' | tail -1)
	curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX;UID=$uid" -u agent:mailpw | grep -q 'sms_failed'
}
check kannel_fallback_mail_one_bounce t_mail_bounce

smpp_finish
