#!/usr/bin/env bash
# swaks (Debian's, 20201014) as a mail program submitting to wabridge's SMTP
# server, with the embedded sandbox playing WhatsApp:
#   swaks --tls --auth (STARTTLS, certificate verified against a CA made here)
#     -> wabridge SMTP -> outbox -> sandbox (what "WhatsApp" received)
# Every customer below first writes on WhatsApp (the sandbox's inbound), so
# the 24-hour window is open and freeform messages go out. Each check uses its
# own customer number, so the sandbox's list per number is that check's alone.
# Refusals are read from swaks' transcript: the reply to the command that
# caused it (MAIL, RCPT, AUTH, or the end of DATA).
#
# Config used (docs/mail.md, config.example.toml):
#   [mail] domain, [[mail.users]] username/password (plain or bcrypt)/numbers
#   [smtp] listen (STARTTLS), tls_listen (implicit TLS), cert_file, key_file,
#          max_message_bytes; long_text at its default "split"
source "$(dirname "$0")/lib.sh"
SMTP_PEER_DIR=$(cd "$(dirname "$0")/smtp" && pwd)
source "$SMTP_PEER_DIR/lib_smtp.sh"

DOMAIN=wa.example.com
BIZ1=+15550100001 # agent's first (default) number
BIZ2=+15550100002 # agent's second number
BIZ3=+15550100003 # owned by "other" only
USER=agent
PASS=s3cret-pass
OTHER=other
OTHER_PASS=other-pass-9
# bcrypt (cost 10) of OTHER_PASS, made with libxcrypt; checked with Go's x/crypto/bcrypt
OTHER_HASH='$2b$10$VpEAfveEXEn.IrZEiUuDM.1YjG3wgZCc9ndYuTrdDCOK2/qBoqBOy'

# One customer per check (+49 1511234 00NN).
C_PLAIN=+4915112340001
C_LOGIN=+4915112340002
C_PDF=+4915112340003
C_TWO_A=+4915112340004
C_TWO_B=+4915112340005
C_LONG=+4915112340006
C_ZIP=+4915112340007
C_BIG=+4915112340008
C_DUP=+4915112340009
C_DUP_OTHER=+4915112340010
C_FROM2=+4915112340011
C_XHDR=+4915112340012
C_FOREIGN=+4915112340013
C_BCRYPT=+4915112340014
C_TLSC=+4915112340015
C_NOTLS=+4915112340016

if ! out=$(bash "$SMTP_PEER_DIR/install.sh" 2>&1); then
	echo "PEER FAIL smtp_swaks_installed"; echo "$out" | tail -5 | sed 's/^/    /'; exit 1
fi
echo "PEER PASS smtp_swaks_installed"

make_certs || { echo "PEER FAIL smtp_swaks_certificates"; exit 1; }
CA=$WORK/tls/ca.pem

SMTP_PORT=$(free_port)
SMTPS_PORT=$(free_port)
start_daemon "[[whatsapp.numbers]]
phone_number_id = \"100000000000002\"
business_number = \"$BIZ1\"
[[whatsapp.numbers]]
phone_number_id = \"100000000000003\"
business_number = \"$BIZ2\"
[[whatsapp.numbers]]
phone_number_id = \"100000000000004\"
business_number = \"$BIZ3\"

