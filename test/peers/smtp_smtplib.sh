#!/usr/bin/env bash
# Python's smtplib (standard library) as a mail program submitting to
# wabridge's SMTP server (smtp/send_smtplib.py), with the embedded sandbox
# playing WhatsApp: EHLO, STARTTLS verified against a CA made here (chain and
# IP address), AUTH LOGIN the way smtplib does it (user name as the initial
# response), a UTF-8 mail (quoted-printable body "Grüße 😀", encoded-word
# Subject and From name; no SMTPUTF8) with a PNG attachment -> a text and an
# image message on WhatsApp. And a cleartext AUTH/MAIL probe, refused.
#
# Config used: [mail] domain, [[mail.users]], [smtp] listen,
# cert_file, key_file (docs/mail.md).
source "$(dirname "$0")/lib.sh"
SMTP_PEER_DIR=$(cd "$(dirname "$0")/smtp" && pwd)
source "$SMTP_PEER_DIR/lib_smtp.sh"

DOMAIN=wa.example.com
BIZ1=+15550100001
USER=agent
PASS=s3cret-pass
C_UTF=+4915112340101
C_NOTLS=+4915112340102
TEXT='Grüße 😀'

if ! out=$(bash "$SMTP_PEER_DIR/install.sh" 2>&1); then
	echo "PEER FAIL smtp_smtplib_installed"; echo "$out" | tail -5 | sed 's/^/    /'; exit 1
fi
echo "PEER PASS smtp_smtplib_installed"

make_certs || { echo "PEER FAIL smtp_smtplib_certificates"; exit 1; }

SMTP_PORT=$(free_port)
start_daemon "[mail]
domain = \"$DOMAIN\"
[[mail.users]]
username = \"$USER\"
password = \"$PASS\"
numbers = [\"$BIZ1\"]

[smtp]
listen = \"127.0.0.1:$SMTP_PORT\"
cert_file = \"$WORK/tls/cert.pem\"
key_file = \"$WORK/tls/key.pem\"
max_message_bytes = \"30MiB\"
allow_insecure_auth = false

[imap]
listen = \"127.0.0.1:0\""
wait_port "$SMTP_PORT"

smtplib() { python3 "$SMTP_PEER_DIR/send_smtplib.py" --port "$SMTP_PORT" "$@"; }

t_windows() { open_window "$C_UTF" && open_window "$C_NOTLS"; }
check smtp_smtplib_customers_wrote t_windows

# A 64x64 PNG (a real one: signature, IHDR, IDAT, IEND).
python3 - "$WORK/photo.png" <<'PY'
import struct, sys, zlib
w = h = 64
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 4, y * 4, (x ^ y) * 4)) for y in range(h))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
PNG_SHA=$(sha256sum "$WORK/photo.png" | cut -d' ' -f1)
PNG_SIZE=$(stat -c %s "$WORK/photo.png")

# The mail: sent at the top level (not in a check's subshell) so every check
# below reads its JSON result.
smtplib send --cafile "$WORK/tls/ca.pem" --user "$USER" --password "$PASS" --auth login \
	--from "${BIZ1#+}@$DOMAIN" --from-name 'Jürgen Müller' --to "${C_UTF#+}@$DOMAIN" \
	--subject 'Grüße aus Köln 😀 – Ihre Bestellung' --body "$TEXT" \
	--attach "$WORK/photo.png:image/png:photo.png" >"$WORK/send.json" 2>"$WORK/send.err"
echo $? >"$WORK/send.rc"

result() { jq -e "$1" "$WORK/send.json" >/dev/null || { echo "want $1 in:"; cat "$WORK/send.json" "$WORK/send.err"; return 1; }; }

# STARTTLS with a verifying context (chain to our CA, IP address 127.0.0.1
# in the certificate), AUTH PLAIN and LOGIN offered after it, LOGIN accepted.
t_session() {
	result '.starttls[0] == 220 and (.tls.version | test("^TLSv1[.][23]$"))' &&
		result '.tls.peer_san | any(. == ["DNS", "localhost"]) and any(. == ["IP Address", "127.0.0.1"])' &&
		result '.features.auth | split(" ") | index("PLAIN") != null and index("LOGIN") != null' &&
		result '.auth[0] == 235 and .mail[0] == 250 and (.rcpt | map(.[0]) == [250]) and .data[0] == 250' &&
		result '.subject_header | startswith("=?utf-8?")' &&
		[ "$(cat "$WORK/send.rc")" = 0 ]
}
check smtp_smtplib_starttls_verified_auth_login t_session

# The UTF-8 body arrives unchanged, as a text message or as the image's caption.
t_text() {
	wait_sent 15 "$C_UTF" "[.[] | select(.type == \"image\")] | length == 1" || return 1
	sent_to "$C_UTF" | jq -e --arg t "$TEXT" '
		[.messages[] | select((.type == "text" and .text == $t) or (.type == "image" and .request.image.caption == $t))] | length == 1' >/dev/null ||
		{ echo "want the text '$TEXT' once:"; sent_to "$C_UTF" | jq -c '.messages[] | {type, text, request}'; return 1; }
}
check smtp_smtplib_utf8_text t_text

# The PNG attachment is an image message with the file's bytes, from the user's number.
t_image() {
	wait_sent 15 "$C_UTF" "[.[] | select(.type == \"image\")] | length == 1" || return 1
	sent_to "$C_UTF" | jq -e --arg sha "$PNG_SHA" --argjson size "$PNG_SIZE" --arg f "$BIZ1" '
		[.messages[] | select(.type == "image")][0]
		| .media.mime_type == "image/png" and .media.sha256 == $sha and .media.size == $size
		  and .from == $f and (.request.image.id // .request.image.link) != null' >/dev/null ||
		{ echo "want image/png $PNG_SIZE bytes $PNG_SHA:"; sent_to "$C_UTF" | jq -c '.messages[] | {type, from, media, request}'; return 1; }
}
check smtp_smtplib_png_image t_image

# Without STARTTLS: AUTH is refused (not 235; a 5xx such as 530 or 538) and
# MAIL is refused (530), or the server drops the connection; nothing is sent.
t_cleartext() {
	smtplib probe-cleartext --user "$USER" --password "$PASS" --from "${BIZ1#+}@$DOMAIN" >"$WORK/probe.json" || { cat "$WORK/probe.json"; return 1; }
	jq -e '.disconnected != null or ((.auth[0] | tostring | startswith("5")) and .mail[0] == 530)' "$WORK/probe.json" >/dev/null ||
		{ echo "cleartext AUTH/MAIL not refused:"; cat "$WORK/probe.json"; return 1; }
	jq -e '.features | has("starttls")' "$WORK/probe.json" >/dev/null || { echo "STARTTLS not offered:"; cat "$WORK/probe.json"; return 1; }
	sleep 0.3
	sent_to "$C_NOTLS" | jq -e '.messages | length == 0' >/dev/null
}
check smtp_smtplib_cleartext_auth_refused t_cleartext

finish
