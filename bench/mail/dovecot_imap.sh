#!/usr/bin/env bash
# The IMAP peer for issue 9 ("≥ Dovecot's commands/s at ≤ half its memory"):
# Dovecot (Debian dovecot-imapd) on a loopback port, a passwd-file user, a
# Maildir seeded by APPEND with SEED messages shaped like wabridge's (From the
# customer, "WhatsApp from …" subject, short text), then the same
# `wabload imap` as bench/mail/wabridge_imap.sh: CLIENTS clients, the same
# command mix, DURATION; the IDLE probe by APPEND (APPEND → "* N EXISTS").
# Memory: wabload -pid-tree sums VmRSS (and PSS) over the dovecot master and
# every descendant (anvil, log, config, auth, imap-login, one imap process
# per client), sampled at the end of the run while every client is still
# connected. RSS double-counts shared pages (libraries) across Dovecot's
# processes; PSS shares them out: both are printed.
#
#   bench/mail/dovecot_imap.sh [CLIENTS [SEED [DURATION [IDLERS [PUSH_RATE]]]]]
# Environment: WABLOAD_BIN (else ./cmd/wabload is built), IDLE_ONLY=N (also hold
# N idle connections), KEEP=1.
# shellcheck source=bench/mail/lib.sh
source "$(dirname "$0")/lib.sh"
CLIENTS=${1:-200}
SEED=${2:-1000}
DURATION=${3:-10s}
IDLERS=${4:-1}
PUSH_RATE=${5:-5}

if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/imap ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null; }
fi
MAX=$((CLIENTS + IDLERS + ${IDLE_ONLY:-0} + 64))
if [ -n "${IDLE_ONLY:-}" ]; then
	ulimit -n $((IDLE_ONLY * 3 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

DV=$WORK/dovecot
PORT=$(free_port)
mkdir -p "$DV/run" "$DV/state" "$DV/home"
chmod 755 "$WORK" "$DV"
chown nobody:nogroup "$DV/home"
echo "$MAIL_USER:{PLAIN}$MAIL_PASS::::::" >"$DV/users"
cat >"$DV/dovecot.conf" <<CONF
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
default_process_limit = $MAX
default_client_limit = $((MAX * 2))
default_vsz_limit = 1G
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DV/home/%u
}
protocol imap {
  mail_max_userip_connections = $MAX
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $PORT
  }
  inet_listener imaps {
    port = 0
  }
  process_limit = $MAX
}
service imap {
  process_limit = $MAX
}
CONF
dovecot -F -c "$DV/dovecot.conf" >"$DV/stdout.log" 2>&1 &
DOVECOT_PID=$!
PIDS+=("$DOVECOT_PID")
wait_port "$PORT" || { cat "$DV/stdout.log" "$DV/dovecot.log" >&2; exit 1; }
echo "dovecot $(dovecot --version) master pid $DOVECOT_PID on 127.0.0.1:$PORT" >&2

common=(-addr "127.0.0.1:$PORT" -user "$MAIL_USER" -password "$MAIL_PASS" -pid "$DOVECOT_PID" -pid-tree
	-settings peer=dovecot -settings "dovecot=$(dovecot --version | cut -d' ' -f1)")
wabload imap "${common[@]}" -clients "$CLIENTS" -seed "$SEED" -duration "$DURATION" \
	-idle-clients "$IDLERS" -push-rate "$PUSH_RATE"
if [ -n "${IDLE_ONLY:-}" ]; then
	wabload imap "${common[@]}" -idle-only -clients "$IDLE_ONLY" -duration "$DURATION"
fi