[mail]
domain = \"$DOMAIN\"
[[mail.users]]
username = \"$USER\"
password = \"$PASS\"
numbers = [\"$BIZ1\", \"$BIZ2\"]
[[mail.users]]
username = \"$OTHER\"
password = '$OTHER_HASH'
numbers = [\"$BIZ3\"]

[smtp]
listen = \"127.0.0.1:$SMTP_PORT\"
tls_listen = \"127.0.0.1:$SMTPS_PORT\"
cert_file = \"$WORK/tls/cert.pem\"
key_file = \"$WORK/tls/key.pem\"
max_message_bytes = \"30MiB\"
allow_insecure_auth = false

[imap]
listen = \"127.0.0.1:0\""
wait_port "$SMTP_PORT"

# --- helpers ---------------------------------------------------------------




# sw NAME ARGS...: run swaks over STARTTLS (certificate verified against CA)
# with --suppress-data; transcript in $WORK/NAME.log, exit code in NAME.rc.
sw() {
	local name=$1; shift
	swaks --server 127.0.0.1 --port "$SMTP_PORT" --ehlo peer.test --timeout 30 \
		--tls --tls-verify --tls-ca-path "$CA" --suppress-data "$@" >"$WORK/$name.log" 2>&1
	echo $? >"$WORK/$name.rc"
}
sw_auth() { local name=$1; shift; sw "$name" --auth PLAIN --auth-user "$USER" --auth-password "$PASS" "$@"; }
rc() { cat "$WORK/$1.rc"; }

# reply NAME REGEX: the server's (final) reply to the first client line of
# the transcript matching REGEX (without swaks' " -> " / " ~> " prefix).
reply() {
	awk -v pat="$2" '
		/^( ->| ~>|\*\*>|\*~>) / { if (!found) waiting = (substr($0, 5) ~ pat); next }
		/^(<- |<~ |<\*\*|<~\*) / { if (waiting && substr($0, 5) ~ /^[0-9][0-9][0-9]( |$)/) { print substr($0, 5); found = 1; exit } }
	' "$WORK/$1.log"
}
# data_reply NAME: the reply to the message (end of DATA; with --suppress-data
# swaks shows the content as "N lines sent").
data_reply() { reply "$1" '^([.]|[0-9]+ lines sent)$'; }

# expect_reply NAME REGEX WANT: the reply to REGEX starts with WANT.
expect_reply() {
	local got
	got=$(reply "$1" "$2")
	case "$got" in
	"$3"*) return 0 ;;
	esac
	echo "reply to /$2/: '$got', want '$3…' (swaks exit $(rc "$1"))"; tail -25 "$WORK/$1.log"; return 1
}
expect_data() {
	local got
	got=$(data_reply "$1")
	case "$got" in
	"$2"*) return 0 ;;
	esac
	echo "reply to DATA: '$got', want '$2…' (swaks exit $(rc "$1"))"; tail -25 "$WORK/$1.log"; return 1
}

# A text message to WHO with exactly TEXT, from FROM (default BIZ1), exactly once.
text_once() {
	local who=$1 text=$2 from=${3:-$BIZ1}
	wait_sent 15 "$who" "[.[] | select(.type == \"text\" and .text == $(jq -Rn --arg t "$text" '$t'))] | length >= 1" || return 1
	sent_to "$who" | jq -e --arg t "$text" --arg f "$from" \
		'[.messages[] | select(.type == "text" and .text == $t)] | length == 1 and .[0].from == $f' >/dev/null ||
		{ echo "want one text '$text' from $from:"; sent_to "$who" | jq -c '.messages[] | {type, from, text}'; return 1; }
}

