#!/usr/bin/env bash
# Twilio as the WhatsApp provider, with third-party peers on the edges and
# the Twilio simulator (internal/twiliosim, run by the embedded sandbox)
# playing api.twilio.com and content.twilio.com:
#   Kannel (ESME) -> submit_sm -> wabridge -> Twilio Messages API
#     (whatsapp:+…, ContentSid for closed windows) -> signed status
#     callbacks -> /webhooks/twilio -> one final DLR to Kannel
#   swaks (mail program) -> SMTP -> wabridge -> Twilio (attachments become
#     MediaUrl links Twilio fetches from wabridge's signed /media/ links)
#   a customer's WhatsApp reply -> signed inbound webhook -> IMAP INBOX (curl)
#   not on WhatsApp -> Twilio SMS route -> SMS status callback -> DELIVRD
#   curl posting unsigned or wrongly signed webhooks -> 403
# Config: [whatsapp] provider = "twilio", [twilio] (the sandbox's sample
# account), [[sms.routes]] type = "twilio", [sandbox] twilio_listen.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/smpp/lib_smpp.sh"
SMTP_PEER_DIR=$(cd "$(dirname "$0")/smtp" && pwd)
source "$SMTP_PEER_DIR/lib_smtp.sh"

CUSTOMER=+4915112345678
BUSINESS=+15550100001
STRANGER=+4915100000001 # never wrote: the window is closed
NOWA=+4915100000099     # the simulator says: not on WhatsApp (63003)
MAILCUST=+4915100000055
SMSFROM=+15550100077

check twilio_kannel_installed smpp_install_kannel
if ! out=$(bash "$SMTP_PEER_DIR/install.sh" 2>&1); then
	echo "PEER FAIL twilio_swaks_installed"; echo "$out" | tail -5 | sed 's/^/    /'; exit 1
fi
echo "PEER PASS twilio_swaks_installed"

