#!/usr/bin/env bash
# The SMTP peer figures for issue 9 ("Postfix (Debian) with smtp-source →
# smtp-sink: ≥ 2× its accept rate"). Three numbers, each a RESULT line:
#
#   1. smtp-source → smtp-sink: Postfix's test client against Postfix's test
#      server. smtp-sink answers every command at once and stores nothing (no
#      queue, no fsync): this is the raw SMTP protocol rate of the two test
#      tools on this machine — a ceiling, not a mail server's accept rate.
#   2. smtp-source → Postfix smtpd (relayhost = the sink): a real Postfix
#      (smtpd → cleanup → incoming queue file, fsynced before the 250; qmgr and
#      smtp then relay each message on to the sink) started from a minimal
#      main.cf on a loopback port. This is the durable peer: "its accept rate"
#      is this one, messages accepted per second, comparable with wabridge's
#      250 (committed with fsync before it answers).
#   3. wabload smtp -no-auth against the same smtpd (and the sink), so the
#      client is the same as in bench/mail/wabridge_smtp.sh (latency
#      percentiles, Postfix's CPU and RSS summed over its processes).
#
#   bench/mail/postfix.sh [SESSIONS [SIZE [MESSAGES [DURATION]]]]
# SESSIONS parallel sessions (smtp-source -s, wabload -sessions), SIZE body
# bytes (smtp-source -l, wabload -size), MESSAGES per smtp-source run against
# smtpd (-m, with -d: many messages per connection; ten times as many against
# the sink), DURATION for the wabload runs.
# Environment: WABLOAD_BIN (else ./cmd/wabload is built), KEEP=1.
# shellcheck source=bench/mail/lib.sh
source "$(dirname "$0")/lib.sh"
SESSIONS=${1:-8}
SIZE=${2:-512}
MESSAGES=${3:-10000}
DURATION=${4:-10s}

# Postfix unconfigured (no main.cf, nothing started by apt).
if ! command -v smtp-source >/dev/null || ! command -v smtp-sink >/dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get install -y -qq --no-install-recommends postfix >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends postfix >/dev/null; }
fi
PF_VERSION=$(postconf -d -h mail_version)

now() { date +%s.%N; }

# source_run NAME HOST:PORT [MESSAGES]: time smtp-source and print a RESULT line.
source_run() {
	local name=$1 addr=$2 n=${3:-$MESSAGES} t0 t1 out
	t0=$(now)
	out=$(smtp-source -s "$SESSIONS" -m "$n" -l "$SIZE" -d -N \
		-f bench@localhost -t rcpt@remote.example -M bench.localhost "$addr" 2>&1) ||
		{ echo "smtp-source against $name failed: $out" >&2; return 1; }
	t1=$(now)
	python3 - "$name" "$t0" "$t1" "$n" "$SESSIONS" "$SIZE" "$PF_VERSION" "$out" <<'PY'
import json, sys
name, t0, t1, n, s, size, ver, out = sys.argv[1:]
el = float(t1) - float(t0)
r = {"scenario": "smtp", "settings": {"peer": name, "client": "smtp-source -d -N", "postfix": ver,
     "sessions": s, "size": size, "loop": "closed"},
     "ops": int(n), "elapsed_ns": int(el * 1e9), "throughput_per_s": int(n) / el}
if out.strip():
    r["notes"] = [out.strip()[-300:]]
print("== %s: %s messages, %s sessions, %s-byte bodies in %.2fs: %.0f/s" % (name, n, s, size, el, int(n) / el))
print("RESULT " + json.dumps(r))
PY
}

# 1. smtp-source → smtp-sink.
SINK_PORT=$(free_port)
smtp-sink -u postfix -m 1024 "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_port "$SINK_PORT"
# The sink is fast: ten times the messages, so the run lasts long enough to time.
source_run "smtp-source→smtp-sink" "127.0.0.1:$SINK_PORT" $((MESSAGES * 10))
wabload smtp -addr "127.0.0.1:$SINK_PORT" -no-auth -sessions "$SESSIONS" -size "$SIZE" -duration "$DURATION" \
	-from bench@localhost -to-domain remote.example -pid "$SINK_PID" \
	-settings peer=smtp-sink -settings "postfix=$PF_VERSION" -settings "what=raw SMTP, nothing stored"

# 2. A real Postfix: smtpd on a loopback port, queue in $WORK, relaying to the sink.
PF=$WORK/postfix
PF_PORT=$(free_port)
mkdir -p "$PF/conf" "$PF/queue" "$PF/data"
# Postfix's daemons run as the postfix user: they must reach the directories.
chmod 755 "$WORK" "$PF"
chown postfix "$PF/data"
cat >"$PF/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.localhost
mydomain = localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
alias_maps =
alias_database =
local_recipient_maps =
smtpd_tls_security_level = none
smtp_tls_security_level = none
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 200
CF
# Debian's master.cf without chroot (the queue directory has no chroot
# files), its smtp listener moved to the loopback port.
awk -v port="$PF_PORT" '
	/^#/ || /^[ \t]/ || NF < 8 { print; next }
	$1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
	{ $5 = "n"; print }
' /usr/share/postfix/master.cf.dist >"$PF/conf/master.cf"
# postfix reports fatal errors on syslog, or on a terminal: script(1) gives it one.
script -q -e -c "postfix -c $PF/conf check" /dev/null >&2 || { echo "postfix check failed" >&2; exit 1; }
script -q -e -c "postfix -c $PF/conf start" /dev/null >&2 || { echo "postfix start failed" >&2; exit 1; }
stop_postfix() { postfix -c "$PF/conf" stop >/dev/null 2>&1 || true; }
trap 'stop_postfix; cleanup' EXIT
wait_port "$PF_PORT"
MASTER_PID=$(tr -d ' ' <"$PF/queue/pid/master.pid")
echo "postfix $PF_VERSION master pid $MASTER_PID on 127.0.0.1:$PF_PORT (queue $PF/queue, relay to the sink)" >&2

source_run "smtp-source→postfix-smtpd(queue, fsync)" "127.0.0.1:$PF_PORT"
wabload smtp -addr "127.0.0.1:$PF_PORT" -no-auth -sessions "$SESSIONS" -size "$SIZE" -duration "$DURATION" \
	-from bench@localhost -to-domain remote.example -pid "$MASTER_PID" -pid-tree \
	-settings peer=postfix-smtpd -settings "postfix=$PF_VERSION" \
	-settings "what=accepted into the fsynced queue (relayed on to smtp-sink)"
sleep 1
echo "postfix queue left: $(find "$PF/queue/incoming" "$PF/queue/active" "$PF/queue/deferred" -type f 2>/dev/null | wc -l) files; deferred/bounced in maillog: $(grep -c -E 'status=(deferred|bounced)' "$PF/maillog" 2>/dev/null || true)" >&2