# nothing_but_control CUSTOMER: after a refused mail, send a control mail to
# the customer and wait for it (and a little more): it must be the only
# message the customer got — the refused one committed nothing.
nothing_but_control() {
	local who=$1 text="control $RANDOM$RANDOM"
	sw_auth "control-${who#+}" --from "${BIZ1#+}@$DOMAIN" --to "${who#+}@$DOMAIN" --body "$text"
	[ "$(rc "control-${who#+}")" = 0 ] || { echo "control mail not accepted"; tail -10 "$WORK/control-${who#+}.log"; return 1; }
	text_once "$who" "$text" || return 1
	sleep 0.3
	sent_to "$who" | jq -e '.messages | length == 1' >/dev/null ||
		{ echo "the refused mail sent something:"; sent_to "$who" | jq -c '.messages[] | {type, text, media}'; return 1; }
}

# --- checks ----------------------------------------------------------------

t_windows() {
	local c
	for c in "$C_PLAIN" "$C_LOGIN" "$C_PDF" "$C_TWO_A" "$C_TWO_B" "$C_LONG" "$C_ZIP" "$C_BIG" \
		"$C_DUP" "$C_DUP_OTHER" "$C_TLSC" "$C_NOTLS" "$C_FOREIGN"; do
		open_window "$c" || return 1
	done
	open_window "$C_FROM2" "$BIZ2" && open_window "$C_XHDR" "$BIZ2" && open_window "$C_BCRYPT" "$BIZ3"
}
check smtp_swaks_customers_wrote t_windows

# The certificate the server presents on STARTTLS: the one configured,
# valid for localhost and 127.0.0.1 (openssl s_client as a second client).
t_cert() {
	local out
	out=$(openssl s_client -connect "127.0.0.1:$SMTP_PORT" -starttls smtp -CAfile "$CA" -verify_return_error \
		-verify_hostname localhost -verify_ip 127.0.0.1 </dev/null 2>&1) || { echo "$out" | tail -15; return 1; }
	grep -q 'Verify return code: 0 (ok)' <<<"$out" || { echo "$out" | tail -15; return 1; }
	grep -Eq 'subject=.*CN ?= ?localhost' <<<"$out"
}
check smtp_openssl_starttls_certificate t_cert

# AUTH PLAIN after STARTTLS (certificate verified); the text reaches WhatsApp.
t_plain() {
	local text="Hello from swaks, AUTH PLAIN over STARTTLS."
	sw_auth plain --from "${BIZ1#+}@$DOMAIN" --to "${C_PLAIN#+}@$DOMAIN" --body "$text"
	expect_reply plain '^STARTTLS$' 220 || return 1
	grep -q '^=== TLS started' "$WORK/plain.log" || { echo "no TLS"; return 1; }
	# after TLS: EHLO offers AUTH PLAIN and LOGIN
	grep -E '^<~  250[- ]AUTH ' "$WORK/plain.log" | grep -w PLAIN | grep -qw LOGIN ||
		{ echo "AUTH PLAIN LOGIN not offered after STARTTLS"; grep '^<~' "$WORK/plain.log"; return 1; }
	expect_reply plain '^AUTH PLAIN' 235 || return 1
	expect_data plain 250 || return 1
	[ "$(rc plain)" = 0 ] || { echo "swaks exit $(rc plain)"; return 1; }
	text_once "$C_PLAIN" "$text"
}
check smtp_swaks_auth_plain_starttls t_plain

# The SIZE extension announces max_message_bytes (RFC 1870): 30 MiB.
t_size() { grep -Eq '^<~  250[- ]SIZE 31457280$' "$WORK/plain.log" || { grep '^<~  250' "$WORK/plain.log"; return 1; }; }
check smtp_swaks_size_advertised t_size

# AUTH LOGIN (username and password prompts, no initial response).
t_login() {
	local text="Hello from swaks, AUTH LOGIN."
	sw login --auth LOGIN --auth-user "$USER" --auth-password "$PASS" \
		--from "${BIZ1#+}@$DOMAIN" --to "${C_LOGIN#+}@$DOMAIN" --body "$text"
	expect_reply login '^AUTH LOGIN$' 334 || return 1
	grep -Eq '^<~  235' "$WORK/login.log" || { echo "no 235"; tail -20 "$WORK/login.log"; return 1; }
	expect_data login 250 || return 1
	text_once "$C_LOGIN" "$text"
}
check smtp_swaks_auth_login t_login

# A PDF attachment: a document message with the file's name and bytes; the
# body goes as text or as the document's caption.
t_pdf() {
	local text="Your invoice is attached." pdf=$WORK/invoice.pdf sha size
	python3 - "$pdf" <<'PY' || return 1
import sys
objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offs = []
for i, o in enumerate(objs, 1):
    offs.append(len(out)); out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
out += b"".join(b"%010d 00000 n \n" % o for o in offs)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
out += b"%" + bytes(range(256)) * 40 + b"\n"  # binary filler: base64 must carry every byte value
open(sys.argv[1], "wb").write(out)
PY
	sha=$(sha256sum "$pdf" | cut -d' ' -f1)
	size=$(stat -c %s "$pdf")
	sw_auth pdf --from "${BIZ1#+}@$DOMAIN" --to "${C_PDF#+}@$DOMAIN" --body "$text" \
		--attach-type application/pdf --attach-name invoice.pdf --attach "@$pdf"
	expect_data pdf 250 || return 1
	wait_sent 15 "$C_PDF" '[.[] | select(.type == "document")] | length >= 1' || return 1
	sent_to "$C_PDF" | jq -e --arg sha "$sha" --argjson size "$size" --arg t "$text" '
		.messages as $m | [$m[] | select(.type == "document")] as $d
		| ($d | length == 1)
		and $d[0].request.document.filename == "invoice.pdf"
		and $d[0].media.mime_type == "application/pdf"
		and $d[0].media.sha256 == $sha and $d[0].media.size == $size
		and $d[0].from == "+15550100001"
		and (([$m[] | select(.type == "text" and .text == $t)] | length) + (if $d[0].request.document.caption == $t then 1 else 0 end) == 1)' >/dev/null ||
		{ echo "want one invoice.pdf ($size bytes, $sha) and the text once:"; sent_to "$C_PDF" | jq -c '.messages[] | {type, text, media, request}'; return 1; }
}
check smtp_swaks_pdf_attachment_document t_pdf

# Two recipients in one transaction: one WhatsApp message each; the local
# part with or without "+".
t_two() {
	local text="One mail, two customers."
	sw_auth two --from "${BIZ1#+}@$DOMAIN" --to "${C_TWO_A#+}@$DOMAIN,$C_TWO_B@$DOMAIN" --body "$text"
	expect_reply two "^RCPT TO:<${C_TWO_A#+}@" 250 || return 1
	expect_reply two "^RCPT TO:<[+]${C_TWO_B#+}@" 250 || return 1
	expect_data two 250 || return 1
	text_once "$C_TWO_A" "$text" && text_once "$C_TWO_B" "$text"
}
check smtp_swaks_two_recipients t_two

# ~1 MiB of text (WhatsApp takes 4,096 characters): split (long_text's
# default) into consecutive messages that together are the text, each within
# the limit; whitespace at the cuts may be dropped.
t_long() {
	local body=$WORK/long.txt
	python3 - "$body" <<'PY' || return 1
import sys
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
paras, n, size = [], 0, 0
while size < 1024 * 1024:
    lines = []
    for _ in range(6):
        line = " ".join(f"{words[(n + k) % len(words)]}{(n + k) % 997}" for k in range(9)) + "."
        n += 9
        lines.append(line)
    paras.append("\n".join(lines))
    size += sum(len(l) + 1 for l in lines) + 1
open(sys.argv[1], "w").write("\n\n".join(paras) + "\n")
PY
	sw_auth long --from "${BIZ1#+}@$DOMAIN" --to "${C_LONG#+}@$DOMAIN" --body "@$body"
	expect_data long 250 || return 1
	local i
	for ((i = 0; i < 200; i++)); do # up to ~40 s for ~270 messages
		sent_to "$C_LONG" >"$WORK/long.json" && python3 - "$body" "$WORK/long.json" <<'PY' && return 0
import json, re, sys
want = " ".join(open(sys.argv[1]).read().split())
msgs = json.load(open(sys.argv[2]))["messages"]
parts = [m["text"] for m in msgs]
got = " ".join(" ".join(parts).split())
bad = [m["type"] for m in msgs if m["type"] != "text"] + [len(p) for p in parts if len(p) > 4096 or not p.strip()]
if bad:
    print("unexpected messages or part lengths:", bad[:10]); sys.exit(2)
if got == want:
    print(f"{len(parts)} parts"); sys.exit(0)
if len(got) < len(want):
    print(f"{len(parts)} parts, {len(got)} of {len(want)} characters so far"); sys.exit(1)
# all there but not the text: find where each part starts in it
pos = [want.find(" ".join(p.split())[:300]) for p in parts]
swaps = [f"part {i} (at char {pos[i]}) before part {i + 1} (at {pos[i + 1]})"
         for i in range(len(pos) - 1) if pos[i] > pos[i + 1]]
print(f"{len(parts)} parts, {len(got)} characters, not the text in order:", "; ".join(swaps[:5]) or
      "first difference at %d" % next(i for i, (a, b) in enumerate(zip(got + "\0", want + "\0")) if a != b))
sys.exit(2)
PY
		[ $? = 2 ] && return 1
		sleep 0.2
	done
	return 1
}
check smtp_swaks_long_text_split_in_order t_long

# No relay: a recipient outside the domain, or not a number, is refused at RCPT.
t_relay() {
	sw_auth relay --from "${BIZ1#+}@$DOMAIN" --to someone@gmail.com --body "relay?"
	expect_reply relay '^RCPT TO:<someone@gmail[.]com>' '550 5.1.1' || return 1
	[ "$(rc relay)" = 24 ] || { echo "swaks exit $(rc relay), want 24 (no RCPT accepted)"; return 1; }
	sw_auth notnum --from "${BIZ1#+}@$DOMAIN" --to "anna@$DOMAIN" --body "not a number"
	expect_reply notnum '^RCPT TO:<anna@' '550 5.1.1'
}
check smtp_swaks_relay_refused_at_rcpt t_relay

# MAIL before AUTH (TLS is up, no AUTH): 530 5.7.0.
t_noauth() {
	sw noauth --from "${BIZ1#+}@$DOMAIN" --to "${C_PLAIN#+}@$DOMAIN" --body "no auth"
	expect_reply noauth '^MAIL FROM:' '530 5.7.0' || return 1
	[ "$(rc noauth)" = 23 ] || { echo "swaks exit $(rc noauth), want 23"; return 1; }
}
check smtp_swaks_mail_before_auth_530 t_noauth

# A wrong password (PLAIN and LOGIN) and an unknown user: 535.
t_badpass() {
	sw badplain --auth PLAIN --auth-user "$USER" --auth-password wrong-pass --from "${BIZ1#+}@$DOMAIN" --to "${C_PLAIN#+}@$DOMAIN"
	expect_reply badplain '^AUTH PLAIN' 535 || return 1
	[ "$(rc badplain)" = 28 ] || { echo "swaks exit $(rc badplain), want 28"; return 1; }
	sw badlogin --auth LOGIN --auth-user "$USER" --auth-password wrong-pass --from "${BIZ1#+}@$DOMAIN" --to "${C_PLAIN#+}@$DOMAIN"
	grep -Eq '^<~\* 535' "$WORK/badlogin.log" || { echo "LOGIN: no 535"; tail -10 "$WORK/badlogin.log"; return 1; }
	sw baduser --auth PLAIN --auth-user nobody --auth-password "$PASS" --from "${BIZ1#+}@$DOMAIN" --to "${C_PLAIN#+}@$DOMAIN"
	expect_reply baduser '^AUTH PLAIN' 535
}
check smtp_swaks_wrong_password_535 t_badpass

# Without STARTTLS the password would travel in clear: AUTH is not offered
# (swaks stops: "Host did not advertise authentication") or is refused
# (530 / 538); never 235, and nothing is sent. STARTTLS is offered.
t_notls() {
	swaks --server 127.0.0.1 --port "$SMTP_PORT" --ehlo peer.test --timeout 30 --suppress-data \
		--auth PLAIN --auth-user "$USER" --auth-password "$PASS" \
		--from "${BIZ1#+}@$DOMAIN" --to "${C_NOTLS#+}@$DOMAIN" --body "in clear" >"$WORK/notls.log" 2>&1
	echo $? >"$WORK/notls.rc"
	[ "$(rc notls)" != 0 ] || { echo "swaks succeeded without TLS"; cat "$WORK/notls.log"; return 1; }
	grep -Eq '^<-  250[- ]STARTTLS$' "$WORK/notls.log" || { echo "STARTTLS not offered"; grep '^<-' "$WORK/notls.log"; return 1; }
	grep -Eq '^<(-  |\*\* )235' "$WORK/notls.log" && { echo "235 without TLS"; return 1; }
	if grep -Eq '^<-  250[- ]AUTH' "$WORK/notls.log"; then
		case "$(reply notls '^AUTH PLAIN')" in 530* | 538*) ;; *) echo "AUTH answered $(reply notls '^AUTH PLAIN')"; return 1 ;; esac
	else
		grep -q 'Host did not advertise authentication' "$WORK/notls.log" || { cat "$WORK/notls.log"; return 1; }
	fi
	sleep 0.3
	sent_to "$C_NOTLS" | jq -e '.messages | length == 0' >/dev/null
}
check smtp_swaks_auth_needs_starttls t_notls