SMPP_PORT=$(free_port)
SMTP_PORT=$(free_port)
IMAP_PORT=$(free_port)
TWILIO_PORT=$(free_port)
TWILIO=http://127.0.0.1:$TWILIO_PORT
start_daemon "twilio_listen = \"127.0.0.1:$TWILIO_PORT\"
not_on_whatsapp = [\"$NOWA\"]

[whatsapp]
provider = \"twilio\"

[templates]
languages = [\"en\"]

[smpp]
listen = \"127.0.0.1:$SMPP_PORT\"
[[smpp.accounts]]
system_id = \"kannel\"
password = \"secret1\"
numbers = [\"$BUSINESS\"]

[[sms.routes]]
name = \"twilio-sms\"
type = \"twilio\"
from = \"$SMSFROM\"

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

smpp_start_recorder || { echo "PEER FAIL twilio_recorder_start"; smpp_finish; }
smpp_kannel_config 127.0.0.1 "$SMPP_PORT" kannel secret1
smpp_start_kannel || { echo "PEER FAIL twilio_kannel_start"; smpp_finish; }
check twilio_kannel_bound smpp_kannel_wait_online 20

tw_out() { curl -fsS "$TWILIO/sandbox/v1/messages?direction=outbound"; }
tw_to() { tw_out | jq --arg to "$1" '[.messages[] | select(.to == $to or .to == ("whatsapp:" + $to))]'; }
finals() { rec_jq "[.[] | select(.path == \"/dlr\" and .params.tag == \"$1\" and (.params.type == \"1\" or .params.type == \"2\"))] | length"; }
rec_has() { rec_jq -e "[.[] | $1] | length > 0" >/dev/null; }
# inject JSON: a customer writes through the simulator; prints the MessageSid
inject() { curl -fsS "$TWILIO/sandbox/v1/inbound" --data-binary "$1" | jq -r .sid; }
stored() { [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages/$1")" = 200 ]; }

# The customer writes; Kannel answers inside the window: Twilio gets Body
# from whatsapp:+business; Kannel gets exactly one final DLR (DELIVRD).
t_window_text() {
	local sid
	sid=$(inject "{\"from\":\"$CUSTOMER\",\"to\":\"$BUSINESS\",\"text\":\"Where is my parcel?\"}") || return 1
	smpp_wait 10 stored "$sid" || { echo "inbound $sid not stored"; return 1; }
	SMPP_TO=$CUSTOMER smpp_sendsms win 0 'It ships today, tracking follows.' || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "win" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	tw_to "$CUSTOMER" | jq -e --arg from "whatsapp:$BUSINESS" '[.[] | select(.body == "It ships today, tracking follows." and .from == $from and .content_sid == "")] | length == 1' >/dev/null ||
		{ tw_to "$CUSTOMER" | jq -c '.[] | {from, body, content_sid}'; return 1; }
	sleep 0.5
	[ "$(finals win)" = 1 ]
}
check twilio_kannel_window_text t_window_text

# Kannel sends plain text to a customer who never wrote: wabridge matches
# the approved Content template and sends ContentSid + ContentVariables.
t_template() {
	SMPP_TO=$STRANGER smpp_sendsms tpl 0 'Your order 4711 is on its way and will arrive Tuesday.' || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "tpl" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	tw_to "$STRANGER" | jq -e '[.[] | select((.content_sid | startswith("HX")) and .body == "" and .content_variables["1"] == "4711" and .content_variables["2"] == "Tuesday")] | length == 1' >/dev/null ||
		{ tw_to "$STRANGER" | jq -c '.[] | {body, content_sid, content_variables}'; return 1; }
}
check twilio_kannel_content_template t_template

# Not on WhatsApp: the message moves to the Twilio SMS route (plain +E164
# addresses, the route's From); Kannel gets exactly one final DLR.
t_fallback_sms() {
	SMPP_TO=$NOWA smpp_sendsms nowa 0 'Your order 99 is on its way and will arrive Friday.' || return 1
	smpp_wait 20 rec_has 'select(.path == "/dlr" and .params.tag == "nowa" and .params.type == "1")' || { echo "no delivered DLR"; return 1; }
	tw_to "$NOWA" | jq -e --arg f "$SMSFROM" '[.[] | select(.channel == "sms" and .from == $f)] | length == 1' >/dev/null ||
		{ tw_to "$NOWA" | jq -c '.[] | {channel, from, to, body, status, error_code}'; return 1; }
	sleep 1
	[ "$(finals nowa)" = 1 ] || { echo "$(finals nowa) final DLRs"; return 1; }
	local fid
	fid=$(rec_jq -r '[.[] | select(.path == "/dlr" and .params.tag == "nowa" and .params.type == "1")][0].params.fid')
	api GET "/api/v1/messages/$fid" | jq -e '.channel == "sms" and .fallback == "not_on_whatsapp" and .status == "delivered"' >/dev/null
}
check twilio_fallback_to_twilio_sms t_fallback_sms

# swaks submits a mail with a PDF attachment: Twilio gets the text and then
# the document as a MediaUrl it fetched from wabridge (same bytes).
head -c 30000 /dev/urandom >"$WORK/invoice.pdf"
PDF_SHA=$(sha256sum "$WORK/invoice.pdf" | cut -d' ' -f1)
t_swaks() {
	local sid
	sid=$(inject "{\"from\":\"$MAILCUST\",\"to\":\"$BUSINESS\",\"text\":\"Send me the invoice please\"}") || return 1
	smpp_wait 10 stored "$sid" || return 1
	swaks --server 127.0.0.1 --port "$SMTP_PORT" --ehlo peer.test --timeout 30 --auth PLAIN --auth-user agent --auth-password mailpw \
		--from agent@example.com --to "${MAILCUST#+}@wa.example.com" --header 'Subject: Invoice' --body 'Here is your invoice.' \
		--attach-type application/pdf --attach-name invoice.pdf --attach @"$WORK/invoice.pdf" >"$WORK/swaks.out" 2>&1 ||
		{ tail -5 "$WORK/swaks.out"; return 1; }
	smpp_wait 20 eval "tw_to $MAILCUST | jq -e '[.[] | select(.status == \"read\" or .status == \"delivered\")] | length >= 2' >/dev/null" ||
		{ tw_to "$MAILCUST" | jq -c '.[] | {body, media_urls, status, error_code}'; return 1; }
	tw_to "$MAILCUST" | jq -e '[.[] | select(.body == "Here is your invoice.")] | length == 1' >/dev/null || { echo "text missing"; return 1; }
	tw_to "$MAILCUST" | jq -e --arg sha "$PDF_SHA" '[.[] | select(.media[0].sha256 == $sha and .media[0].content_type == "application/pdf" and (.media_urls[0] | contains("/media/")))] | length == 1' >/dev/null ||
		{ tw_to "$MAILCUST" | jq -c '.[] | {body, media_urls, media}'; return 1; }
}
check twilio_swaks_mail_with_attachment t_swaks

# The customer's reply (a reply to the mail's WhatsApp message) lands in
# the agent's INBOX, read with curl's IMAP client.
t_reply_imap() {
	local out_sid n=0
	out_sid=$(tw_to "$MAILCUST" | jq -r '[.[] | select(.body == "Here is your invoice.")][0].sid')
	inject "{\"from\":\"$MAILCUST\",\"to\":\"$BUSINESS\",\"text\":\"Got it, thanks!\",\"reply_to\":\"$out_sid\"}" >/dev/null || return 1
	for _ in $(seq 1 100); do
		n=$(curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u agent:mailpw -X 'SEARCH BODY "Got it, thanks!"' | tr -cd '0-9 \n' | wc -w)
		[ "$n" -ge 1 ] && break
		sleep 0.1
	done
	[ "$n" = 1 ] || { echo "$n mails with the reply"; return 1; }
	local uid
	uid=$(curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX" -u agent:mailpw -X 'UID SEARCH BODY "Got it, thanks!"' | grep -o '[0-9]*' | tail -1)
	curl -fsS "imap://127.0.0.1:$IMAP_PORT/INBOX;UID=$uid" -u agent:mailpw >"$WORK/reply.eml" || return 1
	grep -qi "^From:.*${MAILCUST#+}@wa.example.com" "$WORK/reply.eml" && grep -qi '^In-Reply-To:' "$WORK/reply.eml"
}
check twilio_reply_reaches_imap t_reply_imap

# curl as a forger: unsigned, wrongly signed and replayed-to-another-URL
# webhooks get 403 and store nothing.
t_forged() {
	local form="MessageSid=SMf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0&SmsStatus=received&From=whatsapp%3A%2B4915100000042&To=whatsapp%3A%2B15550100001&Body=forged"
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/webhooks/twilio" --data "$form") && [ "$code" = 403 ] || { echo "unsigned: $code"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Twilio-Signature: bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==' "$BASE/webhooks/twilio" --data "$form") && [ "$code" = 403 ] || { echo "bad signature: $code"; return 1; }
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages/SMf0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0") && [ "$code" = 404 ]
}
check twilio_forged_webhooks_refused t_forged

smpp_finish
