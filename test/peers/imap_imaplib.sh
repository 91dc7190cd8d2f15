#!/usr/bin/env bash
# Python's imaplib (standard library) as a mail client of wabridge's IMAP
# server (imap/imap_client.py; smtplib for the reply), the embedded sandbox
# playing WhatsApp — the whole loop: a customer writes while the client
# IDLEs (STARTTLS, CA verified) and the client is told "* N EXISTS"; the
# mail has the customer's number @ domain, profile name and a Message-ID
# from the wamid; a reply by mail with that In-Reply-To is a WhatsApp reply
# to the wamid; the Sent copy is \Seen and gets $Delivered and $Read; SEARCH
# finds the right message; a STORE is seen by a second connection; LOGIN
# without TLS is refused (LOGINDISABLED).
#
# Config used: [mail] domain, [[mail.users]], [smtp] listen, cert_file,
# key_file, [imap] listen, tls_listen, cert_file, key_file (docs/mail.md).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317 # the t_* functions run through check
source "$(dirname "$0")/lib.sh"
# shellcheck source=imap/lib_imap.sh
source "$(dirname "$0")/imap/lib_imap.sh"
PEER=imap_imaplib

C1=+4915112340201 # writes while the client idles, gets the reply
C2=+4915112340202 # wrote before: makes SEARCH pick one of two
NAME1='Maria Gómez'
TEXT1='Can you send me the invoice? 😀'
TEXT2='Order 4711 arrived, thanks'
REPLY='Here it is.'

imap_installed imap_imaplib_installed
start_mail_daemon

# C2's message is in INBOX before the client selects it.
W2=$(inject "$C2" "$TEXT2" "Otto Other")
imapc status --min 1 >"$WORK/status0.json"

# IDLE: C1 writes (a plain curl to the sandbox) once the server said "+".
jq -cn --arg f "$C1" --arg t "$BIZ1" --arg x "$TEXT1" --arg n "$NAME1" '{from:$f, to:$t, text:$x, name:$n}' >"$WORK/inbound1.json"
imapc idle --wait 15 --on-idle "curl -fsS '$SANDBOX/sandbox/v1/inbound' --data-binary @'$WORK/inbound1.json'" >"$WORK/idle.json"
W1=$(jq -r '.on_idle.stdout | fromjson | .wamid' "$WORK/idle.json" 2>/dev/null)
MID="<$W1@$DOMAIN>"

# STARTTLS verified (chain and IP address), LOGIN, IDLE accepted; the
# customer's message is pushed as "* 2 EXISTS" while idling; DONE ends it.
t_idle() {
	[ -n "$W2" ] || { echo "the first customer message did not arrive"; return 1; }
	jqf "$WORK/status0.json" '.messages == 1' &&
		jqf "$WORK/idle.json" '.starttls[0] == "OK" and (.tls.version | test("^TLSv1[.][23]$"))' &&
		jqf "$WORK/idle.json" '.tls.peer_san | any(. == ["IP Address", "127.0.0.1"])' &&
		jqf "$WORK/idle.json" '.login[0] == "OK" and (.caps | index("IDLE") != null)' &&
		jqf "$WORK/idle.json" '.exists_before == 1 and (.idle_continuation | startswith("+"))' &&
		jqf "$WORK/idle.json" '.on_idle.rc == 0 and (.on_idle.stdout | fromjson | .wamid | startswith("wamid."))' &&
		jqf "$WORK/idle.json" '.exists == 2 and (.idle_lines | index("* 2 EXISTS") != null)' &&
		jqf "$WORK/idle.json" '.done[-1] | startswith("IDLE1 OK")'
}
check imap_imaplib_idle_exists_pushed t_idle

imapc fetch --seq 2 >"$WORK/fetch.json"
UID1=$(jq -r '.uid // empty' "$WORK/fetch.json")

# The customer's message as mail: From "<profile name>" <digits@domain>
# (the name as an RFC 2047 encoded word), Message-ID <wamid@domain>, the
# text, no flags (BODY.PEEK), RFC822.SIZE the size of what FETCH returns.
t_fetch() {
	jq -e --arg a "${C1#+}@$DOMAIN" --arg n "$NAME1" \
		'.from_addr == $a and .from_name == $n and (.from_raw | test("^=[?]utf-8[?]"; "i"))' "$WORK/fetch.json" >/dev/null ||
		{ echo "want From \"$NAME1\" <${C1#+}@$DOMAIN> (an encoded word):"; cat "$WORK/fetch.json"; return 1; }
	jq -e --arg m "$MID" --arg t "$TEXT1" \
		'.message_id == $m and (.text | rtrimstr("\n")) == $t and .flags == [] and .size == .bytes' \
		"$WORK/fetch.json" >/dev/null ||
		{ echo "want Message-ID $MID, text '$TEXT1', no flags, size = bytes:"; cat "$WORK/fetch.json"; return 1; }
}
check imap_imaplib_fetch_customer_mail t_fetch

# The reply, as a mail client writes it (imap_client.py reply): Re:
# subject, In-Reply-To and References naming the customer's Message-ID,
# the message quoted under "On …, Maria Gómez wrote:", submitted with
# smtplib (STARTTLS verified, AUTH), then saved to Sent by APPEND.
imapc reply --seq 2 --smtp-port "$SMTP_PORT" --from "${BIZ1#+}@$DOMAIN" --body "$REPLY" --save-sent >"$WORK/reply.json"