# An attachment WhatsApp does not take (application/zip): 554 5.6.1 to the
# DATA, and nothing sent — not even the text.
t_zip() {
	python3 -c 'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],"w"); z.writestr("a.txt","hello "*100); z.close()' "$WORK/files.zip" || return 1
	sw_auth zip --from "${BIZ1#+}@$DOMAIN" --to "${C_ZIP#+}@$DOMAIN" --body "the archive" \
		--attach-type application/zip --attach-name files.zip --attach "@$WORK/files.zip"
	expect_data zip '554 5.6.1' || return 1
	[ "$(rc zip)" = 26 ] || { echo "swaks exit $(rc zip), want 26"; return 1; }
	nothing_but_control "$C_ZIP"
}
check smtp_swaks_zip_attachment_554 t_zip

# An image over WhatsApp's 5 MiB: 552 5.3.4 to the DATA, nothing sent.
t_big() {
	head -c $((5 * 1024 * 1024 + 4096)) /dev/urandom >"$WORK/big.png"
	sw_auth big --from "${BIZ1#+}@$DOMAIN" --to "${C_BIG#+}@$DOMAIN" --body "a big photo" \
		--attach-type image/png --attach-name big.png --attach "@$WORK/big.png"
	expect_data big '552 5.3.4' || return 1
	[ "$(rc big)" = 26 ] || { echo "swaks exit $(rc big), want 26"; return 1; }
	nothing_but_control "$C_BIG"
}
check smtp_swaks_image_over_limit_552 t_big

