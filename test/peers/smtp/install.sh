#!/usr/bin/env bash
# Install the SMTP peers (idempotent): Debian's swaks with the Perl TLS
# modules it needs for STARTTLS (PEERS.md), and openssl for the test
# certificate. Python's smtplib (send_smtplib.py) is in the standard library.
# apt-get update runs at most once, and only when something is missing.
# Used by the SMTP peer scripts; .ci/run may call it too.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SMTP_APT_PACKAGES=(swaks libnet-ssleay-perl libio-socket-ssl-perl openssl)
missing=()
for p in "${SMTP_APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
for tool in swaks openssl python3; do
	command -v "$tool" >/dev/null || { echo "required tool $tool is missing"; exit 1; }
done
# swaks does STARTTLS only with these two Perl modules; say so here rather
# than as a confusing transcript later.
perl -MNet::SSLeay -MIO::Socket::SSL -e 1 || { echo "swaks: Perl TLS modules missing"; exit 1; }
echo "swaks $(dpkg-query -W -f='${Version}' swaks), $(openssl version | cut -d' ' -f1-2), $(python3 --version)"
