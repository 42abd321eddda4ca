#!/usr/bin/env bash
# Ensures Debian's chromium is installed for the browser tests (never a
# browser downloaded by a test tool). Needs root or sudo for apt-get.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium.sh: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "chromium.sh: installed $(/usr/bin/chromium --version)"
