#!/usr/bin/env bash
# Makes sure redis-server and redis-cli are on PATH: the tests and benchmarks start their
# own Redis processes from them. Installs them with apt-get when it can (root + apt-get),
# otherwise says what to install. Quiet when both are present.
set -euo pipefail

have_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

have_redis && exit 0

if [ "${EUID:-$(id -u)}" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-redis: installing redis-server and redis-tools with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server redis-tools >/dev/null
  have_redis && exit 0
  echo "ensure-redis: redis-server or redis-cli still not on PATH after the install" >&2
  exit 1
fi

printf '%s\n' >&2 \
  'ensure-redis: redis-server and redis-cli (Redis 7+) must be on PATH; the tests start their own servers.' \
  '  Debian/Ubuntu: sudo apt-get install redis-server redis-tools' \
  '  macOS:         brew install redis' \
  '  Or run this script as root on a machine with apt-get.'
exit 1