# The same Message-ID to the same recipient twice (a client's retry): both
# answered 250, one WhatsApp message. The same Message-ID to another
# recipient is another message; another Message-ID is sent again.
t_dup() {
	local text="Sent once, submitted twice." mid="<dup-$RANDOM$RANDOM@peer.test>"
	sw_auth dup1 --from "${BIZ1#+}@$DOMAIN" --to "${C_DUP#+}@$DOMAIN" --header "Message-Id: $mid" --body "$text"
	expect_data dup1 250 || return 1
	sw_auth dup2 --from "${BIZ1#+}@$DOMAIN" --to "${C_DUP#+}@$DOMAIN" --header "Message-Id: $mid" --body "$text"
	expect_data dup2 250 || return 1
	sw_auth dup3 --from "${BIZ1#+}@$DOMAIN" --to "${C_DUP_OTHER#+}@$DOMAIN" --header "Message-Id: $mid" --body "$text"
	expect_data dup3 250 || return 1
	sw_auth dup4 --from "${BIZ1#+}@$DOMAIN" --to "${C_DUP#+}@$DOMAIN" --header "Message-Id: <dup-next-$RANDOM@peer.test>" --body "$text (again)"
	expect_data dup4 250 || return 1
	text_once "$C_DUP" "$text (again)" || return 1 # sent after the duplicate: order per customer
	sleep 0.3
	text_once "$C_DUP" "$text" && text_once "$C_DUP_OTHER" "$text"
}
check smtp_swaks_duplicate_message_id_sent_once t_dup

