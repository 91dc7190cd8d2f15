#!/usr/bin/env bash
# Install the SMPP peers (idempotent): Debian's kannel with no service started
# by apt, and node-smpp exactly as package-lock.json pins it (npm ci).
# Used by .ci/run; the peer scripts call the same functions themselves.
source "$(dirname "$0")/lib_smpp.sh"
smpp_install_kannel || exit 1
smpp_install_node || exit 1
echo "kannel $(dpkg-query -W -f='${Version}' kannel), node $(node --version), smpp $(cd "$SMPP_DIR" && node -p 'require("smpp/package.json").version')"
