#!/usr/bin/env bash
# mbsync (Debian's isync) syncing wabridge's IMAP mailboxes with a local
# Maildir over implicit TLS (tls_listen), the embedded sandbox playing
# WhatsApp: INBOX and Sent arrive as Maildir files (the customer's text, the
# submitted mail marked S); flags set locally (renaming the file's ":2,"
# info) reach the server as \Seen and \Flagged; a later sync pulls only the
# new message and a flag set on the server; a local draft in a new folder is
# created and appended there, a local deletion expunged. mbsync checks the certificate by
# DNS name (PEERS.md): Host localhost, CertificateFile the test CA, the
# system store off; a CA that did not sign the certificate is refused.
#
# Config used: [mail] domain, [[mail.users]], [smtp] listen, cert_file,
# key_file, [imap] listen, tls_listen, cert_file, key_file (docs/mail.md).
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC2317 # the t_* functions run through check
source "$(dirname "$0")/lib.sh"
# shellcheck source=imap/lib_imap.sh
source "$(dirname "$0")/imap/lib_imap.sh"
PEER=imap_mbsync

C1=+4915112340301
NAME1='Jürgen Weiß'
TEXT1='Order 4711: can you confirm the delivery date? 😀'
TEXT2='Thanks, see you tomorrow'
MD=$WORK/maildir

imap_installed imap_mbsync_installed
start_mail_daemon

# mbsyncrc CA [PATTERNS CREATE EXPUNGE]: a configuration for the test user,
# the password in it (the file is 0600), TLS on the implicit port; by
# default INBOX and Sent, new mailboxes made only locally, nothing expunged.
mbsyncrc() {
	(
		umask 077
		cat <<RC
IMAPAccount wa
Host localhost
Port $IMAPS_PORT
User $MAIL_USER
Pass $MAIL_PASS
SSLType IMAPS
SSLVersions TLSv1.2 TLSv1.3
SystemCertificates no
CertificateFile $1
AuthMechs PLAIN
Timeout 20

IMAPStore wa-far
Account wa

MaildirStore wa-near
Path $MD/
Inbox $MD/INBOX
SubFolders Verbatim

Channel wa
Far :wa-far:
Near :wa-near:
Patterns ${2:-INBOX Sent}
Create ${3:-Near}
Sync All
SyncState *
Expunge ${4:-None}
RC
	)
}

# mbsync_run N: run mbsync (verbose) with the real CA; its output in mbsync.N.log.
mbsync_run() {
	mkdir -p "$MD"
	HOME=$WORK timeout 30 mbsync -c "$WORK/mbsyncrc" -V wa >"$WORK/mbsync.$1.log" 2>&1
	echo $? >"$WORK/mbsync.$1.rc"
}
synced() {
	[ "$(cat "$WORK/mbsync.$1.rc")" = 0 ] || { echo "mbsync run $1 failed:"; tail -25 "$WORK/mbsync.$1.log"; return 1; }
}
# md_files BOX: the Maildir's messages (new/ and cur/), sorted by UID (",U=n").
md_files() {
	find "$MD/$1/new" "$MD/$1/cur" -type f 2>/dev/null | awk -F',U=' '{ split($2, a, ":"); print a[1] "\t" $0 }' | sort -n | cut -f2-
}
# md_flags FILE: the Maildir flags after ":2,".
md_flags() { case $1 in *:2,*) echo "${1##*:2,}" ;; *) echo "" ;; esac; }

# The customer writes; the user mails them (so Sent has a copy).
W1=$(inject "$C1" "$TEXT1" "$NAME1")
smtplib --from "${BIZ1#+}@$DOMAIN" --to "${C1#+}@$DOMAIN" --subject "Delivery date" \
	--body "Tomorrow between 9 and 12." >"$WORK/send.json" 2>"$WORK/send.err"
imapc status --min 1 >"$WORK/status_inbox.json"
imapc status --mailbox Sent --min 1 >"$WORK/status_sent.json"