# From: <digits>@domain chooses the business number.
t_from2() {
	local text="From the second number."
	sw_auth from2 --from "${BIZ2#+}@$DOMAIN" --to "${C_FROM2#+}@$DOMAIN" --body "$text"
	expect_data from2 250 || return 1
	text_once "$C_FROM2" "$text" "$BIZ2"
}
check smtp_swaks_from_chooses_number t_from2

# X-WhatsApp-From chooses it when From is not a number.
t_xhdr() {
	local text="Chosen by X-WhatsApp-From."
	sw_auth xhdr --from "$USER@$DOMAIN" --to "${C_XHDR#+}@$DOMAIN" --header "X-WhatsApp-From: $BIZ2" --body "$text"
	expect_data xhdr 250 || return 1
	text_once "$C_XHDR" "$text" "$BIZ2"
}
check smtp_swaks_x_whatsapp_from_header t_xhdr

# A business number the user does not own (it is other's): 550 5.7.1, by
# From or by X-WhatsApp-From; nothing sent.
t_foreign() {
	local got
	sw_auth foreign1 --from "${BIZ3#+}@$DOMAIN" --to "${C_FOREIGN#+}@$DOMAIN" --body "not my number"
	[ "$(rc foreign1)" != 0 ] || { echo "accepted From ${BIZ3#+}@$DOMAIN"; return 1; }
	grep -Eq '^<~\* 550 5[.]7[.]1' "$WORK/foreign1.log" || { echo "From: no 550 5.7.1"; tail -15 "$WORK/foreign1.log"; return 1; }
	sw_auth foreign2 --from "$USER@$DOMAIN" --to "${C_FOREIGN#+}@$DOMAIN" --header "X-WhatsApp-From: $BIZ3" --body "not my number either"
	[ "$(rc foreign2)" != 0 ] || { echo "accepted X-WhatsApp-From $BIZ3"; return 1; }
	grep -Eq '^<~\* 550 5[.]7[.]1' "$WORK/foreign2.log" || { echo "X-WhatsApp-From: no 550 5.7.1"; tail -15 "$WORK/foreign2.log"; return 1; }
	nothing_but_control "$C_FOREIGN"
}
check smtp_swaks_foreign_number_550 t_foreign

