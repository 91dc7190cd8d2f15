#!/usr/bin/env bash
# fetchmail (Debian) fetching wabridge's INBOX into an MDA (a script writing
# one file per message), and curl reading one message by IMAP URL, the
# embedded sandbox playing WhatsApp. fetchmail: STARTTLS on the plain port
# (sslproto tls1.2+ makes TLS mandatory) with sslcertck against the test CA,
# fetchall + keep: every customer message arrives, stays on the server
# (marked \Seen by fetchmail); a later poll over implicit TLS (ssl, the
# tls_listen port) without fetchall fetches only the new message; a CA that
# did not sign the certificate is refused. The password is in a 0600 rc
# file (fetchmail refuses a readable one), never on the command line.
# curl: imap://localhost:PORT/INBOX;UID=1 with --ssl-reqd (STARTTLS) and a
# 0600 netrc.
#
# Config used: [mail] domain, [[mail.users]], [smtp] listen, cert_file,
# key_file, [imap] listen, tls_listen, cert_file, key_file (docs/mail.md).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317 # the t_* functions run through check
source "$(dirname "$0")/lib.sh"
# shellcheck source=imap/lib_imap.sh
source "$(dirname "$0")/imap/lib_imap.sh"
PEER=imap_fetchmail

C1=+4915112340401
C2=+4915112340402
NAME1='Ana Lima'
TEXT1='Is the parcel on its way? 📦'
TEXT2='Please call me back after 5 pm'
TEXT3='Never mind, it just arrived'

imap_installed imap_fetchmail_installed
start_mail_daemon

# The MDA: each message fetchmail delivers becomes one file in $WORK/fetched.
mkdir -p "$WORK/fetched"
cat >"$WORK/deliver.sh" <<SH
#!/bin/sh
exec cat >"\$(mktemp "$WORK/fetched/msg.XXXXXX")"
SH
chmod 755 "$WORK/deliver.sh"

# fetchmailrc NAME PORT TLS-OPTIONS CA [fetchall]: a 0600 rc file.
fetchmailrc() {
	(
		umask 077
		cat >"$WORK/$1.rc" <<RC
set no bouncemail
set no syslog
poll localhost service $2 protocol IMAP timeout 20
  user "$MAIL_USER" there with password "$MAIL_PASS" is "$(id -un)" here
  $3 sslcertck sslcertfile "$4"
  folder INBOX
  keep ${5:-}
  mda "$WORK/deliver.sh"
RC
	)
}
# fetch NAME: one verbose poll with $WORK/NAME.rc; transcript in NAME.log.
fetch() {
	HOME=$WORK FETCHMAILHOME=$WORK timeout 40 fetchmail -f "$WORK/$1.rc" -v --nodetach \
		--idfile "$WORK/fetchids" --pidfile "$WORK/fetchmail.pid" >"$WORK/$1.log" 2>&1
	echo $? >"$WORK/$1.rc.status"
}
fetched() { find "$WORK/fetched" -type f | sort; }
# mail_with TEXT: the one fetched file whose decoded text is TEXT, as JSON.
mail_with() {
	local f j n=0 hit=""
	mkdir -p "$WORK/parsed"
	for f in $(fetched); do
		j=$WORK/parsed/$(basename "$f").json
		mailjson "$f" >"$j"
		jq -e --arg t "$1" '(.text | rtrimstr("\n")) == $t' "$j" >/dev/null && { n=$((n + 1)); hit=$j; }
	done
	[ "$n" = 1 ] || { echo "want one fetched mail with the text '$1', have $n"; return 1; }
	cat "$hit"
}

W1=$(inject "$C1" "$TEXT1" "$NAME1")
W2=$(inject "$C2" "$TEXT2" "Carl Berg")
imapc status --min 2 >"$WORK/status.json"

# A CA that did not sign the server's certificate: no TLS session, nothing fetched.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=some other CA" \
	-keyout "$WORK/other-ca.key" -out "$WORK/other-ca.pem" 2>/dev/null
fetchmailrc untrusted "$IMAP_PORT" 'sslproto "tls1.2+"' "$WORK/other-ca.pem" fetchall
fetch untrusted
t_untrusted() {
	[ "$(cat "$WORK/untrusted.rc.status")" != 0 ] || { echo "fetchmail fetched with an untrusted CA:"; tail -20 "$WORK/untrusted.log"; return 1; }
	grep -i 'certificate' "$WORK/untrusted.log" >/dev/null || { echo "no certificate error:"; tail -20 "$WORK/untrusted.log"; return 1; }
	[ -z "$(fetched)" ] || { echo "fetched anyway:"; fetched; return 1; }
}
check imap_fetchmail_untrusted_ca_refused t_untrusted