# A CA that did not sign the server's certificate: mbsync refuses the
# connection and syncs nothing.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=some other CA" \
	-keyout "$WORK/other-ca.key" -out "$WORK/other-ca.pem" 2>/dev/null
mbsyncrc "$WORK/other-ca.pem" >"$WORK/mbsyncrc"
mkdir -p "$MD"
HOME=$WORK timeout 30 mbsync -c "$WORK/mbsyncrc" -V wa >"$WORK/mbsync.untrusted.log" 2>&1
echo $? >"$WORK/mbsync.untrusted.rc"
t_untrusted() {
	[ "$(cat "$WORK/mbsync.untrusted.rc")" != 0 ] || { echo "mbsync synced with an untrusted CA:"; tail -20 "$WORK/mbsync.untrusted.log"; return 1; }
	grep -i 'certificate' "$WORK/mbsync.untrusted.log" >/dev/null || { echo "no certificate error:"; tail -20 "$WORK/mbsync.untrusted.log"; return 1; }
	[ -z "$(md_files INBOX)" ] || { echo "messages synced anyway:"; md_files INBOX; return 1; }
}
check imap_mbsync_untrusted_ca_refused t_untrusted

# First sync with the test CA.
rm -rf "$MD"
mbsyncrc "$WORK/tls/ca.pem" >"$WORK/mbsyncrc"
mbsync_run 1
mapfile -t INBOX1 < <(md_files INBOX)

# INBOX: one file, the customer's mail (From "<name>" <digits@domain>,
# Message-ID <wamid@domain>, the text), unread (no S).
t_inbox() {
	synced 1 || return 1
	jqf "$WORK/status_inbox.json" '.messages == 1' || return 1
	[ "${#INBOX1[@]}" = 1 ] || { echo "want 1 message in the INBOX Maildir, have ${#INBOX1[@]}:"; md_files INBOX; return 1; }
	case $(md_flags "${INBOX1[0]}") in *S*) echo "already seen: ${INBOX1[0]}"; return 1 ;; esac
	mailjson "${INBOX1[0]}" >"$WORK/inbox1.json"
	jq -e --arg a "${C1#+}@$DOMAIN" --arg n "$NAME1" --arg m "<$W1@$DOMAIN>" --arg t "$TEXT1" \
		'.from_addr == $a and .from_name == $n and .message_id == $m and (.text | rtrimstr("\n")) == $t' \
		"$WORK/inbox1.json" >/dev/null || { echo "want From \"$NAME1\" <${C1#+}@$DOMAIN>, Message-ID <$W1@$DOMAIN>, text '$TEXT1':"; cat "$WORK/inbox1.json"; return 1; }
}
check imap_mbsync_inbox_synced t_inbox

# Sent: one file, the submitted mail, marked seen (S) as the server has it.
t_sent() {
	synced 1 || return 1
	jqf "$WORK/send.json" '.data[0] == 250' || { cat "$WORK/send.err"; return 1; }
	local s
	mapfile -t s < <(md_files Sent)
	[ "${#s[@]}" = 1 ] || { echo "want 1 message in the Sent Maildir, have ${#s[@]}:"; md_files Sent; return 1; }
	case $(md_flags "${s[0]}") in *S*) ;; *) echo "Sent copy not marked S: ${s[0]}"; return 1 ;; esac
	mailjson "${s[0]}" >"$WORK/sent1.json"
	jq -e --slurpfile r "$WORK/send.json" '.message_id == $r[0].message_id and .subject == "Delivery date"' \
		"$WORK/sent1.json" >/dev/null || { echo "want the submitted mail $(jq -r .message_id "$WORK/send.json"):"; cat "$WORK/sent1.json"; return 1; }
}
check imap_mbsync_sent_synced t_sent

# The user reads and flags the message in a Maildir client: the file moves
# to cur/ with ":2,FS". The next sync sets \Seen and \Flagged on the server.
if [ "${#INBOX1[@]}" = 1 ]; then
	base=$(basename "${INBOX1[0]}")
	mv "${INBOX1[0]}" "$MD/INBOX/cur/${base%%:2,*}:2,FS"