# A user whose password is a bcrypt hash sends from its own number.
t_bcrypt() {
	local text="From the bcrypt user."
	sw bcrypt --auth LOGIN --auth-user "$OTHER" --auth-password "$OTHER_PASS" \
		--from "${BIZ3#+}@$DOMAIN" --to "${C_BCRYPT#+}@$DOMAIN" --body "$text"
	expect_data bcrypt 250 || return 1
	text_once "$C_BCRYPT" "$text" "$BIZ3"
}
check smtp_swaks_bcrypt_user t_bcrypt

# Implicit TLS (tls_listen, swaks --tls-on-connect) with AUTH PLAIN.
t_tlsc() {
	local text="Over implicit TLS."
	swaks --server 127.0.0.1 --port "$SMTPS_PORT" --ehlo peer.test --timeout 30 --suppress-data \
		--tls-on-connect --tls-verify --tls-ca-path "$CA" \
		--auth PLAIN --auth-user "$USER" --auth-password "$PASS" \
		--from "${BIZ1#+}@$DOMAIN" --to "${C_TLSC#+}@$DOMAIN" --body "$text" >"$WORK/tlsc.log" 2>&1
	echo $? >"$WORK/tlsc.rc"
	expect_reply tlsc '^AUTH PLAIN' 235 || return 1
	expect_data tlsc 250 || return 1
	text_once "$C_TLSC" "$text"
}
check smtp_swaks_implicit_tls t_tlsc

finish
