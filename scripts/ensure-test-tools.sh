#!/usr/bin/env bash
# Makes sure the tools the end-to-end tests drive are on PATH: Debian's `chromium` (the dashboard
# page test drives it headless through playwright-core) and `promtool` (from Debian's
# `prometheus` package: the demo's /metrics output is checked by the real Prometheus parser).
# Installs them with apt-get when it can (root + apt-get), otherwise says what to install.
# Quiet when both are present.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "${EUID:-$(id -u)}" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-tools: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  command -v chromium >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && exit 0
  echo "ensure-test-tools: chromium or promtool still not on PATH after the install" >&2
  exit 1
fi

printf '%s\n' >&2 \
  "ensure-test-tools: the end-to-end tests need chromium and promtool on PATH (missing: ${missing[*]})." \
  '  Debian/Ubuntu: sudo apt-get install chromium prometheus' \
  '  Or run this script as root on a machine with apt-get.'
exit 1