# STARTTLS on the plain port, fetchall keep: both messages arrive.
fetchmailrc starttls "$IMAP_PORT" 'sslproto "tls1.2+"' "$CA" fetchall
fetch starttls
t_starttls() {
	jqf "$WORK/status.json" '.messages == 2' || return 1
	[ "$(cat "$WORK/starttls.rc.status")" = 0 ] || { echo "fetchmail failed:"; tail -25 "$WORK/starttls.log"; return 1; }
	grep 'IMAP> A[0-9]* STARTTLS' "$WORK/starttls.log" >/dev/null || { echo "no STARTTLS in the transcript:"; head -25 "$WORK/starttls.log"; return 1; }
	[ "$(fetched | wc -l)" = 2 ] || { echo "want 2 fetched mails:"; fetched; tail -25 "$WORK/starttls.log"; return 1; }
	mail_with "$TEXT1" >"$WORK/mail1.json" || return 1
	jq -e --arg a "${C1#+}@$DOMAIN" --arg n "$NAME1" --arg m "<$W1@$DOMAIN>" \
		'.from_addr == $a and .from_name == $n and .message_id == $m and (.received[0] | test("fetchmail"))' "$WORK/mail1.json" >/dev/null ||
		{ echo "want From \"$NAME1\" <${C1#+}@$DOMAIN>, Message-ID <$W1@$DOMAIN>:"; cat "$WORK/mail1.json"; return 1; }
	mail_with "$TEXT2" | jq -e --arg m "<$W2@$DOMAIN>" '.message_id == $m' >/dev/null ||
		{ echo "want <$W2@$DOMAIN> with '$TEXT2':"; mail_with "$TEXT2"; return 1; }
}
check imap_fetchmail_starttls_fetchall t_starttls

# keep: both messages are still on the server, fetchmail marked them \Seen.
imapc status >"$WORK/status_after.json"
imapc search --criteria SEEN --criteria DELETED --criteria ALL >"$WORK/search_after.json"
t_keep() {
	jqf "$WORK/status_after.json" '.messages == 2' &&
		jqf "$WORK/search_after.json" '.search.ALL == [1, 2] and .search.SEEN == [1, 2] and .search.DELETED == []'
}
check imap_fetchmail_keep t_keep

# The customer writes again; a poll over implicit TLS (the tls_listen port)
# without fetchall fetches only that (unseen) message.
W3=$(inject "$C1" "$TEXT3" "$NAME1")
imapc status --min 3 >"$WORK/status3.json"
fetchmailrc implicit "$IMAPS_PORT" 'ssl sslproto "tls1.2+"' "$CA"
fetch implicit
t_implicit() {
	jqf "$WORK/status3.json" '.messages == 3' || return 1
	[ "$(cat "$WORK/implicit.rc.status")" = 0 ] || { echo "fetchmail failed:"; tail -25 "$WORK/implicit.log"; return 1; }
	# TLS from the first byte: a TLS session, no STARTTLS in the transcript.
	if ! grep 'SSL/TLS: using protocol TLSv1[.][23]' "$WORK/implicit.log" >/dev/null ||
		grep 'IMAP> A[0-9]* STARTTLS' "$WORK/implicit.log" >/dev/null; then
		echo "not implicit TLS:"; head -15 "$WORK/implicit.log"; return 1
	fi
	[ "$(fetched | wc -l)" = 3 ] || { echo "want 3 fetched mails (one new):"; fetched; tail -25 "$WORK/implicit.log"; return 1; }
	mail_with "$TEXT3" | jq -e --arg m "<$W3@$DOMAIN>" '.message_id == $m' >/dev/null ||
		{ echo "want the new message <$W3@$DOMAIN>:"; mail_with "$TEXT3"; return 1; }
}
check imap_fetchmail_implicit_tls_new_only t_implicit

# curl: STARTTLS required, CA verified, the password from a 0600 netrc;
# UID 1 is the first customer's message.
(umask 077 && printf 'machine localhost login %s password %s\n' "$MAIL_USER" "$MAIL_PASS" >"$WORK/netrc")
curl -sS --max-time 20 --ssl-reqd --cacert "$CA" --netrc-file "$WORK/netrc" \
	"imap://localhost:$IMAP_PORT/INBOX;UID=1" >"$WORK/curl.eml" 2>"$WORK/curl.err"
echo $? >"$WORK/curl.status"
t_curl() {
	[ "$(cat "$WORK/curl.status")" = 0 ] || { echo "curl failed:"; cat "$WORK/curl.err"; return 1; }
	mailjson "$WORK/curl.eml" >"$WORK/curl.json"
	jq -e --arg m "<$W1@$DOMAIN>" --arg t "$TEXT1" '.message_id == $m and (.text | rtrimstr("\n")) == $t' "$WORK/curl.json" >/dev/null ||
		{ echo "want <$W1@$DOMAIN> with '$TEXT1':"; cat "$WORK/curl.json"; head -c 600 "$WORK/curl.eml"; return 1; }
}
check imap_curl_fetch_uid t_curl

finish