# WhatsApp gets one text, the reply without the quote, replying to the
# wamid: context.message_id in the Graph request.
t_reply() {
	jq -e --arg m "$MID" '.smtp_starttls[0] == 220 and .smtp_auth[0] == 235 and .smtp_refused == {} and .in_reply_to == $m' \
		"$WORK/reply.json" >/dev/null || { echo "want the reply submitted with In-Reply-To $MID:"; cat "$WORK/reply.json"; return 1; }
	wait_sent 15 "$C1" "length >= 1" || return 1
	sleep 0.2 # a second message (the quote, say) would have come by now
	sent_to "$C1" | jq -e --arg w "$W1" --arg r "$REPLY" \
		'.messages | length == 1 and (.[0] | .type == "text" and .text == $r and .request.context.message_id == $w)' >/dev/null ||
		{ echo "want one text '$REPLY' with context.message_id $W1:"; sent_to "$C1" | jq -c '.messages[] | {type, text, request}'; return 1; }
}
check imap_imaplib_reply_threads_to_wamid t_reply

# Sent (\Sent special use in LIST) holds the reply once (the client's
# APPEND merged with the server's copy): \Seen, then $Delivered and $Read
# as WhatsApp reports them; the same Message-ID and In-Reply-To as submitted.
imapc list >"$WORK/list.json"
imapc status --mailbox Sent --min 1 >"$WORK/sentstatus.json"
# shellcheck disable=SC2016 # $Delivered and $Read are IMAP keywords
imapc flags --mailbox Sent --seq 1 --want '\Seen' --want '$Delivered' --want '$Read' --wait 15 >"$WORK/sentflags.json"
imapc fetch --mailbox Sent --seq 1 >"$WORK/sent.json"
t_sent() {
	# shellcheck disable=SC2016 # $Delivered and $Read are IMAP keywords
	jqf "$WORK/list.json" '.list | any(.name == "Sent" and (.attrs | index("\\Sent") != null))' &&
		jqf "$WORK/list.json" '.list | any(.name == "INBOX")' &&
		jqf "$WORK/sentflags.json" '.flags | index("\\Seen") != null and index("$Delivered") != null and index("$Read") != null' &&
		jqf "$WORK/reply.json" '.append[0] == "OK"' &&
		jqf "$WORK/sentstatus.json" '.messages == 1' || return 1
	jq -e --slurpfile r "$WORK/reply.json" --arg m "$MID" \
			'.message_id == $r[0].message_id and .in_reply_to == $m' "$WORK/sent.json" >/dev/null ||
		{ echo "want the Sent copy with Message-ID $(jq -r .message_id "$WORK/reply.json") and In-Reply-To $MID:"; cat "$WORK/sent.json"; return 1; }
}
check imap_imaplib_sent_seen_delivered_read t_sent

# The client reads C2's message (BODY[] without PEEK: \Seen set), then
# searches; only C1's message matches the sender's digits, UNSEEN and its
# text; a word in neither message matches nothing.
imapc fetch --seq 1 --no-peek >"$WORK/read2.json"
imapc search --criteria "FROM \"${C1#+}\"" --criteria UNSEEN --criteria 'TEXT "invoice"' \
	--criteria 'TEXT "4711"' --criteria 'TEXT "nosuchwordanywhere"' >"$WORK/search.json"
t_search() {
	jqf "$WORK/read2.json" '(.flags_after | index("\\Seen") != null) and (.text | startswith("Order 4711"))' || return 1
	jq -e --argjson u "${UID1:-0}" --argjson u2 "$(jq '.uid // 0' "$WORK/read2.json")" --arg from "FROM \"${C1#+}\"" '
		.search[$from] == [$u] and .search["UNSEEN"] == [$u] and .search["TEXT \"invoice\""] == [$u]
		and .search["TEXT \"4711\""] == [$u2] and .search["TEXT \"nosuchwordanywhere\""] == []' "$WORK/search.json" >/dev/null ||
		{ echo "want UID $UID1 for FROM/UNSEEN/TEXT invoice, C2's UID for TEXT 4711, none for the absent word:"; cat "$WORK/search.json"; return 1; }
}
check imap_imaplib_search t_search

# STORE +FLAGS (\Flagged) on one connection; a second connection sees it
# (FETCH FLAGS and SEARCH FLAGGED).
imapc store --uid "${UID1:-1}" --op +FLAGS --flags '\Flagged' >"$WORK/store.json"
imapc flags --uid "${UID1:-1}" --want '\Flagged' --wait 5 >"$WORK/flagged.json"
imapc search --criteria FLAGGED >"$WORK/search_flagged.json"
t_store() {
	jqf "$WORK/store.json" '.store[0] == "OK" and (.flags | index("\\Flagged") != null)' &&
		jqf "$WORK/flagged.json" '.flags | index("\\Flagged") != null and index("\\Seen") == null' || return 1
	jq -e --argjson u "${UID1:-0}" '.search.FLAGGED == [$u]' "$WORK/search_flagged.json" >/dev/null ||
		{ echo "want SEARCH FLAGGED = [$UID1]:"; cat "$WORK/search_flagged.json"; return 1; }
}
check imap_imaplib_store_flag_persists t_store

# On the plain port without STARTTLS: LOGINDISABLED (and STARTTLS)
# advertised, LOGIN and AUTHENTICATE PLAIN refused, still not logged in.
python3 "$IMAP_PEER_DIR/imap_client.py" probe-plain --port "$IMAP_PORT" \
	--user "$MAIL_USER" --password "$MAIL_PASS" >"$WORK/plain.json"
t_plain() {
	jqf "$WORK/plain.json" '.caps | index("LOGINDISABLED") != null and index("STARTTLS") != null' &&
		jqf "$WORK/plain.json" '.disconnected == true or (.login_error != null and .authenticate_error != null and .select_error != null)'
}
check imap_imaplib_plain_login_refused t_plain

finish
