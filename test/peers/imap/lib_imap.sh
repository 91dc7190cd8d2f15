# shellcheck shell=bash source-path=SCRIPTDIR
# Helpers shared by the IMAP peer tests (sourced after ../lib.sh; sources
# ../smtp/lib_smtp.sh for make_certs, wait_port, sent_to, wait_sent).
#   imap_installed NAME      run imap/install.sh; PEER PASS/FAIL NAME, exit on failure
#   start_mail_daemon        certificates, then the daemon with a mail user, SMTP
#                            (STARTTLS), IMAP (STARTTLS on IMAP_PORT, implicit TLS
#                            on IMAPS_PORT); waits for every port
#   inject FROM TEXT [NAME]  a customer writes; prints the wamid once the API has it
#   imapc MODE ARGS...       imap/imap_client.py as the mail user (STARTTLS, CA verified)
#   smtplib ARGS...          smtp/send_smtplib.py send as the mail user (STARTTLS, AUTH PLAIN)
IMAP_PEER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SMTP_PEER_DIR=$(cd "$IMAP_PEER_DIR/../smtp" && pwd)
# shellcheck source=../smtp/lib_smtp.sh
source "$SMTP_PEER_DIR/lib_smtp.sh"

DOMAIN=wa.example.com
BIZ1=+15550100001
MAIL_USER=agent
MAIL_PASS=s3cret-pass

imap_installed() {
	local out
	if ! out=$(bash "$IMAP_PEER_DIR/install.sh" 2>&1); then
		echo "PEER FAIL $1"; echo "$out" | tail -5 | sed 's/^/    /'; exit 1
	fi
	echo "PEER PASS $1"
}

start_mail_daemon() {
	make_certs || { echo "PEER FAIL ${PEER:-imap}_certificates"; exit 1; }
	SMTP_PORT=$(free_port)
	IMAP_PORT=$(free_port)
	IMAPS_PORT=$(free_port)
	CA=$WORK/tls/ca.pem
	start_daemon "[mail]
domain = \"$DOMAIN\"
[[mail.users]]
username = \"$MAIL_USER\"
password = \"$MAIL_PASS\"
numbers = [\"$BIZ1\"]

[smtp]
listen = \"127.0.0.1:$SMTP_PORT\"
cert_file = \"$WORK/tls/cert.pem\"
key_file = \"$WORK/tls/key.pem\"

[imap]
listen = \"127.0.0.1:$IMAP_PORT\"
tls_listen = \"127.0.0.1:$IMAPS_PORT\"
cert_file = \"$WORK/tls/cert.pem\"
key_file = \"$WORK/tls/key.pem\"
allow_insecure_auth = false"
	local p
	for p in "$SMTP_PORT" "$IMAP_PORT" "$IMAPS_PORT"; do
		wait_port "$p" || { echo "PEER FAIL ${PEER:-imap}_listening"; echo "    nothing listens on $p"; tail -20 "$WORK/daemon.log"; exit 1; }
	done
}

# inject FROM TEXT [NAME]: the customer FROM writes TEXT to $BIZ1 (profile
# name NAME); wait until wabridge has the message (the API knows its wamid)
# and print the wamid.
inject() {
	local wamid code=""
	wamid=$(jq -cn --arg f "$1" --arg t "$BIZ1" --arg x "$2" --arg n "${3:-Sandbox Customer}" \
		'{from:$f, to:$t, text:$x, name:$n}' |
		curl -fsS "$SANDBOX/sandbox/v1/inbound" --data-binary @- | jq -r .wamid) || return 1
	for _ in $(seq 1 200); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages/$wamid")
		[ "$code" = 200 ] && { echo "$wamid"; return 0; }
		sleep 0.05
	done
	echo "inbound $wamid from $1: API answers $code" >&2; return 1
}

imapc() {
	local mode=$1; shift
	python3 "$IMAP_PEER_DIR/imap_client.py" "$mode" --port "$IMAP_PORT" --cafile "$CA" \
		--user "$MAIL_USER" --password "$MAIL_PASS" "$@"
}

smtplib() {
	python3 "$SMTP_PEER_DIR/send_smtplib.py" send --port "$SMTP_PORT" --cafile "$CA" \
		--user "$MAIL_USER" --password "$MAIL_PASS" --auth plain "$@"
}

# jqf FILE FILTER: FILTER holds for the JSON in FILE; else show the file
# (without the session preamble every imap_client.py result starts with).
jqf() {
	jq -e "$2" "$1" >/dev/null 2>&1 && return 0
	echo "want $2 in $(basename "$1"):"
	jq -c 'del(.caps_before_tls, .caps, .login, .starttls)' "$1" 2>/dev/null | cut -c1-2000 || cut -c1-2000 "$1"
	return 1
}

# mailjson FILE: one mail in a file (Maildir message, MDA output) as JSON:
# from_name, from_addr, message_id, in_reply_to, subject, text (decoded).
mailjson() {
	python3 - "$1" <<'PY'
import email, json, sys
from email import policy
with open(sys.argv[1], "rb") as f:
    m = email.message_from_binary_file(f, policy=policy.default)
a = m["From"].addresses[0] if m["From"] is not None and m["From"].addresses else None
b = m.get_body(preferencelist=("plain",))
json.dump({"from_name": a and a.display_name, "from_addr": a and a.addr_spec,
           "message_id": m["Message-ID"], "in_reply_to": m["In-Reply-To"], "subject": m["Subject"],
           "received": m.get_all("Received") or [],
           "text": b.get_content().replace("\r\n", "\n") if b is not None else None}, sys.stdout, ensure_ascii=False)
PY
}
