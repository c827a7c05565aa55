#!/usr/bin/env bash
# Makes sure `redis-server` exists for the grid's queue tests (they start their own server on a
# free loopback port and stop it after; nothing here starts a service). Elsewhere than Debian as
# root, says what to install and fails.
# Usage: scripts/ensure-redis.sh
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  redis-server --version
  exit 0
fi
. /etc/os-release
if [[ "${ID:-}" != debian || "$(id -u)" != 0 ]]; then
  echo "ensure-redis: redis-server is missing, and this is not Debian as root: install Redis (Debian/Ubuntu: apt-get install redis-server)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# the package's own service is not needed (the tests start private servers); leave it stopped
command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1 && systemctl disable --now redis-server >/dev/null 2>&1 || true
redis-server --version
