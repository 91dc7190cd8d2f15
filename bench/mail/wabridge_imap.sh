#!/usr/bin/env bash
# wabridge's IMAP: wabridge (embedded sandbox) on loopback with a mail user
# owning +15550100001, LOGIN without TLS (allow_insecure_auth, loopback only).
#   1. INBOX seeded with SEED customer messages (signed Meta inbound webhooks,
#      each delivered into the mailbox by wabridge's inbound job);
#   2. `wabload imap`: CLIENTS clients LOGIN + SELECT INBOX once, then run the
#      command mix (NOOP, UID SEARCH ALL, UID FETCH of the newest 10: FLAGS and
#      BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)], STATUS) flat out for DURATION;
#      meanwhile IDLERS clients IDLE and a signed webhook arrives PUSH_RATE
#      times a second: series idle_push is webhook POST → "* N EXISTS".
#   3. with IDLE_ONLY=N (e.g. 10000): N connections LOGIN, SELECT, IDLE, held
#      for DURATION; how many are held, wabridge's RSS before and after.
#
#   bench/mail/wabridge_imap.sh [CLIENTS [SEED [DURATION [IDLERS [PUSH_RATE]]]]]
# Environment: WABRIDGE_BIN, WABLOAD_BIN (else both are built), IDLE_ONLY, KEEP=1,
# IMAP_EXTRA (lines added to [imap]).
# shellcheck source=bench/mail/lib.sh
source "$(dirname "$0")/lib.sh"
CLIENTS=${1:-200}
SEED=${2:-1000}
DURATION=${3:-10s}
IDLERS=${4:-1}
PUSH_RATE=${5:-5}

if [ -n "${IDLE_ONLY:-}" ]; then
	# Each connection is a descriptor on both sides.
	ulimit -n $((IDLE_ONLY * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
start_wabridge "${IMAP_EXTRA:-}" # e.g. IMAP_EXTRA="busy_sessions = 4"
echo "wabridge pid $PID, imap $IMAP_ADDR" >&2
common=(-addr "$IMAP_ADDR" -user "$MAIL_USER" -password "$MAIL_PASS" -pid "$PID" -settings peer=wabridge)
wabload imap "${common[@]}" -clients "$CLIENTS" -seed "$SEED" -duration "$DURATION" \
	-idle-clients "$IDLERS" -push-rate "$PUSH_RATE" -webhook-url "$WEBHOOK_URL"
if [ -n "${IDLE_ONLY:-}" ]; then
	wabload imap "${common[@]}" -idle-only -clients "$IDLE_ONLY" -duration "$DURATION"
fi
pprof_report