fi
mbsync_run 2
imapc flags --want '\Seen' --want '\Flagged' --wait 5 >"$WORK/flags2.json"
t_push() {
	synced 2 || return 1
	jqf "$WORK/flags2.json" '.flags | index("\\Seen") != null and index("\\Flagged") != null'
}
check imap_mbsync_flags_pushed t_push

# Meanwhile on the server: the customer writes again and another client
# marks the first message \Answered. The next sync pulls the new message
# (nothing twice) and the flag (R).
W2=$(inject "$C1" "$TEXT2" "$NAME1")
imapc status --min 2 >"$WORK/status2.json"
imapc store --uid 1 --op +FLAGS --flags '\Answered' >"$WORK/store.json"
mbsync_run 3
t_incremental() {
	synced 3 || return 1
	jqf "$WORK/status2.json" '.messages == 2' && jqf "$WORK/store.json" '.store[0] == "OK"' || return 1
	local f
	mapfile -t f < <(md_files INBOX)
	[ "${#f[@]}" = 2 ] || { echo "want 2 messages in the INBOX Maildir, have ${#f[@]}:"; md_files INBOX; return 1; }
	[ "$(md_flags "${f[0]}")" = FRS ] || { echo "want the first message with flags FRS: ${f[0]}"; return 1; }
	mailjson "${f[1]}" >"$WORK/inbox2.json"
	jq -e --arg m "<$W2@$DOMAIN>" --arg t "$TEXT2" '.message_id == $m and (.text | rtrimstr("\n")) == $t' \
		"$WORK/inbox2.json" >/dev/null || { echo "want Message-ID <$W2@$DOMAIN>, text '$TEXT2':"; cat "$WORK/inbox2.json"; return 1; }
	[ "$(md_files Sent | wc -l)" = 1 ] || { echo "Sent Maildir changed:"; md_files Sent; return 1; }
}
check imap_mbsync_incremental_sync t_incremental

# Local changes the other way, with every mailbox synced, new ones created
# on both sides and deletions expunged: a draft saved in a new local Drafts
# folder becomes CREATE Drafts (\Drafts special use) and APPEND (\Draft);
# the second message deleted locally (T) is expunged on the server.
mkdir -p "$MD/Drafts/cur" "$MD/Drafts/new" "$MD/Drafts/tmp"
printf '%s\r\n' "From: ${BIZ1#+}@$DOMAIN" "To: ${C1#+}@$DOMAIN" "Subject: Not yet" \
	"Message-ID: <draft-1@peer.test>" "" "Dear Jürgen, about the delivery" >"$MD/Drafts/cur/1795000000.draft1.peer:2,D"
mapfile -t INBOX3 < <(md_files INBOX)
if [ "${#INBOX3[@]}" = 2 ]; then
	base=$(basename "${INBOX3[1]}")
	mv "${INBOX3[1]}" "$MD/INBOX/cur/${base%%:2,*}:2,ST"
fi
mbsyncrc "$WORK/tls/ca.pem" '*' Both Both >"$WORK/mbsyncrc"
mbsync_run 4
imapc list >"$WORK/list4.json"
imapc fetch --mailbox Drafts --seq 1 >"$WORK/draft.json"
imapc status >"$WORK/status4.json"
t_push_changes() {
	synced 4 || return 1
	jqf "$WORK/list4.json" '.list | any(.name == "Drafts" and (.attrs | index("\\Drafts") != null))' &&
		jqf "$WORK/draft.json" '.flags == ["\\Draft"] and .message_id == "<draft-1@peer.test>" and .subject == "Not yet"' &&
		jqf "$WORK/status4.json" '.messages == 1' || return 1
	[ "$(md_files INBOX | wc -l)" = 1 ] || { echo "want 1 message left in the INBOX Maildir:"; md_files INBOX; return 1; }
}
check imap_mbsync_local_changes_pushed t_push_changes

finish
