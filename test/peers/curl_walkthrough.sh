#!/usr/bin/env bash
# The README's curl walk-through, run with curl against the real binary and
# its embedded sandbox: inject a customer reply, see the window, send, follow
# the status to read, get refused outside the window, read the metrics.
source "$(dirname "$0")/lib.sh"
start_daemon

CUSTOMER=+4915112345678

t_inbound() {
	curl -fsS "$SANDBOX/sandbox/v1/inbound" -d "{\"from\":\"$CUSTOMER\",\"name\":\"Anna\",\"text\":\"Where is my order?\"}" | jq -e '.wamid | startswith("wamid.")'
}
t_window() {
	sleep 0.2
	api GET "/api/v1/conversations/$CUSTOMER" | jq -e '.window_open == true and .seconds_left > 86000'
}
t_send_read() {
	local id
	id=$(api POST /api/v1/messages "{\"to\":\"$CUSTOMER\",\"text\":\"It ships today.\"}" | jq -r .id)
	[ -n "$id" ] && [ "$id" != null ] || { echo "no id"; return 1; }
	wait_status "$id" read || return 1
	api GET "/api/v1/messages/$id" | jq -e '[.history[].status] == ["queued","sent","delivered","read"] and .channel == "whatsapp"'
}
t_closed_window() {
	local id
	id=$(api POST /api/v1/messages '{"to":"+4915100000001","text":"out of the blue"}' | jq -r .id)
	wait_status "$id" failed || return 1
	api GET "/api/v1/messages/$id" | jq -e '.error.reason == "no_template" and .send.how == "none"'
}
t_template_matched() {
	local id
	id=$(api POST /api/v1/messages '{"to":"+4915100000002","text":"Your order 9 has shipped and arrives on Monday."}' | jq -r .id)
	wait_status "$id" read || return 1
	api GET "/api/v1/messages/$id" | jq -e '.send.how == "template_matched" and .send.template == "order_update" and .send.params == ["9","Monday"]' &&
		api GET /api/v1/templates | jq -e '.valid and ([.templates[] | select(.name == "order_update")] | length >= 1)'
}
t_template() {
	local id
	id=$(api POST /api/v1/messages '{"to":"+4915100000001","template":{"name":"order_update","language":"en_US","params":["12345","Monday"]}}' | jq -r .id)
	wait_status "$id" read
}
t_errors() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/api/v1/messages" -d '{}')" = 401 ] || { echo "no token not 401"; return 1; }
	api POST /api/v1/messages '{"to":"12","text":"x"}' | jq -e '.error.field == "to" and .error.reason == "invalid"' || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/webhooks/whatsapp" -d '{"object":"whatsapp_business_account"}')" = 401 ]
}
t_handshake() {
	[ "$(curl -fsS "$BASE/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=sandbox-verify-token")" = 1158201444 ] || return 1
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope")" = 403 ]
}
t_metrics() {
	# Read the whole page first: grep -q quitting early would make curl fail writing (pipefail).
	local page
	page=$(curl -fsS "$BASE/metrics") || return 1
	grep -E '^wabridge_messages_total\{channel="whatsapp",direction="outbound",status="read"\} [1-9]' <<<"$page" &&
		grep -q '^wabridge_store_fsyncs_total' <<<"$page"
}

t_media_out() {
	head -c 300000 /dev/urandom >"$WORK/invoice.pdf"
	local fid id
	fid=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/pdf' \
		--data-binary @"$WORK/invoice.pdf" "$BASE/api/v1/media?filename=invoice.pdf" | jq -r .id)
	[ -n "$fid" ] && [ "$fid" != null ] || { echo "no file id"; return 1; }
	id=$(api POST /api/v1/messages "{\"to\":\"$CUSTOMER\",\"media\":{\"type\":\"document\",\"file_id\":\"$fid\",\"caption\":\"Your invoice\"}}" | jq -r .id)
	wait_status "$id" read || return 1
	curl -fsS "$SANDBOX/sandbox/v1/messages?callback=$id" | jq -e '.messages[0].request.document.filename == "invoice.pdf"'
}
t_media_refused() {
	head -c 6000000 /dev/urandom >"$WORK/big.png"
	local fid code
	fid=$(curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: image/png' --data-binary @"$WORK/big.png" "$BASE/api/v1/media" | jq -r .id)
	code=$(curl -s -o "$WORK/refusal.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages" \
		-d "{\"to\":\"$CUSTOMER\",\"media\":{\"type\":\"image\",\"file_id\":\"$fid\"}}")
	[ "$code" = 413 ] && jq -e '.error.reason == "media_too_large"' "$WORK/refusal.json"
}
t_media_in() {
	local wamid state=""
	wamid=$(curl -fsS "$SANDBOX/sandbox/v1/inbound" -d "{\"from\":\"$CUSTOMER\",\"type\":\"image\",\"caption\":\"the damage\",\"media\":{\"mime_type\":\"image/jpeg\",\"size\":250000}}" | jq -r .wamid)
	for _ in $(seq 1 200); do
		state=$(api GET "/api/v1/messages/$wamid" 2>/dev/null | jq -r '.media.state // empty')
		[ "$state" = stored ] && break
		sleep 0.05
	done
	[ "$state" = stored ] || { echo "media state $state"; return 1; }
	curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/photo.jpg" "$BASE/api/v1/messages/$wamid/media" || return 1
	[ "$(stat -c %s "$WORK/photo.jpg")" = 250000 ] &&
		[ "$(sha256sum "$WORK/photo.jpg" | cut -d' ' -f1)" = "$(api GET "/api/v1/messages/$wamid" | jq -r .media.sha256)" ]
}

check curl_inject_reply t_inbound
check curl_window_open t_window
check curl_send_to_read t_send_read
check curl_window_closed t_closed_window
check curl_template_matched t_template_matched
check curl_template_outside_window t_template
check curl_clear_errors t_errors
check curl_webhook_handshake t_handshake
check curl_metrics t_metrics
check curl_media_upload_and_send t_media_out
check curl_media_limit_refused t_media_refused
check curl_media_inbound_download t_media_in
finish
