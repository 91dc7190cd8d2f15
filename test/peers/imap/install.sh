#!/usr/bin/env bash
# Install the IMAP peers (idempotent): Debian's isync (mbsync; with
# libsasl2-modules for its AUTHENTICATE PLAIN, a Recommends apt would skip
# here) and fetchmail, with curl (IMAP URLs), jq, openssl (test certificates)
# and python3 (imaplib and smtplib: imap/imap_client.py uses the standard
# library only).
# apt-get update runs at most once, and only when something is missing.
# Used by the IMAP peer scripts; .ci/run calls it too.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

IMAP_APT_PACKAGES=(isync libsasl2-modules fetchmail python3 openssl curl jq ca-certificates)
missing=()
for p in "${IMAP_APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
for tool in mbsync fetchmail python3 openssl curl jq; do
	command -v "$tool" >/dev/null || { echo "required tool $tool is missing"; exit 1; }
done
# Each tool must actually run (a broken install or missing library shows here,
# not as a confusing transcript later).
mbsync_v=$(mbsync --version 2>&1) || { echo "mbsync --version failed: $mbsync_v"; exit 1; }
# fetchmail warns about running as root on its first line; take the release line.
fetchmail_out=$(fetchmail --version 2>&1) || { echo "fetchmail --version failed:"; echo "$fetchmail_out" | head -5; exit 1; }
fetchmail_v=$(grep -o 'fetchmail release [^ ]*' <<<"$fetchmail_out") || { echo "fetchmail --version: no release line:"; echo "$fetchmail_out" | head -5; exit 1; }
fetchmail_v=${fetchmail_v%.}
# fetchmail's TLS needs OpenSSL compiled in (Debian's has it: "+SSL").
case $fetchmail_v in
*+SSL*) ;;
*) echo "fetchmail lacks SSL support: $fetchmail_v"; exit 1 ;;
esac
# mbsync's AUTHENTICATE PLAIN goes through Cyrus SASL's PLAIN plugin.
dpkg -L libsasl2-modules 2>/dev/null | grep '/sasl2/libplain[.]so' >/dev/null || { echo "SASL PLAIN plugin (libsasl2-modules) missing"; exit 1; }
curl --version | grep -w imaps >/dev/null || { echo "curl lacks IMAP(S) support"; exit 1; }
python3 -c 'import imaplib, smtplib, ssl' || { echo "python3 lacks imaplib/smtplib/ssl"; exit 1; }
echo "$mbsync_v, $fetchmail_v, $(openssl version | cut -d' ' -f1-2), $(python3 --version), curl $(curl --version | head -1 | cut -d' ' -f2)"
