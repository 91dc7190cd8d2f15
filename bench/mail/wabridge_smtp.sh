#!/usr/bin/env bash
# wabridge's SMTP submission rate: wabridge (embedded sandbox as WhatsApp) on
# loopback, a mail user owning +15550100001, AUTH PLAIN without TLS
# (allow_insecure_auth, loopback only); `wabload smtp` with S sessions, each
# submitting message after message over one connection to distinct
# recipients. Every mail's text is the sandbox's approved template
# order_update ("Your order {{1}} has shipped and arrives on {{2}}.") with the
# order number padded to SIZE bytes, so each recipient (no open window) gets
# the template: the full path, not a refusal. A 250 means committed (fsynced
# group commit: the message, its outbox job and the Sent copy). After the
# run wabload waits until the sandbox has received every accepted mail and
# reports how long the outbox took to drain (and the daemon's CPU per mail
# then includes sending it).
#
#   bench/mail/wabridge_smtp.sh [SESSIONS [SIZE [DURATION [RATE]]]]
# Environment: WABRIDGE_BIN, WABLOAD_BIN (else both are built), KEEP=1.
# Prints wabload's report (ending in a RESULT {json} line).
# shellcheck source=bench/mail/lib.sh
source "$(dirname "$0")/lib.sh"
SESSIONS=${1:-8}
SIZE=${2:-512}
DURATION=${3:-10s}
RATE=${4:-0}

start_wabridge ""
echo "wabridge pid $PID, smtp $SMTP_ADDR" >&2
wabload smtp -addr "$SMTP_ADDR" -user "$MAIL_USER" -password "$MAIL_PASS" \
	-sessions "$SESSIONS" -size "$SIZE" -duration "$DURATION" -rate "$RATE" \
	-text "Your order %s has shipped and arrives on Monday." \
	-to-domain "$MAIL_DOMAIN" -to-base +4915100000000 -from "$MAIL_USER@localhost" -from-header "${BIZ#+}@$MAIL_DOMAIN" \
	-drain "$SANDBOX_URL" -pid "$PID" -settings peer=wabridge -settings "what=SMTP AUTH submission committed (fsync) to the outbox"
pprof_report
